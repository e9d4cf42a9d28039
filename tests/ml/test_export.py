"""Export: ONNX contract, parity gate per target and precision, refusals. Real torch + ONNX Runtime."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from dda.core.errors import InvalidInput
from dda.ml.export import (
    ParityThresholds,
    export_model,
    export_onnx,
    load_image_set,
    read_onnx_metadata,
    synthetic_image_set,
    torch_runner,
)
from dda.packaging.exported import read_export
from tests.runtime.contract_models import TinyContractModel, tiny_model

MODEL_TYPES = ("classification", "segmentation", "anomaly")


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_export_onnx_has_dynamic_uint8_input_and_matches_torch(model_type: str, tmp_path: Path) -> None:
    model, config = tiny_model(model_type)
    path = export_onnx(model, config, tmp_path / "model.onnx")

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    assert inp.name == "image" and inp.type == "tensor(uint8)"
    assert isinstance(inp.shape[0], str) and isinstance(inp.shape[1], str) and inp.shape[2] == 3
    names = [o.name for o in session.get_outputs()]
    expected = ["scores", "anomaly_map"] + (["class_map"] if model_type == "segmentation" else [])
    assert names == expected
    assert json.loads(read_onnx_metadata(path)["dda.config"])["model_type"] == model_type

    reference = torch_runner(model, model_type)
    rng = np.random.default_rng(1)
    for height, width in [(47, 95), (576, 768), (40, 32)]:
        image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        got = dict(zip(names, session.run(None, {"image": image}), strict=True))
        for name, ref in reference(image).items():
            assert got[name].shape == ref.shape
            np.testing.assert_allclose(got[name], ref, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_fp32_export_passes_strict_gate(model_type: str, tmp_path: Path) -> None:
    model, config = tiny_model(model_type)
    result = export_model(model, config, "x86_64-cpu", tmp_path / "out")

    assert result.report.passed and result.report.precision == "fp32"
    assert result.report.metrics["verdict_agreement"] == 1.0
    assert result.report.metrics["max_score_diff_normalised"] <= 1e-3
    info = read_export(tmp_path / "out")
    assert info.target == "x86_64-cpu" and info.format == "onnx" and info.model_file == "model.onnx"
    assert info.config["model_type"] == model_type and info.parity["passed"] is True
    report = json.loads((tmp_path / "out" / "parity_report.json").read_text())
    assert report["passed"] is True and len(report["per_image"]) == 8
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "export.json",
        "model.onnx",
        "parity_report.json",
    ]


@pytest.mark.parametrize("model_type", ["classification", "anomaly"])
def test_int8_export_is_quantised_and_passes_looser_gate(model_type: str, tmp_path: Path) -> None:
    model, config = tiny_model(model_type)
    calib = synthetic_image_set(12, seed=3)
    golden = synthetic_image_set(8, seed=4)
    result = export_model(
        model, config, "arm64-cpu", tmp_path / "out", int8=True, calibration=calib, golden=golden
    )

    assert result.report.passed and result.info.precision == "int8"
    ops = {n.op_type for n in onnx.load(str(result.model_path)).graph.node}
    assert "QLinearConv" in ops
    # Pre-processing stays float: the graph still casts and resizes the raw image itself.
    assert {"Cast", "Resize"} <= ops
    assert result.info.quantization is not None
    assert result.info.quantization["format"] == "QOperator"
    assert result.report.thresholds.max_score_diff > 1e-3  # the INT8 limits, not the FP32 ones


class RandomisedModel(TinyContractModel):
    """Adds fresh noise on every call: the exported graph cannot reproduce PyTorch's numbers."""

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        scores, amap = super().forward(image)
        noisy = torch.softmax(torch.log(scores) + 3.0 * torch.randn_like(scores), dim=0)
        return noisy, amap


