"""Runtime: backend conformance, post-processing rules, overlay, input checks, no torch at run time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dda.core.errors import InvalidInput
from dda.core.signing import SignatureError, generate_keypair
from dda.packaging import read_manifest
from dda.runtime import (
    PostProcessConfig,
    available_backends,
    decide,
    load_predictor,
    post_process,
    prepare_image,
    render_overlay,
)
from dda.runtime.types import InferenceBackend, Prediction
from tests.runtime.contract_models import tiny_model

MODEL_TYPES = ("classification", "segmentation", "anomaly")


def _image(seed: int, height: int = 75, width: int = 101) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_both_backends_are_registered_and_installed() -> None:
    assert {"onnxruntime", "openvino"} <= set(available_backends())


@pytest.mark.parametrize("backend", available_backends())
@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_backend_conformance(backend: str, model_type: str, packages: dict[str, Path]) -> None:
    """Every registered backend reproduces the PyTorch model and yields a complete Prediction."""
    model, _ = tiny_model(model_type)  # same seed as the packaged model
    with load_predictor(packages[model_type], backend=backend, threads=1) as predictor:
        assert isinstance(predictor._backend, InferenceBackend) and predictor.backend_name == backend
        for seed, (height, width) in enumerate([(75, 101), (240, 320), (33, 29)]):
            image = _image(seed, height, width)
            raw = predictor.forward(predictor.pre_process(image))
            with torch.inference_mode():
                reference = [t.numpy() for t in model(torch.from_numpy(image))]
            for got, ref in zip(raw.values(), reference, strict=True):
                np.testing.assert_allclose(got, ref, atol=1e-4, rtol=1e-4)
            prediction = predictor.predict(image)
            _check_prediction(prediction, image, model_type, predictor.manifest.name)
            expected = decide(
                dict(zip(raw, reference, strict=True)),
                PostProcessConfig.from_mapping(predictor.manifest.postprocess_config()),
            )
            assert prediction.verdict == ("anomaly" if expected.anomalous else "normal")
            assert prediction.anomaly_score == pytest.approx(expected.anomaly_score, rel=1e-4, abs=1e-5)


def _check_prediction(prediction: Prediction, image: np.ndarray, model_type: str, name: str) -> None:
    height, width = image.shape[:2]
    assert prediction.verdict in ("normal", "anomaly")
    assert 0.0 <= prediction.confidence <= 1.0
    assert prediction.overlay.shape == image.shape and prediction.overlay.dtype == np.uint8
    assert set(prediction.timings_ms) == {"pre_process", "forward", "post_process", "total"}
    assert prediction.model_name == name and prediction.model_version == "1.0.0"
    if model_type == "classification":
        assert prediction.mask is None and prediction.class_areas == {}
    else:
        assert prediction.mask is not None and prediction.mask.shape == (height, width)
        assert prediction.anomaly_map is not None and prediction.anomaly_map.shape == (height, width)
        assert all(0.0 <= v <= 100.0 for v in prediction.class_areas.values())
    if prediction.verdict == "normal":
        assert prediction.label == "normal"


def test_openvino_package_runs_on_openvino_only(packages: dict[str, Path]) -> None:
    with load_predictor(packages["openvino"]) as predictor:
        assert predictor.backend_name == "openvino"
        assert predictor.predict(_image(3)).mask is not None
    with pytest.raises(InvalidInput, match="OpenVINO IR"):
        load_predictor(packages["openvino"], backend="onnxruntime")


def test_load_predictor_checks_model_hash_and_signature(packages: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    pkg = Path(shutil.copytree(packages["classification"], tmp_path / "pkg"))
    manifest = read_manifest(pkg)
    public = (generate_keypair()[1],)
    with pytest.raises(SignatureError, match="not trusted"):
        load_predictor(pkg, trusted_keys=public)
    (pkg / manifest.triton.model_file).write_bytes(b"corrupted")
    with pytest.raises(InvalidInput, match="does not match its sha256"):
        load_predictor(pkg)


def test_unknown_backend_is_refused(packages: dict[str, Path]) -> None:
    with pytest.raises(InvalidInput, match="unknown inference backend"):
        load_predictor(packages["classification"], backend="tensorflow")


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((10, 10, 3), np.float32), "must be uint8"),
        (np.zeros((10, 10, 2), np.uint8), r"\[H, W, 3\]"),
        (np.zeros((4, 100, 3), np.uint8), "outside"),
        ("not an array", "numpy array"),
    ],
)
def test_prepare_image_refuses_bad_input(image: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        prepare_image(image)  # type: ignore[arg-type]


def test_prepare_image_accepts_grey_and_rgba() -> None:
    assert prepare_image(np.zeros((20, 30), np.uint8)).shape == (20, 30, 3)
    rgba = np.zeros((20, 30, 4), np.uint8)
    out = prepare_image(rgba)
    assert out.shape == (20, 30, 3) and out.flags["C_CONTIGUOUS"]


# --------------------------------------------------------------------------- post-processing rules


def _seg_cfg(rule: str, min_area: float = 0.0) -> PostProcessConfig:
    return PostProcessConfig.from_mapping(
        {
            "model_type": "segmentation",
            "labels": ["normal", "anomaly"],
            "mask_labels": ["background", "crack", "spot"],
            "threshold": 0.5,
            "pixel_threshold": 0.5,
            "verdict_rule": rule,
            "min_defect_area_pct": min_area,
        }
    )


def _seg_outputs(p_anomaly: float, defect_pixels: int, cls: int = 1) -> dict[str, np.ndarray]:
    amap = np.zeros((10, 10), np.float32)
    amap.flat[:defect_pixels] = 0.9
    class_map = np.zeros((3, 10, 10), np.float32)
    class_map[0] = 1.0 - amap
    class_map[cls] = amap
    return {
        "scores": np.array([1 - p_anomaly, p_anomaly], np.float32),
        "anomaly_map": amap,
        "class_map": class_map,
    }


@pytest.mark.parametrize(
    ("rule", "p_anomaly", "pixels", "expected"),
    [
        ("cls_head", 0.8, 0, True),
        ("cls_head", 0.2, 30, False),
        ("seg_head", 0.2, 30, True),
        ("seg_head", 0.8, 0, False),
        ("cls_and_seg", 0.8, 30, True),
        ("cls_and_seg", 0.8, 0, False),
        ("cls_and_seg", 0.2, 30, False),
        ("cls_or_seg", 0.2, 30, True),
        ("cls_or_seg", 0.8, 0, True),
        ("cls_or_seg", 0.2, 0, False),
    ],
)
def test_segmentation_verdict_rules(rule: str, p_anomaly: float, pixels: int, expected: bool) -> None:
    decision = decide(_seg_outputs(p_anomaly, pixels), _seg_cfg(rule))
    assert decision.anomalous is expected
    assert decision.class_areas["crack"] == pytest.approx(pixels)  # 100 pixels: count == percent


def test_segmentation_min_area_and_defect_label() -> None:
    outputs = _seg_outputs(0.2, 3, cls=2)
    assert not decide(outputs, _seg_cfg("seg_head", min_area=5.0)).anomalous
    decision = decide(outputs, _seg_cfg("seg_head", min_area=2.0))
    assert decision.anomalous and decision.label == "spot" and decision.threshold == 0.5


def test_classification_multiclass_label_and_confidence() -> None:
    cfg = PostProcessConfig.from_mapping(
        {"model_type": "classification", "threshold": 0.5, "labels": ["normal", "crack", "burnt"]}
    )
    decision = decide({"scores": np.array([0.1, 0.3, 0.6], np.float32)}, cfg)
    assert decision.anomalous and decision.label == "burnt"
    assert decision.confidence == pytest.approx(0.9) and decision.anomaly_score == pytest.approx(0.9)
    normal = decide({"scores": np.array([0.7, 0.2, 0.1], np.float32)}, cfg)
    assert not normal.anomalous and normal.label == "normal" and normal.confidence == pytest.approx(0.7)


def test_anomaly_threshold_and_pixel_mask() -> None:
    cfg = PostProcessConfig.from_mapping({"model_type": "anomaly", "threshold": 10.0, "pixel_threshold": 5.0})
    amap = np.zeros((8, 8), np.float32)
    amap[:2, :4] = 12.0
    high = decide({"scores": np.array([12.0], np.float32), "anomaly_map": amap}, cfg)
    assert high.anomalous and high.class_areas == {"anomaly": pytest.approx(12.5)} and high.confidence > 0.5
    low = decide({"scores": np.array([9.0], np.float32), "anomaly_map": amap}, cfg)
    assert not low.anomalous and low.label == "normal" and low.confidence > 0.5


def test_post_process_upsamples_mask_and_draws_overlay() -> None:
    cfg = PostProcessConfig.from_mapping({"model_type": "anomaly", "threshold": 10.0, "pixel_threshold": 5.0})
    amap = np.zeros((8, 8), np.float32)
    amap[2:6, 2:6] = 12.0
    image = np.full((80, 80, 3), 128, np.uint8)
    result = post_process({"scores": np.array([12.0], np.float32), "anomaly_map": amap}, image, cfg)
    mask, overlay = result["mask"], result["overlay"]
    assert mask.shape == (80, 80) and mask[40, 40] == 1 and mask[5, 40] == 0
    assert overlay[40, 40, 0] > 150 and overlay[40, 40, 1] < 100  # tinted red inside the defect
    assert tuple(overlay[0, 0]) == (230, 40, 40)  # red border: anomaly
    assert tuple(overlay[40, 10]) == (128, 128, 128)  # untouched outside
    normal = render_overlay(image, None, anomalous=False)
    assert tuple(normal[0, 0]) == (40, 180, 70) and tuple(normal[40, 40]) == (128, 128, 128)


def test_config_refuses_unknown_rule_and_type() -> None:
    with pytest.raises(ValueError, match="verdict_rule"):
        PostProcessConfig.from_mapping({"model_type": "segmentation", "verdict_rule": "majority"})
    with pytest.raises(ValueError, match="model_type"):
        PostProcessConfig.from_mapping({"model_type": "detection"})


# --------------------------------------------------------------------------- no torch at run time


def test_runtime_and_packaging_import_and_predict_without_torch(packages: dict[str, Path]) -> None:
    code = f"""
