"""Training end to end on a tiny synthetic task: light discs, some with a dark crack (and its mask).

Small on purpose (64x64 input, a few epochs) so the suite stays cheap on a 2-core machine; the
checks are about learning at all and about the run's outputs, never about speed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from dda.core.errors import InvalidInput
from dda.formats.dataset import Dataset, Sample
from dda.ml.artifact import load_artifact
from dda.ml.augment import NO_AUGMENT, AugmentConfig, augment_batch
from dda.ml.data import IGNORE_INDEX, DefectImageDataset, resize_mask, stratified_split
from dda.ml.training import TrainOptions, train_model
from dda.ml.training.checkpoint import read_checkpoint

FAST = {"input_size": (64, 64), "batch_size": 8, "epochs": 3, "patience": 5}


def make_disc_dataset(root: Path, n_per_class: int = 8, size: int = 80, seed: int = 0) -> Dataset:
    """Discs on a dark background; every other one has a dark crack, drawn into its mask too."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    samples = []
    for i in range(2 * n_per_class):
        defect = i % 2 == 1
        image = Image.new("RGB", (size, size), tuple(int(v) for v in rng.integers(20, 60, 3)))
        draw = ImageDraw.Draw(image)
        radius = size * rng.uniform(0.32, 0.4)
        cx, cy = size / 2 + rng.uniform(-4, 4, 2)
        fill = (int(rng.integers(190, 230)), int(rng.integers(150, 180)), 90)
        draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=fill)
        mask_path = None
        if defect:
            points = [
                (cx + rng.uniform(-0.7, 0.7) * radius, cy + rng.uniform(-0.7, 0.7) * radius) for _ in range(3)
            ]
            draw.line(points, fill=(30, 20, 10), width=5)
            mask = Image.new("L", (size, size), 0)
            ImageDraw.Draw(mask).line(points, fill=1, width=5)
            mask_path = root / f"mask{i:03d}.png"
            mask.save(mask_path)
        path = root / f"img{i:03d}.png"
        image.save(path)
        samples.append(Sample(path, int(defect), mask_path))
    return Dataset(samples, ["normal", "anomaly"], ["background", "crack"], "discs")


@pytest.fixture
def discs(tmp_path: Path) -> Dataset:
    return make_disc_dataset(tmp_path / "discs")


def test_stratified_split_is_seeded_and_keeps_each_class_on_both_sides() -> None:
    labels = [0] * 10 + [1] * 5 + [2] * 2
    train, val = stratified_split(labels, 0.2, seed=3)
    assert stratified_split(labels, 0.2, seed=3) == (train, val)
    assert stratified_split(labels, 0.2, seed=4) != (train, val)
    assert sorted(train + val) == list(range(len(labels)))
    for label in (0, 1, 2):
        assert any(labels[i] == label for i in train) and any(labels[i] == label for i in val)
    with pytest.raises(InvalidInput):
        stratified_split(labels, 1.5, seed=0)


def test_resized_mask_keeps_a_thin_crack() -> None:
    mask = np.zeros((300, 300), dtype=np.uint8)
    mask[:, 150:152] = 1  # two pixels wide, shrunk 5x below
    small = resize_mask(mask, (60, 60), 2)
    assert small[:, 30].eq(1).all()
    assert int(small.sum()) == 60


def test_augmentation_moves_masks_with_their_images() -> None:
    """A geometric warp must carry the labelled pixels along: the bright square stays labelled."""
    images = torch.zeros(4, 3, 48, 64)
    masks = torch.zeros(4, 48, 64, dtype=torch.long)
    images[:, :, 10:30, 20:44] = 1.0
    masks[:, 10:30, 20:44] = 1
    geometry_only = AugmentConfig(brightness=0.0, contrast=0.0, saturation=0.0, rotate_deg=25.0)
    out, out_masks = augment_batch(images, masks, torch.Generator().manual_seed(1), geometry_only)
    assert out_masks is not None
    labelled = out_masks == 1
    bright = out.mean(dim=1) > 0.5
    agreement = (labelled == bright).float().mean()
    assert agreement > 0.97
    assert not torch.equal(out_masks, masks)  # something actually moved
    same, same_masks = augment_batch(images, masks, torch.Generator().manual_seed(1), NO_AUGMENT)
    assert torch.allclose(same, images, atol=1e-5) and torch.equal(same_masks, masks)  # type: ignore[arg-type]


