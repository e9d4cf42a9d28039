"""`dda export`: deploy module -> target-specific model files, checked by the parity gate.

Targets:

- ``x86_64-cpu`` / ``arm64-cpu``: ONNX for ONNX Runtime, FP32 or static INT8 (QOperator).
- ``openvino``: OpenVINO IR (FP32).
- ``jetson``: ONNX plus ``build_engine.sh``, which builds the TensorRT engine on the device.

Work happens in a staging directory; only an export that passes the gate is moved to ``out_dir``.
A refused export leaves ``out_dir/parity_report.json`` (and nothing else) behind.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

import dda
from dda.core.errors import InvalidInput
from dda.core.logging import get_logger
from dda.core.signing import file_sha256
from dda.ml.export.images import ImageSet, split_held_out, synthetic_image_set
from dda.ml.export.jetson import BUILD_SCRIPT, ENGINE_FILE, EngineProfile, write_build_script
from dda.ml.export.onnx_export import (
    DEFAULT_OPSET,
    EXPORTER_METADATA_KEY,
    export_onnx,
    output_names_for,
    read_onnx_metadata,
    verify_onnx,
)
from dda.ml.export.openvino_export import convert_openvino
from dda.ml.export.parity import REPORT_FILE, ParityReport, ParityThresholds, enforce, run_parity
from dda.ml.export.quantize import DEFAULT_RECIPES, MIN_CALIBRATION_IMAGES, QuantRecipe, quantize_int8
from dda.ml.onnx_module import OnnxContractModule
from dda.packaging.exported import EXPORT_FILE, ExportInfo
from dda.packaging.manifest import TARGETS
from dda.runtime.backends import BackendOptions, create_backend

if TYPE_CHECKING:
    from dda.ml.artifact import TrainedModel

log = get_logger(__name__)

INT8_TARGETS = ("x86_64-cpu", "arm64-cpu")


@dataclass
class ExportResult:
    """Where the export went and what the gate measured."""

    out_dir: Path
    info: ExportInfo
    report: ParityReport

    @property
    def model_path(self) -> Path:
        return self.out_dir / self.info.model_file


def torch_runner(module: nn.Module, model_type: str) -> Callable[[np.ndarray], dict[str, np.ndarray]]:
    """The PyTorch reference: the deploy module on one uint8 image, outputs by contract name."""
    names = output_names_for(model_type)

    def run(image: np.ndarray) -> dict[str, np.ndarray]:
        with torch.inference_mode():
            outputs = module(torch.from_numpy(np.ascontiguousarray(image)))
        return {name: t.detach().cpu().numpy() for name, t in zip(names, outputs, strict=True)}

    return run


def _check_request(target: str, int8: bool, calibration: ImageSet | None) -> None:
    if target not in TARGETS:
        raise InvalidInput(f"unknown export target {target!r}", hint=f"use one of: {', '.join(TARGETS)}")
    if int8 and target not in INT8_TARGETS:
        raise InvalidInput(
            f"INT8 is available for {' and '.join(INT8_TARGETS)}, not {target}",
            hint="drop --int8 (OpenVINO runs FP32 IR; Jetson engines are built in FP16 on the device)",
        )
    if int8 and calibration is None:
        raise InvalidInput("--int8 needs calibration images", hint="pass --calib MANIFEST|FOLDER")


def _prepare_out_dir(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and any(out_dir.iterdir()):
        if not overwrite:
            raise InvalidInput(
                f"output directory {out_dir} is not empty", hint="choose a new directory or pass --overwrite"
            )
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)


@dataclass
class _Candidate:
    files: list[str]
    model_file: str
    fmt: str
    backend: str
    quantization: dict[str, Any] | None = None
    exporter: str = ""


def _gate(
    module: nn.Module,
    config: Mapping[str, Any],
    staging: Path,
    cand: _Candidate,
    golden: ImageSet,
    target: str,
    precision: str,
    thresholds: ParityThresholds | None,
) -> ParityReport:
    backend = create_backend(cand.backend, staging / cand.model_file, BackendOptions())
    try:
        return run_parity(
            torch_runner(module, str(config["model_type"])),
            backend.forward,
            golden,
            config,
            target=target,
            precision=precision,
            thresholds=thresholds,
        )
    finally:
        backend.close()


def _int8_candidates(
    module: nn.Module,
    config: Mapping[str, Any],
    staging: Path,
    calibration: ImageSet,
    golden: ImageSet,
    target: str,
    thresholds: ParityThresholds | None,
    recipes: Sequence[QuantRecipe],
) -> tuple[_Candidate, ParityReport]:
    """Try each quantisation recipe until one passes; the last report explains a refusal."""
    attempts: list[dict[str, Any]] = []
    report: ParityReport | None = None
    cand = _Candidate(["model.onnx"], "model.onnx", "onnx", "onnxruntime")
    for recipe in recipes:
        cand.quantization = quantize_int8(
            staging / "fp32.onnx", staging / "model.onnx", calibration.images, recipe
        )
        report = _gate(module, config, staging, cand, golden, target, "int8", thresholds)
        attempts.append({"recipe": recipe.as_dict(), "passed": report.passed, "failures": report.failures})
        if report.passed:
            break
        log.warning("INT8 recipe failed the parity gate", recipe=recipe.as_dict(), failures=report.failures)
    assert report is not None, "at least one quantisation recipe is required"
    report.notes.append(f"quantisation attempts: {attempts}")
    if cand.quantization is not None:
        cand.quantization["attempts"] = attempts
    return cand, report


def _build(
    module: nn.Module,
    config: Mapping[str, Any],
    staging: Path,
    target: str,
    int8: bool,
    calibration: ImageSet | None,
    golden: ImageSet,
    thresholds: ParityThresholds | None,
    recipes: Sequence[QuantRecipe],
    engine_profile: EngineProfile | None,
) -> tuple[_Candidate, ParityReport]:
    fp32 = staging / ("fp32.onnx" if int8 or target == "openvino" else "model.onnx")
    if isinstance(module, OnnxContractModule):  # an imported model: its graph already is the contract
        verify_onnx(module.save(fp32), config)
    else:
        export_onnx(module, config, fp32, opset=DEFAULT_OPSET)
    exporter = read_onnx_metadata(fp32).get(EXPORTER_METADATA_KEY, "")
    if int8:
        assert calibration is not None
        cand, report = _int8_candidates(
            module, config, staging, calibration, golden, target, thresholds, recipes
        )
        cand.exporter = exporter
        return cand, report
    if target == "openvino":
        convert_openvino(fp32, staging / "model.xml")
        fp32.unlink()
        cand = _Candidate(["model.xml", "model.bin"], "model.xml", "openvino", "openvino", exporter=exporter)
        return cand, _gate(module, config, staging, cand, golden, target, "fp32", thresholds)
    cand = _Candidate(["model.onnx"], "model.onnx", "onnx", "onnxruntime", exporter=exporter)
    report = _gate(module, config, staging, cand, golden, target, "fp32", thresholds)
    if target == "jetson":
        write_build_script(staging, file_sha256(fp32), engine_profile)
        cand.files.append(BUILD_SCRIPT)
        report.notes.append(
            "parity measured with ONNX Runtime (CPU) on model.onnx; the TensorRT engine is "
            "built on the Jetson by build_engine.sh and cannot be checked here"
        )
    return cand, report


def export_model(
    module: nn.Module,
    config: Mapping[str, Any],
    target: str,
    out_dir: Path,
    *,
    int8: bool = False,
    calibration: ImageSet | None = None,
    golden: ImageSet | None = None,
    thresholds: ParityThresholds | None = None,
    recipes: Sequence[QuantRecipe] = DEFAULT_RECIPES,
    engine_profile: EngineProfile | None = None,
    overwrite: bool = False,
) -> ExportResult:
    """Export a deploy module for ``target`` into ``out_dir``, refusing one that fails the gate.

    ``golden`` defaults to images held out from ``calibration`` for INT8 (half of them, when there
    are at least twice the minimum; the INT8 model must not be judged on the images it was
    calibrated on), to the calibration images for FP32, then to synthetic frames (numbers only: no
    labels, so no AUROC). Raises InvalidInput with the gate's findings when parity fails; the
    report is in ``out_dir/parity_report.json`` either way.
    """
    _check_request(target, int8, calibration)
    out_dir = Path(out_dir)
    _prepare_out_dir(out_dir, overwrite)
    if golden is None and int8 and calibration is not None and len(calibration) >= 2 * MIN_CALIBRATION_IMAGES:
        calibration, golden = split_held_out(calibration, len(calibration) // 2)
    golden = golden or calibration or synthetic_image_set()
    precision = "int8" if int8 else "fp32"
    module = module.eval()
    with tempfile.TemporaryDirectory(prefix="dda-export-", dir=out_dir.parent) as tmp:
        staging = Path(tmp)
        cand, report = _build(
            module, config, staging, target, int8, calibration, golden, thresholds, recipes, engine_profile
        )
        if golden.source == "synthetic":
            report.notes.append("golden set: synthetic frames (pass --golden for real images and AUROC)")
        enforce(report, out_dir / REPORT_FILE)
        for name in cand.files:
            shutil.move(str(staging / name), out_dir / name)
    info = ExportInfo(
        target=target,  # type: ignore[arg-type]
        precision=precision,  # type: ignore[arg-type]
        format=cand.fmt,  # type: ignore[arg-type]
        model_file=cand.model_file,
        files=cand.files,
        config=dict(config),
        parity=report.summary(),
        quantization=cand.quantization,
        generated_at_install=[ENGINE_FILE] if target == "jetson" else [],
        opset=DEFAULT_OPSET,
        exporter=cand.exporter,
        versions=_versions(),
    )
    info.write(out_dir)
    log.info("export written", out_dir=str(out_dir), target=target, precision=precision, file=EXPORT_FILE)
    return ExportResult(out_dir, info, report)


def export_trained(trained: TrainedModel, target: str, out_dir: Path, **options: Any) -> ExportResult:
    """Export a loaded artifact (``dda.ml.artifact.load_artifact``): its deploy module, with the
    validation metrics folded into the config so they travel to the package manifest."""
    from dda.ml.deploy import build_deploy_module

    config = dict(trained.config)
    config.setdefault("metrics", trained.metrics)
    return export_model(build_deploy_module(trained), config, target, out_dir, **options)


def _versions() -> dict[str, str]:
    import onnx
    import onnxruntime

    versions = {
        "dda": dda.__version__,
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
    }
    try:
        import openvino

        versions["openvino"] = openvino.__version__
    except ImportError:
        pass
    return versions
