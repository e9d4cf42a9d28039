"""Honest quality measurement: k-fold splits, thresholds from a false-reject budget and the
cross-validated benchmark harness behind ``dda benchmark``."""
