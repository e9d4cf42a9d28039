"""Defect-free product scenes for the synthetic generator.

A :class:`Scene` keeps the layers apart (background, product surface, product coverage ``alpha``)
so a "missing piece" defect can cut the product before the layers are composited: the shadow and
the revealed background then follow the broken outline, as they would in a photo.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dda.formats.synthetic_shapes import (
    Field,
    Point,
    blob_points,
    blur,
    coords,
    fractal_noise,
    polygon_mask,
    streak_noise,
    value_noise,
)

Color = tuple[float, float, float]


@dataclass
class Scene:
    """Layers of one product photo before defects. Images are HxWx3 float32 in 0..1."""

    background: Field
    surface: Field
    alpha: Field  # product coverage 0..1 (anti-aliased edge)
    center: Point
    radius: float  # characteristic product size in pixels
    shadow: float  # drop-shadow strength (0: none)
    crack_darkness: tuple[float, float]
    spot_color: Color
    scratch_color: Color
    defect_scale: float = 1.0  # multiplies the size of every defect drawn on this scene

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.alpha.shape[0]), int(self.alpha.shape[1])


def _rgb(base: Color, field: Field) -> Field:
    return np.asarray(base, dtype=np.float32)[None, None, :] * field[..., None]


def _jitter(rng: np.random.Generator, color: Color, amount: float) -> Color:
    gain = rng.uniform(1 - amount, 1 + amount)
    r, g, b = (c * gain * rng.uniform(1 - amount / 2, 1 + amount / 2) for c in color)
    return (r, g, b)


def _surface_background(rng: np.random.Generator, shape: tuple[int, int], palette: list[Color]) -> Field:
    size = min(shape)
    base = palette[int(rng.integers(len(palette)))]
    shade = 1.0 + 0.05 * fractal_noise(rng, shape, size / 5, 3) + 0.015 * value_noise(rng, shape, 1.5)
    xs, ys = coords(shape)
    cx, cy = shape[1] / 2, shape[0] / 2
    vignette = 1.0 - 0.18 * (((xs - cx) ** 2 + (ys - cy) ** 2) / (cx**2 + cy**2))
    return _rgb(_jitter(rng, base, 0.06), (shade * vignette).astype(np.float32))


def cookie_scene(rng: np.random.Generator, shape: tuple[int, int]) -> Scene:
    """A round baked good with chocolate chips on parchment, a tray or a board."""
    height, width = shape
    size = min(shape)
    palette: list[Color] = [(0.93, 0.9, 0.84), (0.62, 0.64, 0.67), (0.56, 0.42, 0.28)]
    background = _surface_background(rng, shape, palette)
    cx, cy = width / 2 + rng.normal(0, 0.035 * width), height / 2 + rng.normal(0, 0.035 * height)
    radius = size * rng.uniform(0.31, 0.38)
    xs, ys = coords(shape)
    dx, dy = xs - cx, ys - cy
    dist = np.hypot(dx, dy)
    theta = np.arctan2(dy, dx)
    wobble = sum(
        rng.uniform(0, 0.05 / k) * np.cos(k * theta + rng.uniform(0, 2 * math.pi)) for k in range(2, 8)
    )
    edge = radius * (1.0 + wobble)
    alpha = np.clip(edge - dist + 0.5, 0.0, 1.0).astype(np.float32)
    rel = np.clip(dist / edge, 0.0, 1.0)
    light_angle = rng.uniform(0, 2 * math.pi)
    light = 1.0 + 0.12 * (dx * math.cos(light_angle) + dy * math.sin(light_angle)) / radius
    dome = 1.0 + 0.07 * (1.0 - rel**2)
    browned = 1.0 - 0.3 * np.clip((rel - 0.72) / 0.28, 0, 1) ** 2
    texture = 1.0 + 0.11 * fractal_noise(rng, shape, size / 9, 5)
    pores = np.where(value_noise(rng, shape, max(1.5, size / 110)) > 0.72, 0.86, 1.0)
    shade = (texture * pores * browned * dome * light).astype(np.float32)
    surface = _rgb(_jitter(rng, (0.8, 0.58, 0.33), 0.08), shade)
    _add_chips(rng, surface, shape, (cx, cy), radius)
    return Scene(
        background,
        surface,
        alpha,
        (cx, cy),
        radius,
        0.35,
        (0.32, 0.55),
        (0.13, 0.08, 0.05),
        (0.95, 0.85, 0.7),
    )


def _add_chips(
    rng: np.random.Generator, surface: Field, shape: tuple[int, int], center: Point, radius: float
) -> None:
    size = min(shape)
    for _ in range(int(rng.integers(5, 14))):
        angle, reach = rng.uniform(0, 2 * math.pi), radius * math.sqrt(rng.uniform(0, 0.72))
        at = (center[0] + reach * math.cos(angle), center[1] + reach * math.sin(angle))
        chip = polygon_mask(
            shape, blob_points(rng, at, size * rng.uniform(0.018, 0.04), 0.3, rng.uniform(0.8, 1.3))
        )
        color = np.asarray(_jitter(rng, (0.24, 0.14, 0.08), 0.15), dtype=np.float32)
        surface[chip] = color * (0.85 + 0.3 * rng.random((int(chip.sum()), 1), dtype=np.float32))
        glint = polygon_mask(shape, blob_points(rng, (at[0] - 1.5, at[1] - 1.5), size * 0.006, 0.2))
        surface[glint & chip] = np.minimum(surface[glint & chip] * 1.9, 1.0)


def texture_scene(rng: np.random.Generator, shape: tuple[int, int], variant: int | None = None) -> Scene:
    """A textured surface filling the frame: woven fabric, wood grain or stone (``variant`` 0, 1, 2
    forces one; the random draws are the same either way)."""
    height, width = shape
    size = min(shape)
    xs, ys = coords(shape)
    kind = int(rng.integers(3))
    kind = kind if variant is None else int(variant)
    angle = rng.uniform(-0.25, 0.25)
    u = xs * math.cos(angle) + ys * math.sin(angle)
    v = -xs * math.sin(angle) + ys * math.cos(angle)
    shade: NDArray[np.floating[Any]]
    if kind == 0:  # woven fabric
        period = size / rng.uniform(28, 45)
        weave = np.sin(2 * math.pi * u / period) * np.sin(2 * math.pi * v / period)
        threads = 0.5 * streak_noise(rng, shape, True, 12) + 0.5 * streak_noise(rng, shape, False, 12)
        shade = 0.9 + 0.1 * weave + 0.05 * threads
        colour = int(rng.integers(3)) if variant is None else (int(rng.integers(3)) * 0)
        base = _jitter(rng, [(0.35, 0.42, 0.58), (0.62, 0.58, 0.5), (0.5, 0.2, 0.2)][colour], 0.1)
    elif kind == 1:  # wood grain
        warp = 14.0 * fractal_noise(rng, shape, size / 3, 3)
        rings = np.sin(2 * math.pi * (v + warp) / (size / rng.uniform(9, 16)))
        shade = 0.88 + 0.08 * rings + 0.05 * streak_noise(rng, shape, True, 25)
        base = _jitter(rng, (0.72, 0.52, 0.32), 0.1)
    else:  # stone / concrete
        shade = 0.9 + 0.12 * fractal_noise(rng, shape, size / 6, 6)
        shade = np.where(value_noise(rng, shape, 2.0) > 0.8, shade * 0.8, shade)
        base = _jitter(rng, (0.66, 0.65, 0.62), 0.08)
    shade = shade * (1.0 + 0.06 * value_noise(rng, shape, size / 2))
    surface = _rgb(base, shade.astype(np.float32))
    backing = _rgb((0.07, 0.06, 0.06), (1.0 + 0.2 * value_noise(rng, shape, 3)).astype(np.float32))
    alpha = np.ones(shape, dtype=np.float32)
    return Scene(
        backing,
        surface,
        alpha,
        (width / 2, height / 2),
        size / 2,
        0.0,
        (0.3, 0.5),
        _jitter(rng, (0.3, 0.22, 0.12), 0.2),
        (0.93, 0.92, 0.88),
    )


def metal_scene(rng: np.random.Generator, shape: tuple[int, int], variant: int | None = None) -> Scene:
    """A machined metal part (plate with drilled holes, or a washer) on a dark belt (``variant`` 0:
    always a plate, 1: always a washer)."""
    size = min(shape)
    background = _surface_background(rng, shape, [(0.2, 0.2, 0.21), (0.13, 0.14, 0.16)])
    background *= (1.0 + 0.08 * streak_noise(rng, shape, True, 30))[..., None]
    height, width = shape
    cx, cy = width / 2 + rng.normal(0, 0.03 * width), height / 2 + rng.normal(0, 0.03 * height)
    xs, ys = coords(shape)
    angle = rng.uniform(-0.2, 0.2)
    u = (xs - cx) * math.cos(angle) + (ys - cy) * math.sin(angle)
    v = -(xs - cx) * math.sin(angle) + (ys - cy) * math.cos(angle)
    plate = rng.random() < 0.5 if variant is None else variant == 0
    if plate:
        alpha, radius = _plate(rng, u, v, size)
    else:
        alpha, radius = _washer(rng, u, v, size)
    band = rng.uniform(-0.6, 0.6) * radius
    specular = 1.0 + 0.28 * np.exp(-((((u * 0.8 + v * 0.6) - band) / (0.35 * radius)) ** 2))
    brushed = 1.0 + 0.05 * streak_noise(rng, shape, True, 40) + 0.015 * value_noise(rng, shape, 1.2)
    bevel = np.clip(alpha - blur(alpha, max(1.0, size / 120)), 0, 1)
    shade = (specular * brushed * (1.0 + 0.5 * bevel)).astype(np.float32)
    surface = _rgb(_jitter(rng, (0.66, 0.68, 0.72), 0.08), shade)
    return Scene(
        background,
        np.clip(surface, 0, 1),
        alpha,
        (cx, cy),
        radius,
        0.25,
        (0.3, 0.5),
        _jitter(rng, (0.55, 0.27, 0.1), 0.15),
        (0.97, 0.97, 0.97),
    )


def _plate(rng: np.random.Generator, u: Field, v: Field, size: int) -> tuple[Field, float]:
    half_w, half_h = size * rng.uniform(0.3, 0.38), size * rng.uniform(0.22, 0.3)
    corner = size * rng.uniform(0.03, 0.07)
    qx, qy = np.abs(u) - half_w + corner, np.abs(v) - half_h + corner
    outside = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0)) + np.minimum(np.maximum(qx, qy), 0) - corner
    alpha = np.clip(0.5 - outside, 0, 1)
    hole = size * rng.uniform(0.03, 0.045)
    inset_x, inset_y = half_w - 2.2 * hole, half_h - 2.2 * hole
    for sx, sy in ((-1, -1), (1, -1), (-1, 1), (1, 1)):
        alpha = alpha * np.clip(np.hypot(u - sx * inset_x, v - sy * inset_y) - hole + 0.5, 0, 1)
    return alpha.astype(np.float32), float(min(half_w, half_h))


def _washer(rng: np.random.Generator, u: Field, v: Field, size: int) -> tuple[Field, float]:
    outer = size * rng.uniform(0.3, 0.38)
    inner = outer * rng.uniform(0.32, 0.48)
    dist = np.hypot(u, v)
    alpha = np.clip(outer - dist + 0.5, 0, 1) * np.clip(dist - inner + 0.5, 0, 1)
    return alpha.astype(np.float32), float(outer)


def pill_scene(rng: np.random.Generator, shape: tuple[int, int], variant: int | None = None) -> Scene:
    """A glossy two-tone capsule (or a round tablet) on a tray: small, bright, smooth. ``variant``
    fixes one product (0: a red and yellow capsule on the light tray) instead of a mix."""
    size = min(shape)
    trays: list[Color] = [(0.82, 0.84, 0.87), (0.25, 0.3, 0.36)]
    background = _surface_background(rng, shape, trays if variant is None else trays[:1])
    height, width = shape
    cx, cy = width / 2 + rng.normal(0, 0.04 * width), height / 2 + rng.normal(0, 0.04 * height)
    xs, ys = coords(shape)
    angle = rng.uniform(0, math.pi)
    u = (xs - cx) * math.cos(angle) + (ys - cy) * math.sin(angle)
    v = -(xs - cx) * math.sin(angle) + (ys - cy) * math.cos(angle)
    radius = size * rng.uniform(0.13, 0.17)
    capsule = rng.random() < 0.7 or variant is not None
    half_length = radius * (rng.uniform(1.4, 2.0) if capsule else 0.0)  # 0: round tablet
    dist = np.hypot(np.maximum(np.abs(u) - half_length, 0.0), v)
    alpha = np.clip(radius - dist + 0.5, 0.0, 1.0).astype(np.float32)
    palette: list[Color] = [(0.85, 0.2, 0.2), (0.95, 0.75, 0.2), (0.25, 0.45, 0.85), (0.93, 0.93, 0.9)]
    first, second = (palette[int(i)] for i in rng.choice(len(palette), size=2, replace=False))
    if variant is not None:
        first, second = palette[0], palette[1]
    colors = np.where((u < 0)[..., None], np.asarray(_jitter(rng, first, 0.05), np.float32),
                      np.asarray(_jitter(rng, second, 0.05), np.float32))  # fmt: skip
    gloss = 1.0 + 0.35 * np.exp(-(((v + 0.45 * radius) / (0.22 * radius)) ** 2))
    rounding = 1.0 - 0.25 * np.clip(dist / max(radius, 1.0), 0, 1) ** 3
    shade = (gloss * rounding * (1.0 + 0.02 * value_noise(rng, shape, 2.0))).astype(np.float32)
    surface = np.clip(colors * shade[..., None], 0, 1).astype(np.float32)
    return Scene(
        background, surface, alpha, (cx, cy), float(radius + half_length / 2), 0.3, (0.35, 0.55),
        _jitter(rng, (0.35, 0.25, 0.15), 0.2), (0.98, 0.98, 0.98),
    )  # fmt: skip


def composite(scene: Scene) -> NDArray[np.float32]:
    """Background with the product's drop shadow, then the product over it."""
    alpha = scene.alpha
    background = scene.background
    if scene.shadow > 0:
        offset = max(1, int(min(scene.shape) / 60))
        shifted = np.zeros_like(alpha)
        shifted[offset:, offset:] = alpha[:-offset, :-offset]
        shadow = blur(shifted, max(1.0, min(scene.shape) / 45))
        background = background * (1.0 - scene.shadow * shadow)[..., None]
    out: NDArray[np.float32] = (
        background * (1.0 - alpha[..., None]) + scene.surface * alpha[..., None]
    ).astype(np.float32)
    return out
