"""Compilation: a trained model exported for stations' targets, FP32 and INT8 (calibrated on the
dataset), each export checked by the parity gate, whose report is kept with the export (also for an
export the gate refuses: the job then goes on with the exports that passed, unless
``require_all``).
Calls :func:`dda.ml.export.export_trained`.

``x86_64-cuda`` is the x86_64 ONNX export (the same file) labelled with its own target, so that
its package gets the Triton configuration for a GPU station (``KIND_AUTO`` with the TensorRT
accelerator, see :func:`dda.packaging.triton.base_config`): a station with an NVIDIA GPU runs it
through ONNX Runtime's TensorRT / CUDA execution providers and falls back to the CPU provider
without one. Its parity gate runs on ONNX Runtime's CPU provider (the result says so).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from dda.core.errors import DDAError
from dda.portal.jobs import integration
from dda.portal.jobs.context import JobContext
from dda.portal.jobs.models import JobFailed
from dda.portal.schemas.common import Strict

Target = Literal["x86_64-cpu", "arm64-cpu", "openvino", "jetson", "x86_64-cuda"]
Precision = Literal["fp32", "int8"]


def default_targets() -> list[Target]:
    return ["x86_64-cpu"]


def default_precisions() -> list[Precision]:
    return ["fp32"]


EXPORT_TARGET = {"x86_64-cuda": "x86_64-cpu"}  # the file a CUDA station runs is the x86_64 ONNX
INT8_OK = {"x86_64-cpu", "arm64-cpu"}
GOLDEN_LIMIT = 200


class CompilationParams(Strict):
    model: integration.ModelRef
    targets: list[Target] = Field(default_factory=default_targets, min_length=1, max_length=5)
    precisions: list[Precision] = Field(default_factory=default_precisions, min_length=1, max_length=2)
    calibration: integration.DatasetRef | None = None  # needed for INT8; golden images for the gate
    calib_limit: int = Field(default=32, ge=1, le=1000)
    # False: an export the parity gate refuses is reported (with its report) and the others go on;
    # the job fails only when no export passes. True: any refusal fails the job.
    require_all: bool = False


def plan(params: CompilationParams) -> tuple[list[tuple[str, str]], list[str]]:
    """(target, precision) pairs to build, and notes on what was skipped."""
    pairs: list[tuple[str, str]] = []
    notes: list[str] = []
    for target in dict.fromkeys(params.targets):
        for precision in dict.fromkeys(params.precisions):
            if precision == "int8" and target not in INT8_OK:
                notes.append(f"{target}: INT8 is not offered (FP32 only)")
                continue
            pairs.append((target, precision))
    return pairs, notes


def run(ctx: JobContext, params: CompilationParams) -> dict[str, Any]:
    from dda.ml.artifact import load_artifact
    from dda.ml.export import load_image_set

    pairs, notes = plan(params)
    if not pairs:
        raise JobFailed("nothing to compile", hint="; ".join(notes))
    needs_calibration = any(p == "int8" for _, p in pairs)
    if needs_calibration and params.calibration is None:
        raise JobFailed("INT8 needs calibration images", hint="give a calibration dataset")
    ctx.progress(2, "loading the model")
    trained = load_artifact(integration.fetch_model(ctx, params.model, ctx.workdir / "model"))
    calibration = golden = None
    if params.calibration is not None:
        manifest = integration.materialize(ctx, params.calibration, ctx.workdir / "calib")
        calibration = load_image_set(manifest, limit=params.calib_limit)
        # The gate judges on more of the set than calibration saw (up to GOLDEN_LIMIT images),
        # so an INT8 export is also measured on images its ranges were not taken from.
        golden = load_image_set(manifest, limit=max(params.calib_limit, GOLDEN_LIMIT))
    model_name = params.model.model_name or "model"
    results = []
    for index, (target, precision) in enumerate(pairs):
        ctx.check_stop()
        ctx.progress(5 + 90 * index / len(pairs), f"exporting {target} {precision}")
        results.append(_export_one(ctx, trained, target, precision, (calibration, golden), model_name))
    passed = [r for r in results if not r.get("refused")]
    refused = [r for r in results if r.get("refused")]
    if refused and (params.require_all or not passed):
        raise JobFailed(refused[0]["error"], refused[0]["hint"])
    return {
        "model": params.model.model_dump(exclude_none=True),
        "exports": passed,
        "refused": refused,
        "notes": notes,
    }


def _export_one(
    ctx: JobContext, trained: Any, target: str, precision: str, images: tuple[Any, Any], model_name: str
) -> dict[str, Any]:
    from dda.ml.export import export_trained

    calibration, golden = images
    out = ctx.workdir / "exports" / f"{target}-{precision}"
    prefix = f"models/{model_name}/exports/{ctx.job_id}/{target}-{precision}"
    store = ctx.store()
    try:
        result = export_trained(
            trained,
            EXPORT_TARGET.get(target, target),
            out,
            int8=precision == "int8",
            calibration=calibration,
            golden=golden,
        )
    except DDAError as exc:
        message = f"{target} {precision}: {_clean(ctx, exc.message)}"
        ctx.log(f"export refused: {message}", level="error")
        report = _read_report(out)
        if report:
            store.put_bytes(f"{prefix}/parity_report.json", json.dumps(report).encode(), "application/json")
        return {
            "target": target,
            "precision": precision,
            "refused": True,
            "error": message,
            "hint": exc.hint or "",
            "parity": _summary(report),
            "prefix": prefix,
        }
    report = result.report.to_dict()
    notes: list[str] = []
    if target in EXPORT_TARGET:
        _relabel(result.out_dir, target)
        notes.append("parity gate measured with ONNX Runtime's CPU provider; GPU stations use TensorRT/CUDA")
    for path in sorted(p for p in result.out_dir.rglob("*") if p.is_file()):
        store.put_file(f"{prefix}/{path.relative_to(result.out_dir).as_posix()}", path)
    ctx.log(f"{target} {precision}: parity gate passed")
    done = {"target": target, "precision": precision, "prefix": prefix, "parity": _summary(report)}
    return {**done, "notes": notes} if notes else done


def _relabel(out_dir: Path, target: str) -> None:
    """Mark an export as built for ``target`` (the packager reads the target from export.json)."""
    from dda.packaging.exported import read_export

    info = read_export(out_dir).model_copy(update={"target": target})
    info.write(out_dir)


def _read_report(out: Path) -> dict[str, Any]:
    path = out / "parity_report.json"
    if not path.is_file():
        return {}
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    keep = ("passed", "target", "precision", "images", "failures", "metrics", "notes")
    return {k: report.get(k) for k in keep if k in report}


def _clean(ctx: JobContext, message: str) -> str:
    """No server paths in what users see."""
    return message.replace(str(ctx.workdir), "<job>")
