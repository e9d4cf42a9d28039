"""Cheap image statistics for the drift alarm: brightness and sharpness on a subsampled grey image."""

from __future__ import annotations

import numpy as np

MAX_SIDE = 256


def image_stats(image: np.ndarray) -> tuple[float, float]:
    """(mean brightness 0-255, sharpness = variance of the 4-neighbour Laplacian) of an RGB image,
    on at most ~256 pixels a side (strided, no resize: well under a millisecond)."""
    height, width = image.shape[:2]
    step = max(1, max(height, width) // MAX_SIDE)
    small = image[::step, ::step]
    grey = small.astype(np.float32).mean(axis=2) if small.ndim == 3 else small.astype(np.float32)
    brightness = float(grey.mean())
    if grey.shape[0] < 3 or grey.shape[1] < 3:
        return brightness, 0.0
    lap = grey[1:-1, :-2] + grey[1:-1, 2:] + grey[:-2, 1:-1] + grey[2:, 1:-1] - 4.0 * grey[1:-1, 1:-1]
    return brightness, float(lap.var())