import sys
sys.modules["torch"] = None  # any `import torch` now raises ImportError
import numpy as np
import dda.runtime, dda.packaging, dda.packaging.verify, dda.packaging.install, dda.runtime.backends
from dda.runtime import load_predictor
with load_predictor({str(packages["segmentation"])!r}) as p:
    pred = p.predict(np.zeros((64, 48, 3), np.uint8))
print(pred.verdict, pred.mask.shape)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[1:] == ["(64,", "48)"]


def test_vendored_postprocess_needs_no_dda(packages: dict[str, Path]) -> None:
    """The copy shipped in the Triton post model imports with DDA absent."""
    root = packages["anomaly"]
    copy = root / read_manifest(root).triton.post / "1" / "dda_postprocess.py"
    code = f"""
import sys, json, importlib.util
sys.modules["dda"] = None
spec = importlib.util.spec_from_file_location("dda_postprocess", {str(copy)!r})
mod = importlib.util.module_from_spec(spec)
sys.modules["dda_postprocess"] = mod
spec.loader.exec_module(mod)
cfg = mod.PostProcessConfig.from_mapping({{"model_type": "classification"}})
print(json.dumps(mod.decide({{"scores": __import__("numpy").array([0.2, 0.8])}}, cfg).anomalous))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) is True


def test_combined_rules_report_the_head_that_decided() -> None:
    by_seg = decide(_seg_outputs(0.2, 30), _seg_cfg("cls_or_seg"))
    assert by_seg.anomalous and by_seg.label == "crack"
    assert by_seg.anomaly_score == pytest.approx(0.9) and by_seg.confidence == pytest.approx(0.9)
    assert by_seg.ranking_score == pytest.approx(0.2)  # AUROC ranks by one head, whatever decided
    vetoed = decide(_seg_outputs(0.8, 0), _seg_cfg("cls_and_seg"))
    assert not vetoed.anomalous and vetoed.anomaly_score == pytest.approx(0.0)
    assert vetoed.confidence == pytest.approx(1.0)
    by_cls = decide(_seg_outputs(0.8, 30), _seg_cfg("cls_or_seg"))
    assert by_cls.anomaly_score == pytest.approx(0.8) and by_cls.threshold == 0.5
