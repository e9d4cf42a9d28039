"""PatchCore and PaDiM on synthetic textures: fit on normal images only, find painted defects.

Normal images are a sinusoidal texture with a random phase and noise; defect images carry a
blue square painted at a random position. Most tests use a randomly initialised (seeded)
MobileNetV2 for speed; one uses the real ImageNet weights.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from dda.core.errors import InvalidInput
from dda.ml.backbones import IMAGENET_MEAN, IMAGENET_STD
from dda.ml.metrics import auroc
from dda.ml.models.anomaly import (
    AnomalyModel,
    GaussianBlur,
    build_from_config,
    fit_anomaly_model,
    upsample_aligned,
)
from dda.ml.models.padim import fit_gaussians, mahalanobis
from dda.ml.models.patchcore import greedy_coreset, squared_distances

SIZE = 96
DEFECT = 12
METHODS = ["patchcore", "padim"]
MEAN = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
STD = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def textures(count: int, seed: int, defects: bool = False) -> tuple[torch.Tensor, list[tuple[float, float]]]:
    """Normalised [count, 3, SIZE, SIZE] images and, for defect images, each defect's centre (y, x)."""
    generator = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(SIZE), torch.arange(SIZE), indexing="ij")
    images, centres = [], []
    for _ in range(count):
        phase = float(torch.rand(1, generator=generator)) * 2 * math.pi
        base = 0.5 + 0.25 * torch.sin(xx * 0.8 + phase) * torch.cos(yy * 0.8)
        image = torch.stack([base * 0.9, base * 0.7, base * 0.5]) + 0.03 * torch.randn(
            3, SIZE, SIZE, generator=generator
        )
        if defects:
            cy, cx = torch.randint(DEFECT + 4, SIZE - DEFECT - 4, (2,), generator=generator).tolist()
            half = DEFECT // 2
            image[:, cy - half : cy + half, cx - half : cx + half] = torch.tensor([0.1, 0.1, 0.9]).view(
                3, 1, 1
            )
            centres.append((cy - 0.5, cx - 0.5))
        images.append(image.clamp(0, 1))
    return (torch.stack(images) - MEAN) / STD, centres


@pytest.fixture(scope="module")
def data() -> dict[str, torch.Tensor | list[tuple[float, float]]]:
    train, _ = textures(10, seed=0)
    normal, _ = textures(6, seed=1)
    defective, centres = textures(6, seed=2, defects=True)
    return {"train": train, "normal": normal, "defective": defective, "centres": centres}


@pytest.fixture(scope="module")
def models(data: dict) -> dict[str, AnomalyModel]:
    torch.set_num_threads(1)
    return {
        method: fit_anomaly_model(
            data["train"].split(4), method, "mobilenet_v2", (SIZE, SIZE), progress=False, pretrained=False
        )
        for method in METHODS
    }


