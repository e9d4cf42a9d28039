"""`dda train`, `dda evaluate` and `dda predict`: train a model, measure it, run it on images."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from dda.cli._common import handle_errors
from dda.core.errors import DDAError, InvalidInput
from dda.core.signing import file_sha256

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"}
console = Console(stderr=False)


class ModelTypeChoice(StrEnum):
    auto = "auto"
    classification = "classification"
    segmentation = "segmentation"
    anomaly = "anomaly"


class MethodChoice(StrEnum):
    padim = "padim"
    patchcore = "patchcore"
    linear = "linear"


class ThresholdRuleChoice(StrEnum):
    budget = "budget"
    f1 = "f1"


class DeviceChoice(StrEnum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


DeviceOption = Annotated[
    DeviceChoice, typer.Option(help="auto: CUDA when torch sees a GPU, else the CPU; cuda: fail without one")
]


class OverlayFormat(StrEnum):
    png = "png"
    jpg = "jpg"


MapOption = Annotated[
    list[str] | None,
    typer.Option(
        "--map",
        help="PREFIX=LOCATION: read files the manifest names under PREFIX from LOCATION (repeatable)",
    ),
]


def _load(manifest: Path, maps: list[str] | None, progress: bool, decode: bool = False) -> Any:
    """Load a manifest; ``decode`` opens every image first (as `dda data validate` does), so a corrupt
    file is named before training starts. Unmatched --map prefixes are reported with a suggestion."""
    import warnings

    from dda.formats.loader import load_dataset
    from dda.formats.uris import parse_mappings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dataset = load_dataset(
            manifest, mappings=parse_mappings(maps or []), progress=progress, decode=decode
        )
    for warning in caught:
        if "--map prefix" in str(warning.message):
            typer.secho(f"warning: {warning.message}", fg=typer.colors.YELLOW, err=True)
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return dataset


def _parse_size(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    parts = value.lower().replace("x", ",").split(",")
    try:
        height, width = (int(p) for p in parts)
    except ValueError:
        raise InvalidInput(
            f"--input-size {value!r} is not HEIGHTxWIDTH", hint="e.g. --input-size 256x192"
        ) from None
    if not (32 <= height <= 2048 and 32 <= width <= 2048):
        raise InvalidInput(f"--input-size {value} is outside 32..2048 pixels per side", hint="e.g. 224x224")
    return height, width


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def metrics_table(metrics: dict[str, Any], title: str) -> Table:
    """One readable table of the headline figures of a metrics dict."""
    table = Table(title=title, show_header=True, header_style="bold", min_width=len(title) + 4)
    table.add_column("metric")
    table.add_column("value", justify="right")
    image = metrics.get("image", {})
    rows: list[tuple[str, Any]] = [
        ("images evaluated", metrics.get("num_images")),
        ("accuracy", image.get("accuracy")),
        ("precision (anomaly)", image.get("precision")),
        ("recall (anomaly)", image.get("recall")),
        ("F1 (anomaly)", image.get("f1")),
        ("image AUROC", image.get("auroc")),
        ("threshold", metrics.get("threshold")),
    ]
    if metrics.get("verdict_rule"):
        rows.append(("verdict rule", metrics["verdict_rule"]))
    pixel = metrics.get("pixel")
    if pixel:
        rows += [
            ("defect IoU", pixel.get("mean_defect_iou")),
            ("defect Dice", pixel.get("mean_defect_dice")),
            ("pixel AUROC", pixel.get("pixel_auroc")),
        ]
    matrix = image.get("confusion_matrix")
    if matrix:
        rows.append(("confusion (rows true)", " / ".join(" ".join(str(v) for v in row) for row in matrix)))
    for name, value in rows:
        table.add_row(name, _fmt(value))
    return table


def threshold_table(report: dict[str, Any]) -> Table:
    """The threshold report (see docs/quality.md) as a table."""
    from dda.ml.quality.thresholds import describe

    table = Table(title="threshold report", show_header=False)
    table.add_column("what")
    table.add_column("value")
    for name, value in describe(report):
        table.add_row(name, value)
    return table


@handle_errors
def train(
    manifest: Annotated[Path, typer.Argument(help="Ground Truth or DDA manifest (JSON Lines)")],
    model_type: Annotated[
        ModelTypeChoice | None,
        typer.Option(
            "--type",
            "-t",
            help="what to train (default: auto = choose by cross-validation, see docs/quality.md)",
        ),
    ] = None,
    method: Annotated[
        MethodChoice | None,
        typer.Option(help="anomaly: padim (default) or patchcore; auto: force linear/padim/patchcore"),
    ] = None,
    max_false_reject: Annotated[
        float, typer.Option(min=0.0001, max=0.49, help="share of good parts the threshold may reject")
    ] = 0.01,
    threshold_rule: Annotated[
        ThresholdRuleChoice, typer.Option(help="budget: meet --max-false-reject; f1: best F1")
    ] = ThresholdRuleChoice.budget,
    candidates: Annotated[
        str | None,
        typer.Option(
            help="auto: comma-separated candidates among linear,padim,patchcore (default linear,padim)"
        ),
    ] = None,
    maps: MapOption = None,
    epochs: Annotated[int | None, typer.Option(min=1, max=1000, help="most epochs (early stopping)")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="where to write the model artifact")] = Path(
        "model.tar.gz"
    ),
    backbone: Annotated[
        str | None,
        typer.Option(help="mobilenet_v2 (default), resnet18, resnet50 or wide_resnet50_2 (weights needed)"),
    ] = None,
    input_size: Annotated[
        str | None, typer.Option(help="HEIGHTxWIDTH (default: ~224x224, image aspect)")
    ] = None,
    seed: Annotated[int, typer.Option(help="seed of the train/validation split and training")] = 0,
    resume: Annotated[bool, typer.Option(help="continue an interrupted run from its checkpoint")] = False,
    time_budget: Annotated[float | None, typer.Option(help="stop training after this many seconds")] = None,
    device: DeviceOption = DeviceChoice.auto,
    progress: Annotated[bool, typer.Option(help="show progress bars")] = True,
) -> None:
    """Train a model on a labelled manifest and write model.tar.gz (weights, config, metrics, plots)."""
    from dda.ml.training import DEFAULT_MODEL_TYPE, TrainOptions, train_model

    settings: dict[str, Any] = {
        "seed": seed, "resume": resume, "max_false_reject": max_false_reject,
        "threshold_rule": threshold_rule.value, "device": device.value,
    }  # fmt: skip
    for key, value in (
        ("epochs", epochs),
        ("backbone", backbone),
        ("input_size", _parse_size(input_size)),
        ("method", method.value if method else None),
        ("time_budget_s", time_budget),
        ("candidates", [c.strip() for c in candidates.split(",") if c.strip()] if candidates else None),
    ):
        if value is not None:
            settings[key] = value
    try:
        options = TrainOptions(**settings)
    except ValueError as exc:
        raise InvalidInput(f"bad training option: {exc}", hint="see `dda train --help`") from exc
    chosen = model_type.value if model_type else DEFAULT_MODEL_TYPE
    dataset = _load(manifest, maps, progress, decode=True)
    from dda.ml.device import describe_device, resolve_device

    where = describe_device(resolve_device(options.device))
    typer.echo(f"training {chosen} on {len(dataset)} images {dataset.count_by_label()} ({where})", err=True)
    result = train_model(
        dataset, chosen, out, options=options, progress=progress, dataset_id=file_sha256(manifest)
    )
    split = result.config["split"]
    seen = f"{split['cv_folds']}-fold cross-validation, out-of-fold" if "cv_folds" in split else "validation"
    console.print(
        metrics_table(result.metrics, f"{result.config['model_type']} model — {seen} ({split['val']} images)")
    )
    selection = result.config.get("selection")
    if selection:
        typer.echo(f"chosen: {selection['reason']}")
    if result.config.get("threshold_report"):
        console.print(threshold_table(result.config["threshold_report"]))
    typer.echo(f"model written to {result.artifact_path} (checkpoint {result.checkpoint_path})")
    typer.echo(f"stopped: {result.stop_reason}; {result.epochs_run} epochs in {result.duration_s:.0f} s")
    if result.interrupted:
        typer.echo("training was interrupted; the model holds the best weights seen so far", err=True)
        raise typer.Exit(130)


@handle_errors
def evaluate(
    model: Annotated[
        Path,
        typer.Argument(
            help="model.tar.gz (or its folder / a checkpoint), a `dda export` folder or a package"
        ),
    ],
    manifest: Annotated[Path, typer.Argument(help="labelled manifest to evaluate on")],
    maps: MapOption = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="also write the metrics to this file")
    ] = None,
    device: DeviceOption = DeviceChoice.auto,
    progress: Annotated[bool, typer.Option(help="show progress bars")] = True,
) -> None:
    """Measure a trained model, an export or a package on any labelled manifest; exports and packages
    run through the station's runtime (ONNX Runtime / OpenVINO), so INT8 is measured as deployed."""
    from dda.ml.shipped import evaluate_shipped, open_shipped, shipped_kind

    dataset = _load(manifest, maps, progress)
    report: dict[str, Any] | None
    if shipped_kind(model):
        with open_shipped(model) as shipped:
            metrics = evaluate_shipped(shipped, dataset, progress=progress)
            title = f"{shipped.name} ({shipped.precision}, {shipped.backend.name}) on {manifest.name}"
            report = shipped.config.get("threshold_report")
    else:
        from dda.ml.artifact import load_artifact
        from dda.ml.training import evaluate_model

        trained = load_artifact(model)
        metrics = evaluate_model(trained, dataset, progress=progress, device=device.value)
        metrics["verdict_rule"] = (
            trained.config.get("verdict_rule") if trained.model_type == "segmentation" else None
        )
        title = f"{trained.model_type} model on {manifest.name}"
        report = trained.config.get("threshold_report")
    metrics.update(model=str(model), manifest=str(manifest), dataset_id=file_sha256(manifest))
    console.print(metrics_table(metrics, title))
    if report:
        metrics["threshold_report"] = report
        console.print(threshold_table(report))
        typer.echo("(the threshold report was measured at training time; the table above is this data set)")
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(metrics, indent=2, default=str), encoding="utf-8")
        typer.echo(f"metrics written to {json_out}")


