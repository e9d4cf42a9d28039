"""DDA: self-hosted defect detection for factory visual inspection."""

__version__ = "0.1.0"
