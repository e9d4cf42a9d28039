"""Bring your own model in dda.ml: inspect, check and wrap real external ONNX models (tiny torch
networks exported by torch.onnx) into the model contract, store them as model.tar.gz, and run them
through prediction, evaluation and export like models trained here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest

from dda.core.errors import InvalidInput
from dda.ml.artifact import load_artifact, save_onnx_artifact
from dda.ml.onnx_import import OnnxImportSpec, import_onnx, inspect_onnx, parse_spec
from dda.ml.predict import Predictor
from tests.ml.onnx_models import (
    direct_score,
    make_classifier,
    make_segmenter,
    sample_frames,
    threshold_between,
    to_onnx,
)

SIZE = (24, 32)


def spec_for(onnx_bytes: bytes, frames: list[np.ndarray], **declared: Any) -> dict[str, Any]:
    """The inferred spec, corrected with what the model's authors declare, thresholded in the middle."""
    spec = {**inspect_onnx(onnx_bytes).spec, **declared}
    scores = [direct_score(onnx_bytes, spec, frame) for frame in frames]
    key = "threshold" if spec["model_type"] == "classification" else "pixel_threshold"
    return {**spec, key: threshold_between(scores)}


CLASSIFIERS = {
    "nchw-rgb-logits": ({}, {"class_names": ["scratch", "good", "dent"], "normal_class": "good"}),
    "nhwc-bgr-probabilities": (
        {"nhwc": True, "softmax": True},
        {
            "class_names": ["ok", "bad", "worse"],
            "normal_class": "ok",
            "channel_order": "BGR",
            "scale": 1.0,
            "mean": [100.0, 110.0, 120.0],
            "std": [50.0, 60.0, 70.0],
        },
    ),
    "single-logit": ({"classes": 1}, {"class_names": ["pass", "defect"], "anomaly_class": "defect"}),
}


@pytest.mark.parametrize("case", list(CLASSIFIERS))
def test_wrapped_classifier_decides_like_the_raw_file(case: str) -> None:
    build, declared = CLASSIFIERS[case]
    module = make_classifier(**build)
    shape = (1, *SIZE, 3) if build.get("nhwc") else (1, 3, *SIZE)
    raw = to_onnx(module, shape)
    inspection = inspect_onnx(raw)
    assert inspection.problems == [] or "class_names" in str(inspection.problems)
    assert inspection.spec["input_size"] == list(SIZE)
    assert inspection.spec["layout"] == ("NHWC" if build.get("nhwc") else "NCHW")
    assert inspection.spec["output_kind"] == ("probabilities" if build.get("softmax") else "logits")
    frames = sample_frames(10, SIZE)
    spec = spec_for(raw, frames, **declared)
    wrapped, config = import_onnx(raw, parse_spec(spec))
    normal = spec.get("normal_class") or next(
        n for n in spec["class_names"] if n != spec.get("anomaly_class")
    )
    assert config["class_names"][0] == normal and config["backbone"] == "onnx-import"
    import onnxruntime as ort

    session = ort.InferenceSession(wrapped, providers=["CPUExecutionProvider"])
    for frame in frames:
        scores, amap = session.run(["scores", "anomaly_map"], {"image": frame})
        assert scores.shape == (len(config["class_names"]),) and amap.shape == SIZE and not amap.any()
        expected = direct_score(raw, spec, frame)
        assert 1.0 - scores[0] == pytest.approx(expected, abs=1e-5)
        assert (1.0 - scores[0] > spec["threshold"]) == (expected > spec["threshold"])


def test_segmenter_with_a_coarse_mask_and_background_not_first() -> None:
    raw = to_onnx(
        make_segmenter(channels=3, stride=2),
        (1, 3, 32, 32),
        dynamic={"pixel_values": {0: "n", 2: "h", 3: "w"}},
    )
    inspection = inspect_onnx(raw)
    assert inspection.spec["model_type"] == "segmentation"
    assert any("dynamic height/width" in p for p in inspection.problems)  # needs a declared size
    spec = parse_spec(
        {
            **inspection.spec,
            "input_size": [32, 32],
            "mask_class_names": ["crack", "bg", "spot"],
            "background_channel": 1,
        }
    )
    wrapped, config = import_onnx(raw, spec)
    assert config["mask_class_names"] == ["bg", "crack", "spot"] and config["verdict_rule"] == "seg_head"
    import onnxruntime as ort

    session = ort.InferenceSession(wrapped, providers=["CPUExecutionProvider"])
    scores, amap, cmap = session.run(None, {"image": sample_frames(1, (50, 70))[0]})
    assert cmap.shape == (3, 32, 32) and amap.shape == (32, 32) and scores.shape == (2,)
    np.testing.assert_allclose(cmap.sum(axis=0), 1.0, atol=1e-5)
    np.testing.assert_allclose(amap, 1.0 - cmap[0], atol=1e-6)
    assert scores[1] == pytest.approx(amap.max(), abs=1e-6)