def test_gate_refuses_export_that_differs_from_torch(tmp_path: Path) -> None:
    _, config = tiny_model("classification")
    model = RandomisedModel("classification", config["class_names"], config["mask_class_names"]).eval()
    out = tmp_path / "out"
    with pytest.raises(InvalidInput, match="fails the parity gate") as info:
        export_model(model, config, "x86_64-cpu", out)
    assert "max_score_diff_normalised" in info.value.message
    report = json.loads((out / "parity_report.json").read_text())
    assert report["passed"] is False and report["failures"]
    assert [p.name for p in out.iterdir()] == ["parity_report.json"]  # no model left to package


def test_int8_gate_refuses_after_trying_every_recipe(tmp_path: Path) -> None:
    model, config = tiny_model("classification")
    exact = ParityThresholds(0.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    with pytest.raises(InvalidInput, match="INT8 export"):
        export_model(
            model,
            config,
            "x86_64-cpu",
            tmp_path / "out",
            int8=True,
            calibration=synthetic_image_set(8),
            thresholds=exact,
        )
    report = json.loads((tmp_path / "out" / "parity_report.json").read_text())
    assert report["passed"] is False and report["precision"] == "int8"
    assert any("skip_depthwise': True" in note for note in report["notes"])  # the second recipe ran


def test_openvino_target_writes_ir_that_passes_gate(tmp_path: Path) -> None:
    model, config = tiny_model("segmentation")
    result = export_model(model, config, "openvino", tmp_path / "out")
    assert result.report.passed
    assert result.info.format == "openvino" and result.info.files == ["model.xml", "model.bin"]
    assert not (tmp_path / "out" / "model.onnx").exists()


def _fake_trtexec(tmp_path: Path) -> Path:
    """Stand-in for NVIDIA's trtexec (no TensorRT here): records its arguments, writes the engine."""
    script = tmp_path / "trtexec"
    script.write_text(
        "#!/usr/bin/env bash\n"
        'printf "%s\\n" "$@" > "$(dirname "$0")/args.txt"\n'
        'for a in "$@"; do case "$a" in --saveEngine=*) echo engine > "${a#--saveEngine=}";; esac; done\n'
    )
    script.chmod(0o755)
    return script


def test_jetson_target_ships_onnx_and_a_working_build_script(tmp_path: Path) -> None:
    model, config = tiny_model("anomaly")
    result = export_model(model, config, "jetson", tmp_path / "out")
    out = tmp_path / "out"
    script = out / "build_engine.sh"
    assert result.info.files == ["model.onnx", "build_engine.sh"]
    assert result.info.generated_at_install == ["model.plan"]
    assert os.access(script, os.X_OK)
    subprocess.run(["bash", "-n", str(script)], check=True)

    fake = _fake_trtexec(tmp_path)
    done = subprocess.run(
        [str(script)], env={**os.environ, "TRTEXEC": str(fake)}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert (out / "model.plan").read_text() == "engine\n"
    args = (tmp_path / "args.txt").read_text().splitlines()
    assert f"--onnx={out / 'model.onnx'}" in args and "--fp16" in args
    assert "--minShapes=image:64x64x3" in args and any(a.startswith("--maxShapes=image:") for a in args)

    missing = subprocess.run(
        [str(script)], env={**os.environ, "TRTEXEC": str(tmp_path / "nope")}, capture_output=True, text=True
    )
    assert missing.returncode == 2 and "trtexec not found" in missing.stderr


@pytest.mark.parametrize(
    ("target", "int8", "message"),
    [
        ("openvino", True, "INT8 is available"),
        ("jetson", True, "INT8 is available"),
        ("x86_64-cpu", True, "needs calibration images"),
        ("riscv", False, "unknown export target"),
    ],
)
def test_impossible_requests_are_refused(target: str, int8: bool, message: str, tmp_path: Path) -> None:
    model, config = tiny_model("classification")
    with pytest.raises(InvalidInput, match=message):
        export_model(model, config, target, tmp_path / "out", int8=int8)


def test_non_empty_output_dir_is_refused(tmp_path: Path) -> None:
    model, config = tiny_model("classification")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("x")
    with pytest.raises(InvalidInput, match="not empty"):
        export_model(model, config, "x86_64-cpu", tmp_path / "out")


def test_image_set_from_labelled_folder(tmp_path: Path) -> None:
    from PIL import Image

    for folder, count in (("normal", 3), ("crack", 2)):
        (tmp_path / folder).mkdir()
        for i in range(count):
            Image.fromarray(np.full((20, 30, 3), 40 * i, np.uint8)).save(tmp_path / folder / f"{i}.png")
    images = load_image_set(tmp_path)
    assert len(images) == 5 and images.labels is not None
    assert sorted(images.labels) == [0, 0, 0, 1, 1]
    assert images.images[0].shape == (20, 30, 3) and images.images[0].dtype == np.uint8
    assert len(load_image_set(tmp_path, limit=2)) == 2


def test_image_set_from_cookie_manifest(cookies_dir: Path) -> None:
    manifest = cookies_dir / "dataset-files" / "manifests" / "train_class.manifest"
    mapping = {"s3://dda-cookie-dataset-571264418424/cookies/": str(cookies_dir) + "/"}
    images = load_image_set(manifest, limit=6, mappings=mapping)
    assert len(images) == 6 and images.labels is not None
    assert {im.shape for im in images.images} == {(768, 576, 3)}  # portrait 576x768 JPEGs


def _fixed_runner(anomaly_prob: float, size: int = 8):  # type: ignore[no-untyped-def]
    def run(_image: np.ndarray) -> dict[str, np.ndarray]:
        scores = np.array([1.0 - anomaly_prob, anomaly_prob], dtype=np.float32)
        return {"scores": scores, "anomaly_map": np.zeros((size, size), dtype=np.float32)}

    return run


def test_gate_forgives_only_flips_that_rounding_explains() -> None:
    """A score sitting on the threshold may flip by float rounding; a real flip still fails."""
    from dda.ml.export.parity import run_parity

    _, config = tiny_model("classification")
    config = {**config, "threshold": 0.5}
    golden = synthetic_image_set(count=4)
    on_the_line = run_parity(
        _fixed_runner(0.50002), _fixed_runner(0.49998), golden, config, target="x86_64-cpu", precision="fp32"
    )
    assert on_the_line.passed, on_the_line.failures
    assert on_the_line.metrics["borderline_flips"] == len(golden)
    assert all(row["borderline_flip"] for row in on_the_line.per_image)

    real_flip = run_parity(
        _fixed_runner(0.7), _fixed_runner(0.3), golden, config, target="x86_64-cpu", precision="fp32"
    )
    assert not real_flip.passed
    assert any(f.startswith("verdict_agreement") for f in real_flip.failures)


def test_gate_measures_probability_flips_in_logits_as_the_runtime_sees_them() -> None:
    """Near 0 an absolute tolerance forgave every flip (0.0004 -> 0.0075 at a threshold of 0.0007):
    the gate then reported full agreement while the runtime's verdicts agreed on half the images."""
    from dda.ml.export.parity import run_parity

    _, config = tiny_model("classification")
    config = {**config, "threshold": 0.0007}
    golden = synthetic_image_set(count=4)
    report = run_parity(
        _fixed_runner(0.0004), _fixed_runner(0.0075), golden, config, target="x86_64-cpu", precision="int8"
    )
    assert not report.passed and report.metrics["borderline_flips"] == 0
    assert report.metrics["verdict_agreement"] == report.metrics["verdict_agreement_exact"] == 0.0
    on_the_line = run_parity(
        _fixed_runner(0.000702), _fixed_runner(0.000698), golden, config,
        target="x86_64-cpu", precision="int8",
    )  # fmt: skip
    assert on_the_line.passed and on_the_line.metrics["borderline_flips"] == len(golden)
    assert on_the_line.metrics["verdict_agreement_exact"] == 0.0
