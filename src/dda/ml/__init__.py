"""Machine learning: backbones, training, evaluation and export (no web framework here)."""
