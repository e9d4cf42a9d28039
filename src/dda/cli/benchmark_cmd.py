"""`dda benchmark`: k-fold cross-validation x seeds of the default (or a chosen) model on a manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from dda.cli._common import handle_errors
from dda.core.errors import InvalidInput


@handle_errors
def benchmark(
    manifest: Annotated[Path, typer.Argument(help="labelled manifest (normal and defect images)")],
    maps: Annotated[
        list[str] | None,
        typer.Option("--map", help="PREFIX=LOCATION: read files under PREFIX from LOCATION (repeatable)"),
    ] = None,
    model_type: Annotated[
        str, typer.Option("--type", "-t", help="auto (default), anomaly, classification or segmentation")
    ] = "auto",
    method: Annotated[str | None, typer.Option(help="force one method: linear, padim, patchcore")] = None,
    candidates: Annotated[
        str | None, typer.Option(help="auto: comma-separated candidates (default linear,padim)")
    ] = None,
    folds: Annotated[int, typer.Option(min=2, max=20, help="cross-validation folds")] = 5,
    seeds: Annotated[int, typer.Option(min=1, max=20, help="repeat with this many seeds (0, 1, ...)")] = 3,
    max_false_reject: Annotated[
        float, typer.Option(min=0.0001, max=0.49, help="false-reject budget of the threshold")
    ] = 0.01,
    threshold_rule: Annotated[str, typer.Option(help="budget (default) or f1")] = "budget",
    epochs: Annotated[int | None, typer.Option(min=1, max=1000, help="most epochs (trained types)")] = None,
    threads: Annotated[int | None, typer.Option(min=1, max=256, help="torch threads")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="also write the summary here")] = None,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
) -> None:
    """Cross-validate a model type on a labelled data set: mean ± std image AUROC, and at the model's own
    threshold the false-reject and miss rates (plus false reject at 95 % defect catch)."""
    from dda.cli.train_cmd import _load
    from dda.ml.quality.benchmark import format_summary, run_benchmark
    from dda.ml.training import TrainOptions

    settings: dict[str, Any] = {"max_false_reject": max_false_reject, "threshold_rule": threshold_rule}
    chosen = [c.strip() for c in candidates.split(",") if c.strip()] if candidates else None
    for key, value in (
        ("method", method),
        ("epochs", epochs),
        ("num_threads", threads),
        ("candidates", chosen),
    ):
        if value is not None:
            settings[key] = value
    try:
        options = TrainOptions(**settings)
    except ValueError as exc:
        raise InvalidInput(f"bad option: {exc}", hint="see `dda benchmark --help`") from exc
    dataset = _load(manifest, maps, progress, decode=True)
    summary = run_benchmark(
        dataset, model_type=model_type, folds=folds, seeds=tuple(range(seeds)), options=options,
        progress=progress,
    )  # fmt: skip
    for line in format_summary(summary):
        typer.echo(line)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(summary, indent=2), encoding="utf-8")
        typer.echo(f"summary written to {json_out}")
