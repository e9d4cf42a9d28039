"""`dda export`: trained model -> ONNX (FP32/INT8) / OpenVINO / Jetson, refused if parity fails."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from dda.cli._common import handle_errors
from dda.core.errors import InvalidInput

console = Console()


class TargetChoice(StrEnum):
    x86_64_cpu = "x86_64-cpu"
    arm64_cpu = "arm64-cpu"
    openvino = "openvino"
    jetson = "jetson"


def _size(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    try:
        height, width = (int(v) for v in value.lower().split("x"))
    except ValueError as exc:
        raise InvalidInput(f"size {value!r} is not HEIGHTxWIDTH", hint="e.g. --engine-opt 1080x1920") from exc
    return height, width


@handle_errors
def export(
    model: Annotated[Path, typer.Argument(help="Trained model: model.tar.gz (or its unpacked folder).")],
    target: Annotated[TargetChoice, typer.Option("--target", "-t", help="Where the model will run.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (new or empty).")],
    int8: Annotated[bool, typer.Option("--int8", help="Static INT8 quantisation (CPU targets).")] = False,
    calib: Annotated[
        Path | None, typer.Option("--calib", help="Calibration images: a manifest or an image folder.")
    ] = None,
    golden: Annotated[
        Path | None,
        typer.Option(
            "--golden",
            help="Golden images for the parity gate (default: INT8: images of --calib held out from "
            "calibration; FP32: the --calib images).",
        ),
    ] = None,
    maps: Annotated[
        list[str] | None,
        typer.Option("--map", help="PREFIX=LOCATION for manifest URIs (repeatable)."),
    ] = None,
    calib_limit: Annotated[int, typer.Option(help="At most this many calibration images.")] = 32,
    golden_limit: Annotated[int, typer.Option(help="At most this many golden images.")] = 64,
    engine_opt: Annotated[
        str | None, typer.Option(help="Jetson: typical camera frame HEIGHTxWIDTH for the TensorRT profile.")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a non-empty output folder.")
    ] = False,
) -> None:
    """Export a trained model for a target; the parity gate refuses one that drifts from PyTorch."""
    from dda.formats.uris import parse_mappings
    from dda.ml.artifact import load_artifact
    from dda.ml.export import EngineProfile, export_trained, load_image_set

    mappings = parse_mappings(maps or [])
    trained = load_artifact(model)
    calibration = golden_set = None
    if calib and int8 and golden is None:  # the gate judges on images held out from calibration
        from dda.ml.export.images import split_held_out

        both = load_image_set(calib, limit=calib_limit + golden_limit, mappings=mappings)
        if len(both) > calib_limit or len(both) >= 8:
            calibration, golden_set = split_held_out(both, min(calib_limit, max(4, len(both) // 2)))
        else:
            calibration = both
    elif calib:
        calibration = load_image_set(calib, limit=calib_limit, mappings=mappings)
    if golden:
        golden_set = load_image_set(golden, limit=golden_limit, mappings=mappings)
    opt = _size(engine_opt)
    profile = EngineProfile(opt_size=opt) if opt else None
    with console.status(f"exporting for {target.value}{' (INT8)' if int8 else ''} and checking parity..."):
        result = export_trained(
            trained,
            target.value,
            out,
            int8=int8,
            calibration=calibration,
            golden=golden_set,
            engine_profile=profile,
            overwrite=overwrite,
        )
    _print_report(result.report.to_dict(), result.out_dir)


def _print_report(report: dict[str, object], out_dir: Path) -> None:
    table = Table(title=f"parity gate: {'passed' if report['passed'] else 'FAILED'}", show_header=True)
    table.add_column("check")
    table.add_column("value", justify="right")
    metrics = report["metrics"]
    assert isinstance(metrics, dict)
    for key in (
        "max_score_diff_normalised",
        "max_map_diff_normalised",
        "verdict_agreement",
        "auroc_reference",
        "auroc_exported",
        "exported_ms_per_image",
    ):
        if metrics.get(key) is not None:
            table.add_row(key, f"{metrics[key]:.6g}")
    console.print(table)
    for note in report.get("notes") or []:  # type: ignore[attr-defined]
        console.print(f"note: {note}")
    console.print(f"export written to {out_dir} ({report['target']}, {report['precision']})")


def register(app: typer.Typer) -> None:
    app.command("export")(export)
