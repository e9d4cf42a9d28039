"""Defects for the synthetic generator, each returning the exact set of pixels it changed.

"missing" cuts the product's coverage before compositing (the background shows through);
cracks, spots and scratches paint on the composited image, only where the product is.
"""

from __future__ import annotations

import math

import numpy as np

from dda.formats.synthetic_products import Scene
from dda.formats.synthetic_shapes import (
    Field,
    Mask,
    Point,
    blob_points,
    blur,
    mix,
    polygon_mask,
    polyline_mask,
    random_walk,
    value_noise,
)

MIN_DEFECT_FRACTION = 0.0006  # of the image area; smaller draws are retried
SPOT_EDGE = 0.12  # blend weight below which a spot's soft rim leaves the pixel unchanged


def solid(scene: Scene) -> Mask:
    return scene.alpha >= 0.5


def _pick(rng: np.random.Generator, where: Mask) -> Point:
    ys, xs = np.nonzero(where)
    index = int(rng.integers(len(xs)))
    return float(xs[index]) + 0.5, float(ys[index]) + 0.5


def _inner(scene: Scene) -> Mask:
    """Product pixels away from the outline, so a defect starting there stays on the product."""
    return scene.alpha >= 0.999


def _edge(scene: Scene) -> Mask:
    inside = solid(scene)
    eroded = inside.copy()
    eroded[1:, :] &= inside[:-1, :]
    eroded[:-1, :] &= inside[1:, :]
    eroded[:, 1:] &= inside[:, :-1]
    eroded[:, :-1] &= inside[:, 1:]
    return inside & ~eroded


def min_pixels(scene: Scene) -> int:
    height, width = scene.shape
    return max(8, int(MIN_DEFECT_FRACTION * min(1.0, scene.defect_scale) ** 2 * height * width))


def cut_missing(rng: np.random.Generator, scene: Scene) -> Mask:
    """Break a piece off the product (or punch a hole in a surface); returns the removed pixels."""
    size = min(scene.shape)
    if scene.shadow > 0:  # a product with an outline: bite into it from the edge
        at = _pick(rng, _edge(scene))
        away = math.atan2(at[1] - scene.center[1], at[0] - scene.center[0])
        reach = (
            scene.radius * rng.uniform(0.2, 0.34) * scene.defect_scale
        )  # a bite a camera on the line can see
        push = reach * rng.uniform(0.0, 0.35)
        center = (at[0] + push * math.cos(away), at[1] + push * math.sin(away))
        outline = blob_points(rng, center, reach, roughness=0.22)
    else:  # a surface: a hole through it
        outline = blob_points(
            rng, _pick(rng, _inner(scene)), size * rng.uniform(0.035, 0.08) * scene.defect_scale, 0.3
        )
    cut = polygon_mask(scene.shape, outline)
    removed = solid(scene) & cut
    scene.alpha = np.where(cut, 0.0, scene.alpha).astype(np.float32)
    return removed


def paint_crack(rng: np.random.Generator, scene: Scene, image: Field) -> Mask:
    """A jagged dark fissure, often from the edge inwards, sometimes branching.

    About 1.2-2.2 % of the image's short side wide (7-13 pixels at 576 rows), like the gaps of
    real broken cookies, so it stays two to four pixels wide at a model's ~200-pixel input. The
    gap is darkest along its middle, as a split shows shadow rather than a drawn line.
    """
    size = min(scene.shape)
    from_edge = scene.shadow > 0 and rng.random() < 0.7
    start = _pick(rng, _edge(scene) if from_edge else _inner(scene))
    heading = (
        math.atan2(scene.center[1] - start[1], scene.center[0] - start[0])
        if from_edge
        else rng.uniform(0, 2 * math.pi)
    )
    heading += rng.normal(0, 0.35)
    length = scene.radius * rng.uniform(0.5, 0.95) * scene.defect_scale
    step = max(2.0, size / 80)
    main = random_walk(rng, start, heading, length, step, 0.35)
    lines = [main]
    if rng.random() < 0.5:
        fork = main[len(main) // 2]
        lines.append(
            random_walk(
                rng,
                fork,
                heading + rng.choice([-1, 1]) * rng.uniform(0.5, 1.1),
                length * rng.uniform(0.25, 0.5),
                step,
                0.4,
            )
        )
    width = max(1, round(size * rng.uniform(0.012, 0.022) * min(1.0, scene.defect_scale)))
    mask = polyline_mask(scene.shape, lines, width) & solid(scene)
    core = polyline_mask(scene.shape, lines, max(1, width // 2)) & mask
    darkness = np.float32(rng.uniform(*scene.crack_darkness))
    image[mask] *= darkness
    image[core] *= np.float32(0.75)
    return mask


def paint_spot(rng: np.random.Generator, scene: Scene, image: Field) -> Mask:
    """A stain / burn / corrosion blob that keeps some of the texture under it.

    Larger than a cookie's chocolate chips (5-8.5 % of the short side in radius, chips are at most
    4 %) and soft-edged, dense in the middle and fading out, where a chip is a sharp-edged lump:
    a model can tell the two apart at its input size, as an inspector can.
    """
    size = min(scene.shape)
    radius = size * rng.uniform(0.05, 0.085) * scene.defect_scale
    outline = blob_points(rng, _pick(rng, _inner(scene)), radius, 0.3, rng.uniform(0.75, 1.33))
    blob = polygon_mask(scene.shape, outline).astype(np.float32)
    weight = blur(blob, max(1.0, radius / 4)) * float(rng.uniform(0.75, 0.95))
    mask = (weight > SPOT_EDGE) & solid(scene)
    target = np.asarray(scene.spot_color, dtype=np.float32)
    amount = weight[mask][:, None]
    image[mask] = image[mask] * (1.0 - amount) + target * amount
    mottle = 1.0 + 0.12 * value_noise(rng, scene.shape, max(1.5, size / 60))
    image[mask] *= mottle[mask][:, None]
    return mask


def paint_scratch(rng: np.random.Generator, scene: Scene, image: Field) -> Mask:
    """A long, thin, nearly straight bright line."""
    size = min(scene.shape)
    line = random_walk(
        rng,
        _pick(rng, _inner(scene)),
        rng.uniform(0, 2 * math.pi),
        scene.radius * rng.uniform(0.5, 1.1) * scene.defect_scale,
        max(2.0, size / 100),
        0.025,
    )
    width = max(1, round(size / 256 * rng.uniform(1.0, 2.2)))
    mask = polyline_mask(scene.shape, [line], width) & solid(scene)
    mix(image, mask, scene.scratch_color, float(rng.uniform(0.35, 0.7)))
    return mask