def _scores(model: AnomalyModel, data: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    with torch.inference_mode():
        normal_scores, _ = model(data["normal"])
        defect_scores, maps = model(data["defective"])
    return normal_scores, defect_scores, maps


@pytest.mark.parametrize("method", METHODS)
def test_defects_score_higher_than_normals(method: str, models: dict, data: dict) -> None:
    model = models[method]
    normal_scores, defect_scores, maps = _scores(model, data)
    labels = [0] * len(normal_scores) + [1] * len(defect_scores)
    assert auroc(labels, torch.cat([normal_scores, defect_scores]).numpy()) >= 0.9
    assert maps.shape == (6, SIZE, SIZE)
    # Scores are normalised by leave-one-out scores of the training normals: unseen normals sit
    # around or below 1, the painted defects well above.
    assert float(normal_scores.median()) < 1.2
    assert float(defect_scores.median()) > 1.5
    assert torch.allclose(defect_scores, maps.flatten(1).amax(dim=1))


@pytest.mark.parametrize("method", METHODS)
def test_anomaly_map_peaks_on_the_defect(method: str, models: dict, data: dict) -> None:
    _, _, maps = _scores(models[method], data)
    for anomaly_map, (cy, cx) in zip(maps, data["centres"], strict=True):
        peak = int(anomaly_map.argmax())
        py, px = divmod(peak, SIZE)
        # Within the defect's half-width plus one stride-8 feature cell.
        assert math.hypot(py - cy, px - cx) <= DEFECT / 2 + 8, (py, px, cy, cx)


@pytest.mark.parametrize("method", METHODS)
def test_config_and_state_dict_round_trip(method: str, models: dict, data: dict) -> None:
    model = models[method]
    config = json.loads(json.dumps(model.config))  # the config must survive JSON
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    rebuilt = build_from_config(config)
    rebuilt.load_state_dict(torch.load(buffer, weights_only=True), strict=True)
    rebuilt.eval()
    with torch.inference_mode():
        expected = model(data["defective"])
        actual = rebuilt(data["defective"])
    assert torch.equal(expected[0], actual[0])
    assert torch.equal(expected[1], actual[1])
    assert config["method"] == method and config["model_type"] == "anomaly"


def test_state_dict_holds_bank_statistics_and_backbone(models: dict) -> None:
    patchcore, padim = models["patchcore"].state_dict(), models["padim"].state_dict()
    assert {"memory_bank", "score_scale"} <= set(patchcore)
    assert {"mean", "inverse_covariance", "channel_index", "score_scale"} <= set(padim)
    assert any(key.startswith("backbone.") for key in patchcore)
    # Stages after the last used one are dropped: MobileNetV2 stops at block 13 for stride 16.
    assert not any(key.startswith("backbone.features.14.") for key in patchcore)
    cfg = models["padim"].config
    positions = cfg["feature_size"][0] * cfg["feature_size"][1]
    assert tuple(padim["inverse_covariance"].shape) == (positions, cfg["n_features"], cfg["n_features"])


def test_coreset_reduces_the_bank_and_is_deterministic(data: dict) -> None:
    def fit(seed: int, ratio: float) -> AnomalyModel:
        return fit_anomaly_model(
            data["train"][:4].split(2),
            "patchcore",
            input_size=(SIZE, SIZE),
            progress=False,
            pretrained=False,
            seed=seed,
            coreset_ratio=ratio,
        )

    first, again, other = fit(3, 0.05), fit(3, 0.05), fit(4, 0.05)
    patches = first.config["num_train_patches"]
    assert patches == 4 * (SIZE // 8) ** 2
    assert first.memory_bank.shape == (round(0.05 * patches), first.config["feature_dim"])
    assert first.config["coreset_size"] == first.memory_bank.shape[0]
    assert torch.equal(first.memory_bank, again.memory_bank)
    assert not torch.equal(first.memory_bank, other.memory_bank)
    assert fit(3, 1.0).memory_bank.shape[0] == patches


def test_greedy_coreset_covers_outliers() -> None:
    generator = torch.Generator().manual_seed(0)
    cluster = torch.randn(500, 16, generator=generator) * 0.01
    outliers = torch.eye(16)[:3] * 10.0
    features = torch.cat([cluster, outliers])
    chosen = greedy_coreset(features, 5, projection_dim=16, seed=0)
    assert len(set(chosen.tolist())) == 5
    assert {500, 501, 502} <= set(chosen.tolist())
    assert torch.equal(chosen, greedy_coreset(features, 5, projection_dim=16, seed=0))
    with pytest.raises(InvalidInput, match="coreset size"):
        greedy_coreset(features, 0)


@pytest.mark.parametrize("count", [5, 40])  # fewer images than channels (Woodbury) and more
def test_padim_gaussians_match_the_direct_formula(count: int) -> None:
    generator = torch.Generator().manual_seed(count)
    samples = torch.randn(3, count, 20, generator=generator, dtype=torch.float64) * 3
    mean, inverse = fit_gaussians(samples, eps=0.01)
    centred = samples - samples.mean(dim=1, keepdim=True)
    covariance = centred.transpose(1, 2) @ centred / (count - 1) + 0.01 * torch.eye(20, dtype=torch.float64)
    assert torch.allclose(mean, samples.mean(dim=1))
    assert torch.allclose(inverse, torch.linalg.inv(covariance), rtol=1e-6, atol=1e-8)
    query = torch.randn(2, 3, 20, generator=generator, dtype=torch.float64)
    delta = query - mean
    direct = torch.einsum("npd,pde,npe->np", delta, torch.linalg.inv(covariance), delta).sqrt()
    assert torch.allclose(mahalanobis(query, mean, inverse), direct)


def test_nearest_neighbour_distances_match_cdist() -> None:
    generator = torch.Generator().manual_seed(0)
    queries, bank = torch.randn(2, 7, 16, generator=generator), torch.randn(11, 16, generator=generator)
    expected = torch.cdist(queries, bank.expand(2, 11, 16)) ** 2
    assert torch.allclose(squared_distances(queries, bank), expected, atol=1e-4)


def test_blur_and_aligned_upsampling_are_well_behaved() -> None:
    blur = GaussianBlur(2.0, (32, 32))
    flat = torch.full((1, 1, 32, 32), 3.0)
    assert torch.allclose(blur(flat), flat)
    spike = torch.zeros(1, 1, 32, 32)
    spike[0, 0, 16, 16] = 1.0
    blurred = blur(spike)
    assert int(blurred.argmax()) == 16 * 32 + 16 and blurred.sum().item() == pytest.approx(1.0, abs=1e-5)
    # A hot feature cell (3, 5) on a stride-8 grid lands on pixel (24, 40), not shifted by half a cell.
    grid = torch.zeros(1, 1, 8, 8)
    grid[0, 0, 3, 5] = 1.0
    up = upsample_aligned(grid, 8, (8, 8), (64, 64))
    assert up.shape == (1, 1, 64, 64)
    assert divmod(int(up.argmax()), 64) == (24, 40)


def test_backbone_stays_frozen(models: dict) -> None:
    model = models["patchcore"]
    model.train()
    try:
        assert not model.backbone.training
        assert not any(p.requires_grad for p in model.parameters())
    finally:
        model.eval()


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize("method", METHODS)
def test_onnx_export_matches_torch(method: str, models: dict, data: dict, tmp_path: Path) -> None:
    model = models[method]
    path = tmp_path / f"{method}.onnx"
    example = data["defective"][:1]
    torch.onnx.export(
        model,
        (example,),
        str(path),
        input_names=["x"],
        output_names=["scores", "anomaly_map"],
        opset_version=18,
        dynamo=True,
        external_data=False,
        verbose=False,
    )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for image in (data["defective"][2:3], data["normal"][:1]):
        onnx_scores, onnx_map = session.run(None, {"x": image.numpy()})
        with torch.inference_mode():
            torch_scores, torch_map = model(image)
        assert onnx_map.shape == (1, SIZE, SIZE)
        assert np.abs(onnx_map - torch_map.numpy()).max() < 1e-3 * max(1.0, float(torch_map.abs().max()))
        assert np.abs(onnx_scores - torch_scores.numpy()).max() < 1e-3 * max(
            1.0, float(torch_scores.abs().max())
        )


def test_pretrained_mobilenet_separates_defects(data: dict) -> None:
    """The real ImageNet MobileNetV2 (sha256-verified weights shipped for development)."""
    model = fit_anomaly_model(
        data["train"].split(5), "patchcore", "mobilenet_v2", (SIZE, SIZE), progress=False
    )
    normal_scores, defect_scores, _ = _scores(model, data)
    assert float(defect_scores.min()) > float(normal_scores.max())


def test_bad_input_is_refused_with_a_fix(data: dict) -> None:
    images = data["train"][:4]
    with pytest.raises(InvalidInput, match="unknown anomaly method"):
        fit_anomaly_model([images], "knn", input_size=(SIZE, SIZE), progress=False)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="unknown option"):
        fit_anomaly_model([images], "padim", input_size=(SIZE, SIZE), progress=False, coreset_ratio=0.1)
    with pytest.raises(InvalidInput, match="expected \\[N, 3, 64, 64\\]"):
        fit_anomaly_model([images], input_size=(64, 64), progress=False, pretrained=False)
    with pytest.raises(InvalidInput, match="at least 2 normal images"):
        fit_anomaly_model([images[:1]], input_size=(SIZE, SIZE), progress=False, pretrained=False)
    with pytest.raises(InvalidInput, match="not finite float"):
        fit_anomaly_model([images.to(torch.uint8)], input_size=(SIZE, SIZE), progress=False, pretrained=False)
    with pytest.raises(InvalidInput, match="layers"):
        fit_anomaly_model([images], input_size=(SIZE, SIZE), progress=False, pretrained=False, layers=[2, 1])
    with pytest.raises(InvalidInput, match="smaller input_size"):
        fit_anomaly_model([images], "padim", input_size=(512, 512), progress=False, pretrained=False,
                          layers=[0, 1, 2], n_features=152)  # fmt: skip
    with pytest.raises(InvalidInput, match="lacks"):
        build_from_config({"method": "patchcore"})


def test_forward_refuses_wrong_input_size(models: dict) -> None:
    with pytest.raises(InvalidInput, match="input_size"):
        models["padim"](torch.zeros(1, 3, SIZE + 8, SIZE))