def test_dataset_loads_masks_and_marks_unlabelled_defects(discs: Dataset) -> None:
    samples = list(discs.samples)
    samples[1] = Sample(samples[1].image_path, 1, None)  # a defect image without its mask
    data = DefectImageDataset(
        Dataset(samples, discs.class_names, discs.mask_class_names),
        (64, 64),
        (0.5,) * 3,
        (0.25,) * 3,
        with_masks=True,
    )
    assert data.images.shape == (16, 3, 64, 64) and data.masks is not None
    assert bool((data.masks[0] == 0).all())  # normal image: all background
    assert bool((data.masks[1] == IGNORE_INDEX).all())  # unknown where the defect is
    assert int((data.masks[3] == 1).sum()) > 20
    image, label, mask = data[3]
    assert label == 1 and image.shape == (3, 64, 64) and mask.shape == (64, 64)


@pytest.mark.slow
def test_classification_learns_the_synthetic_task(discs: Dataset, tmp_path: Path) -> None:
    epochs: list[dict] = []
    result = train_model(
        discs,
        "classification",
        tmp_path / "cls.tar.gz",
        options=TrainOptions(**FAST),
        progress=False,
        on_epoch_end=epochs.append,
    )
    assert len(epochs) == result.epochs_run == 3
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.metrics["image"]["accuracy"] >= 0.75  # chance is 0.5
    assert result.metrics["image"]["auroc"] >= 0.75
    assert not result.interrupted
    trained = load_artifact(result.artifact_path)
    assert trained.config["model_type"] == "classification"
    assert {"training_curves", "confusion_matrix", "examples", "roc_curve", "pr_curve"} <= set(trained.plots)
    assert trained.plots["examples"].startswith(b"\x89PNG")
    assert result.checkpoint_path is not None and read_checkpoint(result.checkpoint_path)["completed"]


@pytest.mark.slow
def test_segmentation_learns_masks_and_picks_a_verdict_rule(discs: Dataset, tmp_path: Path) -> None:
    result = train_model(
        discs,
        "segmentation",
        tmp_path / "seg.tar.gz",
        options=TrainOptions(**{**FAST, "epochs": 4}),
        progress=False,
    )
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.metrics["image"]["accuracy"] >= 0.75
    pixel = result.metrics["pixel"]
    assert pixel["pixel_auroc"] > 0.8  # crack pixels score above background pixels
    assert result.config["verdict_rule"] in ("cls_head", "seg_head", "cls_and_seg", "cls_or_seg")
    assert set(result.metrics["verdict_rules"]) == {"cls_head", "seg_head", "cls_and_seg", "cls_or_seg"}
    assert result.config["pixel_threshold"] == result.config["threshold"]
    assert load_artifact(result.artifact_path).config["mask_class_names"] == ["background", "crack"]


@pytest.mark.slow
def test_anomaly_type_trains_on_normal_images_and_calibrates(discs: Dataset, tmp_path: Path) -> None:
    result = train_model(
        discs,
        "anomaly",
        tmp_path / "anomaly.tar.gz",
        options=TrainOptions(input_size=(64, 64), method="padim"),
        progress=False,
    )
    config = result.config
    assert config["method"] == "padim" and config["class_names"] == ["normal", "anomaly"]
    assert config["threshold_report"]["rule"] == "budget" and "good parts" in config["threshold_how"]
    assert result.metrics["image"]["auroc"] is not None
    trained = load_artifact(result.artifact_path)
    scores, amap = trained.module(torch.zeros(1, 3, 64, 64))
    assert scores.shape == (1,) and amap.shape == (1, 64, 64)