def _images_in(target: Path) -> list[Path]:
    if target.is_file():
        return [target]
    if target.is_dir():
        images = sorted(p for p in target.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise InvalidInput(
                f"no images in {target}", hint=f"put {', '.join(sorted(IMAGE_SUFFIXES))} files there"
            )
        return images
    raise InvalidInput(f"{target} does not exist", hint="pass an image file or a folder of images")


PREDICT_BATCH = 16


@handle_errors
def predict(
    model: Annotated[
        Path,
        typer.Argument(
            help="model.tar.gz (or its folder / a checkpoint), a `dda export` folder or a package"
        ),
    ],
    target: Annotated[Path, typer.Argument(help="an image file or a folder of images")],
    out: Annotated[Path, typer.Option("--out", "-o", help="folder for overlays and JSON")] = Path(
        "predictions"
    ),
    overlay_format: Annotated[OverlayFormat, typer.Option("--format", help="overlay image format")] = (
        OverlayFormat.png
    ),
) -> None:
    """Run a model on images; write an overlay and a JSON verdict per image. Trained models run in
    batches; exports and packages run image by image through the station's runtime."""
    from dda.ml.shipped import open_shipped, shipped_kind

    images = _images_in(target)
    out.mkdir(parents=True, exist_ok=True)
    if shipped_kind(model):
        with open_shipped(model) as shipped:
            records, failures = _predict_all(
                images, lambda batch: [shipped.predict(i) for i in batch], out, overlay_format
            )
    else:
        from dda.ml.artifact import load_artifact
        from dda.ml.predict import Predictor

        predictor = Predictor(load_artifact(model))
        records, failures = _predict_all(images, predictor.predict_batch, out, overlay_format)
    (out / "predictions.json").write_text(json.dumps(records, indent=2), encoding="utf-8")
    typer.echo(f"{len(records)} predictions written to {out}")
    if failures:
        raise typer.Exit(1)


def _predict_all(
    images: list[Path], run: Any, out: Path, overlay_format: OverlayFormat
) -> tuple[list[dict[str, Any]], int]:
    """Decode, predict in batches of PREDICT_BATCH and write each image's files; (records, failures)."""
    from dda.ml.data import load_rgb

    table = Table(
        "image", "verdict", "label", "score", "threshold", title=f"predictions ({len(images)} images)"
    )
    records: list[dict[str, Any]] = []
    failures = 0
    for start in range(0, len(images), PREDICT_BATCH):
        paths, decoded = [], []
        for path in images[start : start + PREDICT_BATCH]:
            try:
                decoded.append(load_rgb(path))
                paths.append(path)
            except DDAError as exc:
                failures += 1
                typer.secho(f"error: {path.name}: {exc.message}", fg=typer.colors.RED, err=True)
        for path, prediction in zip(paths, run(decoded), strict=True):
            records.append(_write_prediction(prediction, path, out, overlay_format))
            table.add_row(
                path.name, prediction.verdict, prediction.label, _fmt(prediction.anomaly_score),
                _fmt(prediction.threshold),
            )  # fmt: skip
    console.print(table)
    return records, failures


def _write_prediction(
    prediction: Any, path: Path, out: Path, overlay_format: OverlayFormat
) -> dict[str, Any]:
    from dda.core.safe_image import encode_jpeg, encode_png
    from dda.ml.predict import prediction_record

    record = prediction_record(prediction, str(path))
    suffix = "jpg" if overlay_format == OverlayFormat.jpg else "png"
    overlay_path = out / f"{path.stem}_overlay.{suffix}"
    encoded = encode_jpeg(prediction.overlay) if suffix == "jpg" else encode_png(prediction.overlay)
    overlay_path.write_bytes(encoded)
    record["overlay"] = str(overlay_path)
    if prediction.mask is not None:
        mask_path = out / f"{path.stem}_mask.png"
        mask_path.write_bytes(encode_png(prediction.mask))
        record["mask"] = str(mask_path)
    (out / f"{path.stem}.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
    return record


def register(app: typer.Typer) -> None:
    from dda.cli.benchmark_cmd import benchmark

    app.command("train")(train)
    app.command("benchmark")(benchmark)
    app.command("evaluate")(evaluate)
    app.command("predict")(predict)
