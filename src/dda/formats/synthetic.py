"""Synthetic defect images with exact masks, for demos, unit tests and the station's test camera.

Products: ``cookie`` (round baked goods), ``texture`` (fabric, wood, stone surfaces), ``metal``
(machined plates and washers) and ``pill`` (small glossy capsules and tablets). A ``defect_scale``
shrinks or grows every defect; :data:`SYNTHETIC_FAMILIES` names the product families the quality
benchmark runs on, which differ in texture, shape, colour and defect size. Defects: ``crack``,
``spot``, ``scratch``, ``missing`` (a broken-off piece or a hole); each product has the defects
that make sense for it. Normal images vary too (position, size, colour, lighting, chips, grain),
so a model has to learn the defect, not the scene.

Everything is deterministic: :func:`render_sample` draws only from the generator passed in, and
:func:`generate_synthetic_dataset` seeds image ``i`` with ``(seed, i)``.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from tqdm import tqdm

from dda.core.errors import InvalidInput
from dda.formats.dataset import ANOMALY_CLASS, NORMAL_CLASS, Dataset, Sample
from dda.formats.masks import BACKGROUND, save_class_mask
from dda.formats.synthetic_defects import cut_missing, min_pixels, paint_crack, paint_scratch, paint_spot
from dda.formats.synthetic_products import (
    Scene,
    composite,
    cookie_scene,
    metal_scene,
    pill_scene,
    texture_scene,
)
from dda.formats.synthetic_shapes import Field, Mask
from dda.formats.writers import write_dda_manifest, write_groundtruth_manifest

GT_MANIFEST_NAME = "groundtruth.manifest"
DDA_MANIFEST_NAME = "dda.manifest"
MAX_SIDE = 4096
MIN_SIDE = 32


class SyntheticProduct(StrEnum):
    COOKIE = "cookie"
    TEXTURE = "texture"
    METAL = "metal"
    PILL = "pill"


PRODUCT_DEFECTS: dict[SyntheticProduct, tuple[str, ...]] = {
    SyntheticProduct.COOKIE: ("crack", "spot", "missing"),
    SyntheticProduct.TEXTURE: ("crack", "spot", "scratch", "missing"),
    SyntheticProduct.METAL: ("scratch", "spot", "crack", "missing"),
    SyntheticProduct.PILL: ("crack", "spot", "missing"),
}
# name -> (product, variant, defect scale): one product each (as on a line), differing in texture,
# shape, colour and defect size.
SYNTHETIC_FAMILIES: dict[str, tuple[SyntheticProduct, int | None, float]] = {
    "cookie": (SyntheticProduct.COOKIE, None, 1.0),  # round, brown, busy texture (chips)
    "wood": (SyntheticProduct.TEXTURE, 1, 1.0),  # frame-filling wood grain, no outline
    "fabric": (SyntheticProduct.TEXTURE, 0, 1.0),  # fine periodic weave
    "washer": (SyntheticProduct.METAL, 1, 1.0),  # grey brushed ring, specular
    "pill": (SyntheticProduct.PILL, 0, 1.0),  # small, glossy red/yellow capsule, any orientation
    "washer-fine": (SyntheticProduct.METAL, 1, 0.5),  # the washers with half-size defects
}
_SCENES: dict[SyntheticProduct, Callable[..., Scene]] = {
    SyntheticProduct.COOKIE: cookie_scene,
    SyntheticProduct.TEXTURE: texture_scene,
    SyntheticProduct.METAL: metal_scene,
    SyntheticProduct.PILL: pill_scene,
}
_PAINTERS: dict[str, Callable[[np.random.Generator, Scene, Field], Mask]] = {
    "crack": paint_crack,
    "spot": paint_spot,
    "scratch": paint_scratch,
}


def as_product(product: SyntheticProduct | str) -> SyntheticProduct:
    try:
        return SyntheticProduct(str(product).lower())
    except ValueError:
        known = ", ".join(p.value for p in SyntheticProduct)
        raise InvalidInput(f"unknown synthetic product {product!r}", hint=f"choose one of: {known}") from None


def product_mask_classes(product: SyntheticProduct | str) -> list[str]:
    """Mask class names of a product: ``["background", *its defects]`` (ids are list indices)."""
    return [BACKGROUND, *PRODUCT_DEFECTS[as_product(product)]]


def render_sample(
    rng: np.random.Generator,
    product: SyntheticProduct | str,
    defect: bool,
    size: tuple[int, int] = (256, 256),
    defect_scale: float = 1.0,
    variant: int | None = None,
) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """One photo: (image uint8 HxWx3, mask uint8 HxW of :func:`product_mask_classes` ids).

    A defective image has one defect, sometimes two of different kinds; a normal one has an
    all-zero mask.
    """
    product = as_product(product)
    shape = _check_size(size)
    class_ids = {name: index for index, name in enumerate(product_mask_classes(product))}
    scene = _SCENES[product](rng, shape) if variant is None else _SCENES[product](rng, shape, variant)
    scene.defect_scale = float(defect_scale)
    mask = np.zeros(shape, dtype=np.uint8)
    kinds: list[str] = []
    if defect:
        count = 1 if rng.random() < 0.75 else 2
        kinds = [str(k) for k in rng.choice(PRODUCT_DEFECTS[product], size=count, replace=False)]
    if "missing" in kinds:
        mask[_retry(lambda: cut_missing(rng, scene), scene)] = class_ids["missing"]
    image = composite(scene)
    for kind in kinds:
        if kind != "missing":
            painted = _retry(lambda kind=kind: _PAINTERS[kind](rng, scene, image), scene)  # type: ignore[misc]
            mask[painted] = class_ids[kind]
    return _finish(rng, image), mask


def _retry(draw: Callable[[], Mask], scene: Scene, attempts: int = 6) -> Mask:
    """Draw until the defect is large enough to see (a crack clipped by the outline may not be)."""
    mask = draw()
    for _ in range(attempts - 1):
        if int(mask.sum()) >= min_pixels(scene):
            break
        mask = mask | draw()
    return mask


def _finish(rng: np.random.Generator, image: Field) -> NDArray[np.uint8]:
    """Camera effects on the whole frame: exposure, white balance, sensor noise."""
    gain = rng.uniform(0.9, 1.1) * rng.uniform(0.97, 1.03, size=3).astype(np.float32)
    noisy = image * gain + rng.normal(0.0, 0.012, size=image.shape).astype(np.float32)
    return np.clip(noisy * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    height, width = (int(v) for v in size)
    if not (MIN_SIDE <= height <= MAX_SIDE and MIN_SIDE <= width <= MAX_SIDE):
        raise InvalidInput(
            f"image size {height}x{width} is out of range",
            hint=f"use sides between {MIN_SIDE} and {MAX_SIDE} pixels",
        )
    return height, width


def generate_synthetic_dataset(
    out_dir: Path | str,
    count: int = 20,
    product: SyntheticProduct | str = SyntheticProduct.COOKIE,
    seed: int = 0,
    size: tuple[int, int] = (256, 256),
    anomaly_ratio: float = 0.5,
    *,
    write_dda: bool = False,
    image_format: str = "png",
    progress: bool | None = None,
    defect_scale: float = 1.0,
    variant: int | None = None,
) -> Path:
    """Write ``count`` images, their masks and a Ground Truth manifest; return the manifest path.

    Layout: ``images/<product>-NNNN.<fmt>``, ``masks/<product>-NNNN.png`` (palette PNGs whose
    indices are class ids), ``groundtruth.manifest`` (classification job + segmentation job) and,
    with ``write_dda``, ``dda.manifest``. Exactly ``round(count * anomaly_ratio)`` images are
    defective.
    """
    product = as_product(product)
    _check_size(size)
    if count < 1 or count > 1_000_000:
        raise InvalidInput(f"count {count} is out of range", hint="ask for 1 to 1000000 images")
    if not 0.2 <= defect_scale <= 3.0:
        raise InvalidInput(f"defect scale {defect_scale} is out of range", hint="use 0.2 to 3.0")
    if not 0.0 <= anomaly_ratio <= 1.0:
        raise InvalidInput(f"anomaly ratio {anomaly_ratio} is not in 0..1", hint="e.g. --anomaly-ratio 0.3")
    suffix = {"png": "png", "jpg": "jpg", "jpeg": "jpg"}.get(image_format.lower())
    if suffix is None:
        raise InvalidInput(f"image format {image_format!r} is not supported", hint="use png or jpg")
    out = Path(out_dir)
    defective = set(np.random.default_rng(seed).permutation(count)[: round(count * anomaly_ratio)].tolist())
    classes = product_mask_classes(product)
    samples: list[Sample] = []
    for index in tqdm(
        range(count),
        desc=f"synthesising {product.value}",
        unit="img",
        disable=None if progress is None else not progress,
    ):
        image, mask = render_sample(
            np.random.default_rng([seed, index]), product, index in defective, size, defect_scale, variant
        )
        name = f"{product.value}-{index:04d}"
        image_path = out / "images" / f"{name}.{suffix}"
        image_path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(image_path, quality=92)  # quality: JPEG only, PNG ignores it
        mask_path = save_class_mask(mask, out / "masks" / f"{name}.png", len(classes))
        samples.append(
            Sample(
                image_path,
                int(index in defective),
                mask_path,
                source_ref=str(image_path),
                line_number=index + 1,
            )
        )
    dataset = Dataset(samples, [NORMAL_CLASS, ANOMALY_CLASS], classes, name=f"synthetic-{product.value}")
    manifest = write_groundtruth_manifest(dataset, out / GT_MANIFEST_NAME, job=f"synthetic-{product.value}")
    if write_dda:
        write_dda_manifest(dataset, out / DDA_MANIFEST_NAME)
    return manifest


def generate_family(
    out_dir: Path | str, family: str, count: int = 60, seed: int = 0, size: tuple[int, int] = (192, 192)
) -> Path:
    """A data set of one of :data:`SYNTHETIC_FAMILIES` (half defective); returns the manifest path."""
    if family not in SYNTHETIC_FAMILIES:
        raise InvalidInput(
            f"unknown family {family!r}", hint=f"choose one of {', '.join(SYNTHETIC_FAMILIES)}"
        )
    product, variant, scale = SYNTHETIC_FAMILIES[family]
    return generate_synthetic_dataset(
        out_dir, count=count, product=product, seed=seed, size=size, defect_scale=scale,
        variant=variant, progress=False,
    )  # fmt: skip