@pytest.mark.slow
def test_keyboard_interrupt_keeps_the_best_model(discs: Dataset, tmp_path: Path) -> None:
    """Ctrl-C in the second epoch: the run ends early, and checkpoint and artifact both load."""

    def interrupt(epoch: int, batch: int, loss: float) -> None:
        if epoch == 2:
            raise KeyboardInterrupt

    out = tmp_path / "cls.tar.gz"
    result = train_model(
        discs,
        "classification",
        out,
        options=TrainOptions(**{**FAST, "epochs": 5}),
        progress=False,
        on_batch_end=interrupt,
    )
    assert result.interrupted and "KeyboardInterrupt" in result.stop_reason
    assert result.epochs_run == 1 and result.best_epoch == 1
    assert load_artifact(out).config["completed"] is False
    assert result.checkpoint_path is not None
    from_checkpoint = load_artifact(result.checkpoint_path)
    assert from_checkpoint.config["model_type"] == "classification"
    torch.testing.assert_close(
        from_checkpoint.module.state_dict()["head.1.weight"],
        load_artifact(out).module.state_dict()["head.1.weight"],
    )


@pytest.mark.slow
def test_a_caller_can_cancel_a_run_from_another_thread(discs: Dataset, tmp_path: Path) -> None:
    """The portal's worker thread has no signal handlers; it cancels through the stop object."""
    import threading

    from dda.ml.training import GracefulStop

    stop = GracefulStop(announce=False)
    results: list = []

    def cancel_after_first_epoch(record: dict) -> None:
        stop.request("cancelled by user")

    def work() -> None:
        results.append(
            train_model(
                discs, "classification", tmp_path / "cls.tar.gz", options=TrainOptions(**FAST),
                progress=False, on_epoch_end=cancel_after_first_epoch, stop=stop,
            )
        )  # fmt: skip

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(timeout=600)
    assert results and results[0].interrupted and results[0].epochs_run == 1
    assert results[0].stop_reason == "interrupted (cancelled by user)"
    assert load_artifact(tmp_path / "cls.tar.gz").config["completed"] is False


@pytest.mark.slow
def test_resume_continues_after_the_last_finished_epoch(discs: Dataset, tmp_path: Path) -> None:
    out = tmp_path / "cls.tar.gz"

    def interrupt(epoch: int, batch: int, loss: float) -> None:
        if epoch == 2:
            raise KeyboardInterrupt

    options = TrainOptions(**{**FAST, "epochs": 3})
    first = train_model(discs, "classification", out, options=options, progress=False, on_batch_end=interrupt)
    assert first.checkpoint_path is not None and not read_checkpoint(first.checkpoint_path)["completed"]
    resumed = train_model(
        discs, "classification", out, options=options.model_copy(update={"resume": True}), progress=False
    )
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3]
    assert resumed.epochs_run == 3 and not resumed.interrupted


def test_datasets_that_cannot_train_are_refused_with_a_fix(discs: Dataset, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="at least 4"):
        train_model(Dataset(discs.samples[:3]), "classification", tmp_path / "m.tar.gz", progress=False)
    only_normal = Dataset([s for s in discs.samples if s.label == 0])
    with pytest.raises(InvalidInput, match="two classes") as excinfo:
        train_model(only_normal, "classification", tmp_path / "m.tar.gz", progress=False)
    assert "anomaly" in (excinfo.value.hint or "")
    no_masks = Dataset([Sample(s.image_path, s.label) for s in discs.samples])
    with pytest.raises(InvalidInput, match="masks"):
        train_model(no_masks, "segmentation", tmp_path / "m.tar.gz", progress=False)
    with pytest.raises(InvalidInput, match="model type"):
        train_model(discs, "detection", tmp_path / "m.tar.gz", progress=False)


def test_pixel_threshold_is_the_level_that_best_outlines_labelled_defects() -> None:
    from dda.ml.training.evaluate import calibrate_pixel_threshold

    rng = np.random.default_rng(0)
    masks = np.zeros((6, 32, 32), dtype=np.int64)
    masks[:3, 8:16, 8:16] = 1
    maps = rng.uniform(0.0, 1.0, masks.shape)  # background noise below 1
    maps[masks == 1] += 1.5  # defects between 1.5 and 2.5
    threshold, how = calibrate_pixel_threshold(maps, masks, fallback=9.0)
    assert 0.99 <= threshold < 1.5 and "Dice" in how
    masks[3] = IGNORE_INDEX  # images without a known mask are left out, not counted as background
    assert calibrate_pixel_threshold(maps, masks, fallback=9.0)[0] < 1.5
    assert calibrate_pixel_threshold(maps, None, fallback=9.0)[0] == 9.0
    assert calibrate_pixel_threshold(maps, np.zeros_like(masks), fallback=9.0)[0] == 9.0
