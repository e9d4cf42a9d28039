"""The synthetic generator: deterministic, exact masks, every product and defect, valid manifests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dda.core.errors import InvalidInput
from dda.formats.loader import load_dataset
from dda.formats.synthetic import (
    PRODUCT_DEFECTS,
    SyntheticProduct,
    generate_synthetic_dataset,
    product_mask_classes,
    render_sample,
)
from dda.formats.synthetic_defects import cut_missing, paint_crack, paint_scratch, paint_spot, solid
from dda.formats.synthetic_products import composite, cookie_scene, metal_scene, texture_scene
from dda.formats.validate import validate_manifest
from tests.formats.conftest import mask_ids

SCENES = {"cookie": cookie_scene, "texture": texture_scene, "metal": metal_scene}


@pytest.mark.parametrize("product", list(SyntheticProduct))
def test_render_is_deterministic_and_seed_dependent(product: SyntheticProduct) -> None:
    first = render_sample(np.random.default_rng(5), product, True, (64, 80))
    again = render_sample(np.random.default_rng(5), product, True, (64, 80))
    other = render_sample(np.random.default_rng(6), product, True, (64, 80))
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    assert not np.array_equal(first[0], other[0])
    image, mask = first
    assert image.shape == (64, 80, 3) and image.dtype == np.uint8
    assert mask.shape == (64, 80) and mask.dtype == np.uint8


@pytest.mark.parametrize("product", list(SyntheticProduct))
def test_defective_images_have_masks_of_the_products_classes_and_normal_ones_none(
    product: SyntheticProduct,
) -> None:
    classes = product_mask_classes(product)
    seen: set[int] = set()
    for seed in range(12):
        _, normal = render_sample(np.random.default_rng([seed, 0]), product, False, (96, 96))
        assert not normal.any()
        _, defect = render_sample(np.random.default_rng([seed, 1]), product, True, (96, 96))
        assert int((defect > 0).sum()) >= 5
        seen |= set(np.unique(defect).tolist()) - {0}
    assert seen <= set(range(1, len(classes)))
    assert len(seen) >= 2  # several defect kinds show up over a dozen images


@pytest.mark.parametrize("product", ["cookie", "texture", "metal"])
@pytest.mark.parametrize("painter", [paint_crack, paint_spot, paint_scratch])
def test_each_painted_defect_changes_exactly_its_mask(product: str, painter: object) -> None:
    for seed in range(3):
        rng = np.random.default_rng(seed)
        scene = SCENES[product](rng, (96, 112))
        image = composite(scene)
        before = image.copy()
        mask = painter(rng, scene, image)  # type: ignore[operator]
        changed = np.any(np.abs(image - before) > 1e-6, axis=-1)
        assert mask.any()
        assert np.array_equal(changed, mask)
        assert not (mask & ~solid(scene)).any()  # only on the product
        # Visible: the defect moves the pixels by a few percent of the range on average.
        assert float(np.abs(image - before)[mask].mean()) > 0.03


@pytest.mark.parametrize("product", ["cookie", "texture", "metal"])
def test_missing_piece_removes_exactly_its_mask(product: str) -> None:
    rng = np.random.default_rng(2)
    scene = SCENES[product](rng, (96, 112))
    intact = composite(scene)
    had = solid(scene)
    removed = cut_missing(rng, scene)
    assert removed.any()
    assert np.array_equal(removed, had & ~solid(scene))
    broken = composite(scene)
    assert np.abs(broken - intact)[removed].mean() > 0.05


def test_dataset_generation_writes_a_valid_manifest(tmp_path: Path) -> None:
    manifest = generate_synthetic_dataset(
        tmp_path / "set",
        count=10,
        product="texture",
        seed=4,
        size=(64, 72),
        anomaly_ratio=0.3,
        write_dda=True,
        image_format="jpg",
        progress=False,
    )
    assert manifest == tmp_path / "set" / "groundtruth.manifest"
    report = validate_manifest(manifest, progress=False)
    assert report.ok and report.problems.items == []
    dataset = load_dataset(tmp_path / "set" / "dda.manifest", progress=False)
    assert dataset.count_by_label() == {"normal": 7, "anomaly": 3}
    assert dataset.mask_class_names == product_mask_classes("texture")
    for sample in dataset.samples:
        with Image.open(sample.image_path) as image:
            assert image.size == (72, 64) and image.format == "JPEG"
        assert (sample.mask_path is not None) == (sample.label == 1)
        if sample.mask_path is not None:
            assert mask_ids(sample).shape == (64, 72)


def test_image_i_does_not_depend_on_count(tmp_path: Path) -> None:
    a = generate_synthetic_dataset(
        tmp_path / "a", count=3, seed=9, size=(48, 48), anomaly_ratio=0, progress=False
    )
    b = generate_synthetic_dataset(
        tmp_path / "b", count=5, seed=9, size=(48, 48), anomaly_ratio=0, progress=False
    )
    for name in ("cookie-0000.png", "cookie-0002.png"):
        assert (a.parent / "images" / name).read_bytes() == (b.parent / "images" / name).read_bytes()


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="unknown synthetic product"):
        render_sample(np.random.default_rng(0), "pretzel", True)
    with pytest.raises(InvalidInput, match="out of range"):
        render_sample(np.random.default_rng(0), "cookie", True, (8, 8))
    for kwargs in ({"count": 0}, {"anomaly_ratio": 1.5}, {"image_format": "gif"}):
        with pytest.raises(InvalidInput):
            generate_synthetic_dataset(tmp_path, **kwargs)


def test_every_product_lists_its_defects() -> None:
    assert set(PRODUCT_DEFECTS) == set(SyntheticProduct)
    assert product_mask_classes("cookie") == ["background", "crack", "spot", "missing"]
    assert "scratch" in product_mask_classes(SyntheticProduct.METAL)


@pytest.mark.parametrize("painter", [paint_crack, paint_spot])
def test_defects_keep_their_share_of_the_frame_at_any_resolution(painter: object) -> None:
    """A defect is sized to the image, so it is as visible at a model's ~200-pixel input whether
    the camera takes 144 or 576 rows."""
    shares = {}
    for rows in (144, 576):
        shape = (rows, rows * 4 // 3)
        areas = []
        for seed in range(4):
            rng = np.random.default_rng(seed)
            scene = cookie_scene(rng, shape)
            mask = painter(rng, scene, composite(scene))  # type: ignore[operator]
            areas.append(int(mask.sum()) / (shape[0] * shape[1]))
        shares[rows] = float(np.mean(areas))
    assert 0.6 < shares[144] / shares[576] < 1.6


def test_product_families_differ_and_defect_scale_shrinks_defects(tmp_path: Path) -> None:
    from dda.formats.synthetic import SYNTHETIC_FAMILIES, generate_family, render_sample

    assert len(SYNTHETIC_FAMILIES) >= 5
    means = {}
    for family in ("pill", "wood", "washer"):
        manifest = generate_family(tmp_path / family, family, count=4, seed=1, size=(64, 64))
        assert manifest.is_file()
        product, variant, scale = SYNTHETIC_FAMILIES[family]
        image, _ = render_sample(np.random.default_rng(0), product, False, (64, 64), scale, variant)
        means[family] = image.reshape(-1, 3).mean(axis=0)
    assert np.abs(means["pill"] - means["wood"]).max() > 10  # different colour and texture
    areas = {}
    for scale in (1.0, 0.5):
        total = 0
        for seed in range(6):
            _, mask = render_sample(np.random.default_rng(seed), "metal", True, (128, 128), scale, 1)
            total += int((mask > 0).sum())
        areas[scale] = total
    assert areas[0.5] < areas[1.0]
