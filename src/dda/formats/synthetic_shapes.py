"""Drawing helpers for the synthetic generator: noise fields, blobs, random-walk lines.

Everything is numpy float32 in 0..1 (images HxWx3, fields HxW) and every random choice comes from
the ``numpy.random.Generator`` passed in, so a seed reproduces an image exactly.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw

Field = NDArray[np.float32]
Mask = NDArray[np.bool_]
Point = tuple[float, float]  # (x, y) in pixels


def value_noise(rng: np.random.Generator, shape: tuple[int, int], cell: float) -> Field:
    """Smooth noise in -1..1 whose features are about ``cell`` pixels wide."""
    height, width = shape
    grid_h = max(2, math.ceil(height / max(cell, 1.0)) + 2)
    grid_w = max(2, math.ceil(width / max(cell, 1.0)) + 2)
    grid = rng.uniform(-1.0, 1.0, size=(grid_h, grid_w)).astype(np.float32)
    image = Image.fromarray(grid, mode="F").resize((width, height), Image.Resampling.BICUBIC)
    return np.asarray(image, dtype=np.float32).clip(-1.0, 1.0)


def fractal_noise(
    rng: np.random.Generator, shape: tuple[int, int], cell: float, octaves: int = 4, gain: float = 0.5
) -> Field:
    """Sum of value-noise octaves (cell halves, amplitude times ``gain``), normalised to about -1..1."""
    total = np.zeros(shape, dtype=np.float32)
    amplitude, norm = 1.0, 0.0
    for _ in range(octaves):
        total += amplitude * value_noise(rng, shape, cell)
        norm += amplitude
        amplitude *= gain
        cell = max(cell / 2.0, 1.0)
    return total / np.float32(norm)


def streak_noise(rng: np.random.Generator, shape: tuple[int, int], along_x: bool, length: float) -> Field:
    """Noise stretched along one axis: brushed metal, wood grain, fabric threads."""
    height, width = shape
    if along_x:
        small = rng.uniform(-1, 1, size=(height, max(2, int(width / length)))).astype(np.float32)
    else:
        small = rng.uniform(-1, 1, size=(max(2, int(height / length)), width)).astype(np.float32)
    image = Image.fromarray(small, mode="F").resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.float32)


def coords(shape: tuple[int, int]) -> tuple[Field, Field]:
    """Pixel-centre x and y grids."""
    height, width = shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return xs + 0.5, ys + 0.5


def blur(field: Field, sigma: float) -> Field:
    """Separable Gaussian blur with edge padding (Pillow cannot blur float images)."""
    half = max(1, math.ceil(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-half, half + 1, dtype=np.float32) / np.float32(sigma)) ** 2)
    taps /= taps.sum()
    out = field.astype(np.float32)
    for axis in (0, 1):
        padded = np.pad(out, [(half, half) if a == axis else (0, 0) for a in (0, 1)], mode="edge")
        length = out.shape[axis]
        out = sum(
            (w * np.take(padded, np.arange(i, i + length), axis=axis) for i, w in enumerate(taps)),
            np.zeros_like(out),
        )
    return out


def _canvas(shape: tuple[int, int]) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    image = Image.new("L", (shape[1], shape[0]), 0)
    return image, ImageDraw.Draw(image)


def polygon_mask(shape: tuple[int, int], points: list[Point]) -> Mask:
    image, draw = _canvas(shape)
    draw.polygon(points, fill=255)
    return np.asarray(image) > 127


def polyline_mask(shape: tuple[int, int], lines: list[list[Point]], width: int) -> Mask:
    image, draw = _canvas(shape)
    for points in lines:
        if len(points) >= 2:
            draw.line(points, fill=255, width=max(1, width), joint="curve")
    return np.asarray(image) > 127


def blob_points(
    rng: np.random.Generator, center: Point, radius: float, roughness: float = 0.25, aspect: float = 1.0
) -> list[Point]:
    """An irregular closed outline around ``center``: a noisy, possibly stretched, rotated ellipse."""
    vertices = 28
    angles = np.linspace(0.0, 2 * math.pi, vertices, endpoint=False)
    harmonics = sum(
        rng.uniform(0, roughness / k) * np.cos(k * angles + rng.uniform(0, 2 * math.pi)) for k in range(2, 6)
    )
    radii = radius * (1.0 + harmonics + rng.normal(0, roughness * 0.15, vertices))
    tilt = rng.uniform(0, math.pi)
    points: list[Point] = []
    for angle, r in zip(angles, radii, strict=True):
        x, y = r * math.cos(angle) * aspect, r * math.sin(angle) / aspect
        points.append(
            (
                center[0] + x * math.cos(tilt) - y * math.sin(tilt),
                center[1] + x * math.sin(tilt) + y * math.cos(tilt),
            )
        )
    return points


def random_walk(
    rng: np.random.Generator, start: Point, heading: float, length: float, step: float, wiggle: float
) -> list[Point]:
    """A path of about ``length`` pixels whose heading drifts by ``wiggle`` radians per step."""
    points = [start]
    x, y = start
    for _ in range(max(2, int(length / step))):
        heading += rng.normal(0.0, wiggle)
        x, y = x + step * math.cos(heading), y + step * math.sin(heading)
        points.append((x, y))
    return points


def mix(
    image: Field, mask: Mask, color: NDArray[np.float32] | tuple[float, float, float], amount: float
) -> None:
    """Blend ``color`` into ``image`` where ``mask`` is set, in place."""
    target = np.asarray(color, dtype=np.float32)
    image[mask] = image[mask] * (1.0 - amount) + target * amount
