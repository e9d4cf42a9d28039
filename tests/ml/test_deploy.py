"""The deploy wrapper: raw uint8 frame of any size in, the runtime contract's outputs out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dda.ml.artifact import TrainedModel
from dda.ml.data import normalize, resize_image
from dda.ml.deploy import DeployModule, build_deploy_module, output_names
from dda.ml.models import build_core_module
from tests.ml.test_artifact import config_for

SIZES = [(64, 48), (97, 131), (480, 640), (33, 20)]


def trained(model_type: str) -> TrainedModel:
    config = {**config_for(model_type), "input_size": [64, 48]}
    torch.manual_seed(0)
    module = build_core_module(config).eval()
    return TrainedModel(config=config, module=module)


def manual_pipeline(model: TrainedModel, image: np.ndarray) -> torch.Tensor:
    """What training feeds the core: resize as the data cache does, then normalise."""
    x = resize_image(image, tuple(model.config["input_size"]))[None]
    return normalize(x, model.config["mean"], model.config["std"])


@pytest.mark.parametrize("size", SIZES)
def test_classification_outputs_equal_the_manual_pipeline(size: tuple[int, int]) -> None:
    model = trained("classification")
    deploy = build_deploy_module(model)
    image = np.random.default_rng(1).integers(0, 256, (*size, 3), dtype=np.uint8)
    with torch.no_grad():
        scores, anomaly_map = deploy(torch.from_numpy(image))
        expected = torch.softmax(model.module(manual_pipeline(model, image)), dim=1)[0]
    torch.testing.assert_close(scores, expected, rtol=1e-5, atol=1e-6)
    assert scores.shape == (3,) and float(scores.sum()) == pytest.approx(1.0, abs=1e-5)
    assert anomaly_map.shape == (64, 48) and not anomaly_map.any()


@pytest.mark.parametrize("size", SIZES[:3])
def test_segmentation_outputs_follow_the_contract(size: tuple[int, int]) -> None:
    model = trained("segmentation")
    deploy = build_deploy_module(model)
    image = np.random.default_rng(2).integers(0, 256, (*size, 3), dtype=np.uint8)
    with torch.no_grad():
        scores, anomaly_map, class_map = deploy(torch.from_numpy(image))
        image_logits, mask_logits = model.module(manual_pipeline(model, image))
    torch.testing.assert_close(scores, torch.softmax(image_logits, 1)[0], rtol=1e-5, atol=1e-6)
    expected_map = torch.softmax(mask_logits, 1)[0]
    torch.testing.assert_close(class_map, expected_map, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(anomaly_map, 1.0 - expected_map[0], rtol=1e-5, atol=1e-6)
    assert class_map.shape == (3, 64, 48)
    assert output_names("segmentation") == ["scores", "anomaly_map", "class_map"]


def test_anomaly_models_pass_their_score_and_map_through() -> None:
    class ToyAnomaly(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            amap = x.abs().mean(dim=1)
            return amap.flatten(1).amax(dim=1), amap

    deploy = DeployModule(ToyAnomaly(), "anomaly", (32, 32), (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    scores, amap = deploy(torch.full((50, 70, 3), 255, dtype=torch.uint8))
    assert scores.shape == (1,) and amap.shape == (32, 32)
    torch.testing.assert_close(scores, torch.tensor([1.0]))


@pytest.mark.slow
@pytest.mark.parametrize("model_type", ["classification", "segmentation"])
def test_exports_to_onnx_with_dynamic_image_size(model_type: str, tmp_path: Path) -> None:
    """One ONNX graph, real ONNX Runtime, frames of different sizes: same numbers as torch."""
    import onnxruntime as ort

    model = trained(model_type)
    deploy = build_deploy_module(model)
    names = output_names(model_type)
    path = tmp_path / "model.onnx"
    example = torch.zeros(64, 48, 3, dtype=torch.uint8)
    torch.onnx.export(
        deploy,
        (example,),
        str(path),
        input_names=["image"],
        output_names=names,
        dynamic_axes={"image": {0: "height", 1: "width"}},
        dynamo=False,
        opset_version=17,
    )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for size in [(64, 48), (120, 90), (31, 77)]:
        image = np.random.default_rng(size[0]).integers(0, 256, (*size, 3), dtype=np.uint8)
        got = session.run(names, {"image": image})
        with torch.no_grad():
            want = [o.numpy() for o in deploy(torch.from_numpy(image))]
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


def test_resize_matches_the_interpolate_the_graph_uses() -> None:
    image = np.random.default_rng(3).integers(0, 256, (70, 90, 3), dtype=np.uint8)
    x = torch.from_numpy(image).float().permute(2, 0, 1)[None]
    expected = F.interpolate(x, size=(32, 40), mode="bilinear", align_corners=False)[0] / 255.0
    torch.testing.assert_close(resize_image(image, (32, 40)), expected)
