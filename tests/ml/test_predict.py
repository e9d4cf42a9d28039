"""Verdict rules and single-image prediction with the torch model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dda.ml.artifact import TrainedModel
from dda.ml.models import build_core_module
from dda.ml.plots import render_overlay
from dda.ml.predict import (
    Predictor,
    area_scores,
    defect_masks,
    image_anomaly_scores,
    predicted_labels,
    prediction_record,
)
from tests.ml.test_artifact import config_for


def test_area_score_is_above_a_threshold_exactly_when_enough_area_is() -> None:
    """seg > t  <=>  at least min_defect_area_pct % of pixels have probability > t (the runtime's rule)."""
    rng = np.random.default_rng(0)
    maps = rng.random((50, 20, 30)).astype(np.float32) ** 4
    min_area = 2.5  # % of 600 pixels = 15 pixels
    scores = area_scores(maps, min_area)
    for threshold in (0.1, 0.3, 0.5, 0.8):
        enough_area = (maps > threshold).reshape(50, -1).sum(axis=1) >= 15
        assert np.array_equal(scores > threshold, enough_area)


def test_verdict_rules_combine_image_head_and_mask() -> None:
    probs = np.array([[0.2, 0.8], [0.9, 0.1], [0.3, 0.7], [0.95, 0.05]])
    maps = np.zeros((4, 10, 10), dtype=np.float32)
    maps[1, :3, :3] = 0.9  # 9 % of the image: a clear region, image head says normal
    maps[2, :3, :3] = 0.9
    config = {"model_type": "segmentation", "min_defect_area_pct": 5.0, "threshold": 0.5}
    expected = {
        "cls_head": [True, False, True, False],
        "seg_head": [False, True, True, False],
        "cls_or_seg": [True, True, True, False],
        "cls_and_seg": [False, False, True, False],
    }
    for rule, verdicts in expected.items():
        scores = image_anomaly_scores(probs, maps, config, rule=rule)
        assert list(scores > 0.5) == verdicts, rule


def test_labels_and_masks_name_the_most_likely_defect_class() -> None:
    config = {"model_type": "classification", "threshold": 0.5}
    probs = np.array([[0.1, 0.3, 0.6], [0.7, 0.2, 0.1]])
    assert list(predicted_labels(probs, np.array([True, False]), config)) == [2, 0]
    amap = np.array([[[0.9, 0.1]]], dtype=np.float32)
    class_map = np.array([[[[0.1, 0.9]], [[0.2, 0.05]], [[0.7, 0.05]]]], dtype=np.float32)
    assert defect_masks(amap, class_map, {"threshold": 0.5}).tolist() == [[[2, 0]]]


@pytest.mark.parametrize("model_type", ["classification", "segmentation"])
def test_predictor_returns_a_full_prediction_at_the_image_size(model_type: str, tmp_path: Path) -> None:
    config = {**config_for(model_type), "input_size": [64, 48]}
    torch.manual_seed(0)
    model = TrainedModel(config=config, module=build_core_module(config).eval())
    image = np.random.default_rng(0).integers(0, 256, (90, 70, 3), dtype=np.uint8)
    path = tmp_path / "frame.png"
    Image.fromarray(image).save(path)
    prediction = Predictor(model).predict_file(path)
    assert prediction.verdict in ("normal", "anomaly")
    if model_type == "classification":
        assert (prediction.verdict == "anomaly") == (prediction.anomaly_score > 0.42)
    assert prediction.label in config["class_names"]
    assert 0.0 <= prediction.confidence <= 1.0
    assert prediction.overlay.shape == (90, 70, 3) and prediction.overlay.dtype == np.uint8
    if model_type == "segmentation":
        assert prediction.anomaly_map is not None and prediction.anomaly_map.shape == (90, 70)
        assert prediction.mask is not None and prediction.mask.shape == (90, 70)
        assert set(prediction.class_areas) == {"scratch", "dent"}
    else:
        assert prediction.mask is None and prediction.anomaly_map is None and prediction.class_areas == {}
    record = prediction_record(prediction, str(path))
    assert record["verdict"] == prediction.verdict and "inference" in record["timings_ms"]


def test_overlay_frames_the_verdict_and_tints_the_defect() -> None:
    image = np.full((40, 40, 3), 128, dtype=np.uint8)
    mask = np.zeros((40, 40), dtype=np.uint8)
    mask[10:20, 10:20] = 1
    overlay = render_overlay(image, mask, None, "anomaly")
    assert tuple(overlay[0, 0]) == (220, 30, 30)  # red frame
    assert tuple(overlay[15, 15]) != (128, 128, 128)  # tinted defect
    assert tuple(overlay[30, 30]) == (128, 128, 128)  # untouched elsewhere
    assert tuple(render_overlay(image, None, None, "normal")[0, 0]) == (40, 170, 60)


@pytest.mark.parametrize("rule", ["cls_head", "seg_head", "cls_or_seg", "cls_and_seg"])
def test_batched_training_rules_agree_with_the_runtime_post_processing(rule: str) -> None:
    """Calibration and metrics score images with the vectorised rules; the station decides with
    dda.runtime.postprocess. With pixel_threshold = threshold (as training writes it) they agree."""
    from dda.runtime.postprocess import PostProcessConfig, decide

    rng = np.random.default_rng(7)
    probs = rng.dirichlet([1.0, 1.0], size=200)
    maps = (rng.random((200, 12, 16)) ** rng.uniform(1, 40, (200, 1, 1))).astype(np.float32)
    config = {
        "model_type": "segmentation", "class_names": ["normal", "anomaly"],
        "mask_class_names": ["background", "crack"], "threshold": 0.6, "pixel_threshold": 0.6,
        "verdict_rule": rule, "min_defect_area_pct": 10.0,
    }  # fmt: skip
    ours = image_anomaly_scores(probs, maps, config) > 0.6
    post = PostProcessConfig.from_mapping(config)
    class_maps = np.stack([1.0 - maps, maps], axis=1)
    theirs = [
        decide({"scores": p, "anomaly_map": m, "class_map": c}, post).anomalous
        for p, m, c in zip(probs, maps, class_maps, strict=True)
    ]
    assert ours.tolist() == theirs
    assert 5 <= sum(theirs) <= 195  # both verdicts occur, so the comparison means something


@pytest.mark.parametrize("model_type", ["classification", "segmentation"])
def test_batched_predictions_match_single_image_predictions(model_type: str) -> None:
    config = {**config_for(model_type), "input_size": [64, 48]}
    torch.manual_seed(0)
    predictor = Predictor(TrainedModel(config=config, module=build_core_module(config).eval()))
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in ((90, 70), (40, 60), (64, 48))]
    batched = predictor.predict_batch(images)
    assert predictor.predict_batch([]) == []
    for image, together in zip(images, batched, strict=True):
        alone = predictor.predict(image)
        assert together.verdict == alone.verdict and together.label == alone.label
        assert abs(together.anomaly_score - alone.anomaly_score) < 1e-5
        assert together.overlay.shape == image.shape