def problems_of(raw: bytes, **declared: Any) -> str:
    spec = OnnxImportSpec.model_validate({**inspect_onnx(raw).spec, **declared})
    with pytest.raises(InvalidInput) as caught:
        import_onnx(raw, spec)
    return caught.value.message


def test_what_does_not_fit_is_named() -> None:
    classifier = to_onnx(make_classifier(), (1, 3, *SIZE))
    assert "3 values but 4 class names" in problems_of(classifier, class_names=["a", "b", "c", "normal"])
    assert "which of" in problems_of(classifier, class_names=["a", "b", "c"], normal_class=None)
    assert "fixed height 24" in problems_of(classifier, input_size=[30, 32], class_names=["normal", "b", "c"])
    assert "channels" in problems_of(classifier, layout="NHWC", class_names=["normal", "b", "c"])
    flat = to_onnx(nn_linear(), (1, 12))
    assert "rank 2" in problems_of(flat, model_type="classification", class_names=["normal", "x"])
    dynamic = to_onnx(make_classifier(), (1, 3, *SIZE), dynamic={"pixel_values": {2: "h", 3: "w"}})
    assert "declare input_size" in problems_of(dynamic, class_names=["normal", "b", "c"])
    two = to_onnx(TwoHeads(), (1, 3, 16, 16), output_names=("a", "b"))
    assert "declare which is the scores output" in problems_of(
        two, class_names=["normal", "x"], anomaly_class="x"
    )
    segmenter = to_onnx(make_segmenter(channels=2), (1, 3, 16, 16))
    assert "2 channels (axis 1) but 3 mask class" in problems_of(segmenter, mask_class_names=["bg", "a", "b"])
    future = onnx.load_model_from_string(classifier)
    future.opset_import[0].version = 99
    assert "opset 99" in problems_of(
        future.SerializeToString(), class_names=["normal", "b", "c"], normal_class="normal"
    )
    with pytest.raises(InvalidInput, match="not an ONNX model"):
        inspect_onnx(b"\x89PNG\r\n\x1a\n not onnx at all")
    with pytest.raises(InvalidInput, match="limit"):
        inspect_onnx(classifier, max_bytes=100)


def nn_linear() -> Any:
    from torch import nn

    return nn.Linear(12, 2)


class TwoHeads(__import__("torch").nn.Module):
    def __init__(self) -> None:
        from torch import nn

        super().__init__()
        self.conv = nn.Conv2d(3, 2, 3)

    def forward(self, x: Any) -> Any:
        y = self.conv(x).mean(dim=(2, 3))
        return y, y * 2


def test_onnx_artifact_predicts_evaluates_and_exports_like_ours(tmp_path: Path) -> None:
    from dda.ml.export import export_trained
    from dda.ml.training.evaluate import evaluate_model
    from tests.ml.test_train import make_disc_dataset

    raw = to_onnx(make_classifier(classes=2), (1, 3, *SIZE))
    frames = sample_frames(8, SIZE)
    spec = spec_for(raw, frames, class_names=["normal", "anomaly"], anomaly_class="anomaly")
    wrapped, config = import_onnx(raw, parse_spec(spec))
    path = save_onnx_artifact(tmp_path / "model.tar.gz", wrapped, config, {"note": "imported"})
    trained = load_artifact(path)
    assert trained.metrics == {"note": "imported"} and trained.input_size == SIZE
    predictor = Predictor(trained)
    for frame in frames:
        expected = direct_score(raw, spec, frame) > spec["threshold"]
        assert (predictor.predict(frame).verdict == "anomaly") == expected
    metrics = evaluate_model(
        trained, make_disc_dataset(tmp_path / "discs", n_per_class=3, size=40), progress=False
    )
    assert metrics["num_images"] == 6 and "auroc" in metrics["image"]
    result = export_trained(trained, "x86_64-cpu", tmp_path / "export")
    assert result.report.passed and (tmp_path / "export" / "model.onnx").read_bytes() == wrapped


def test_a_broken_onnx_member_is_refused(tmp_path: Path) -> None:
    raw = to_onnx(make_classifier(), (1, 3, *SIZE))
    spec = parse_spec(
        {**inspect_onnx(raw).spec, "class_names": ["normal", "b", "c"], "normal_class": "normal"}
    )
    _, config = import_onnx(raw, spec)
    path = save_onnx_artifact(tmp_path / "bad.tar.gz", raw, config, {})  # the raw file, not wrapped
    with pytest.raises(InvalidInput, match=r"ONNX Runtime|image"):
        load_artifact(path)
