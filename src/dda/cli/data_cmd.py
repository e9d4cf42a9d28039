"""`dda data`: transform, validate and inspect manifests; import/export COCO and YOLO; synthesise."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from dda.cli._common import handle_errors
from dda.core.errors import InvalidInput
from dda.formats.dataset import Dataset
from dda.formats.problems import Problem, Severity

app = typer.Typer(
    help="Datasets and manifests: transform, validate, info, import/export, synth.", no_args_is_help=True
)
import_app = typer.Typer(help="Import a COCO or YOLO dataset as a DDA manifest.", no_args_is_help=True)
export_app = typer.Typer(help="Export a manifest's dataset as COCO or YOLO.", no_args_is_help=True)
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")

MapOption = Annotated[
    list[str] | None,
    typer.Option(
        "--map",
        "-m",
        metavar="PREFIX=LOCATION",
        help="Rewrite URIs starting with PREFIX to LOCATION (a folder or URI); repeatable.",
    ),
]
JobOption = Annotated[
    list[str] | None,
    typer.Option(
        "--job",
        "-j",
        metavar="NAME",
        help="Use this labeling job when the manifest holds several of one kind; repeatable.",
    ),
]
NormalOption = Annotated[
    str | None,
    typer.Option(
        "--normal-class", metavar="NAME", help="The class that means 'no defect' (default: by name)."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="data")


def _mappings(items: list[str] | None) -> dict[str, str]:
    from dda.formats.uris import parse_mappings

    return parse_mappings(items or [])


def _print_problems(problems: list[Problem]) -> None:
    for problem in problems:
        color = typer.colors.RED if problem.severity is Severity.ERROR else typer.colors.YELLOW
        typer.secho(problem.format(), fg=color)


@app.command("validate")
@handle_errors
def validate_cmd(
    manifest: Annotated[Path, typer.Argument(help="Ground Truth or DDA manifest (JSON lines).")],
    map_: MapOption = None,
    job: JobOption = None,
    normal_class: NormalOption = None,
    check_files: Annotated[bool, typer.Option(help="Open every image and mask.")] = True,
    as_json: JsonOption = False,
) -> None:
    """Report every problem of a manifest, each with its line number and a fix; exit 1 on errors."""
    from dda.formats.validate import validate_manifest

    report = validate_manifest(
        manifest, mappings=_mappings(map_), jobs=job or [], normal_class=normal_class, check_files=check_files
    )
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "ok": report.ok,
                    "summary": report.summary(),
                    "classes": report.label_counts(),
                    "problems": [p.to_dict() for p in report.sorted_problems],
                },
                indent=2,
            )
        )
    else:
        _print_problems(report.sorted_problems)
        typer.echo(report.summary())
        typer.echo("images per class: " + ", ".join(f"{k}={v}" for k, v in report.label_counts().items()))
        typer.secho(
            "OK" if report.ok else "INVALID", fg=typer.colors.GREEN if report.ok else typer.colors.RED
        )
    if not report.ok:
        raise typer.Exit(1)


@app.command("transform")
@handle_errors
def transform_cmd(
    manifest: Annotated[Path, typer.Argument(help="Ground Truth output manifest (output.manifest).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the DDA manifest.")],
    map_: MapOption = None,
    job: JobOption = None,
    normal_class: NormalOption = None,
    check_files: Annotated[bool, typer.Option(help="Open every image and mask while validating.")] = True,
    force: Annotated[
        bool, typer.Option(help="Write the good lines even when some lines have errors.")
    ] = False,
) -> None:
    """Transform a Ground Truth manifest into a validated DDA manifest (workflow STEP 2)."""
    from dda.formats.transform import require_distinct, transform_gt_to_dda

    require_distinct(manifest, output)
    result = transform_gt_to_dda(
        manifest,
        output,
        mappings=_mappings(map_),
        jobs=job or [],
        normal_class=normal_class,
        check_files=check_files,
        force=force,
    )
    _print_problems(result.report.sorted_problems)
    typer.echo(f"detected jobs: {result.report.parsed.jobs.describe()}")
    if result.output is None:
        typer.secho(
            f"not written: {len(result.report.problems.errors)} error(s); fix them or use --force",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(1)
    counts = ", ".join(f"{k}={v}" for k, v in result.report.label_counts().items())
    typer.echo(f"wrote {result.written} lines to {result.output} ({counts})")
    if result.skipped_lines:
        typer.secho(f"skipped lines: {', '.join(map(str, result.skipped_lines))}", fg=typer.colors.YELLOW)


@app.command("info")
@handle_errors
def info_cmd(
    manifest: Annotated[Path, typer.Argument(help="Ground Truth or DDA manifest.")],
    job: JobOption = None,
    normal_class: NormalOption = None,
    as_json: JsonOption = False,
) -> None:
    """Summarise a manifest: format, jobs, images per class, masks and boxes (files are not opened)."""
    from dda.formats.info import manifest_info

    info = manifest_info(manifest, jobs=job or [], normal_class=normal_class)
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    typer.echo(f"manifest:   {info['manifest']} ({info['format']}, {info['lines']} lines)")
    typer.echo(f"jobs:       {info['jobs']}")
    typer.echo("images:     " + ", ".join(f"{k}={v}" for k, v in info["images_per_class"].items()))
    typer.echo(
        f"masks:      {info['lines_with_mask']} lines name a mask; classes: {', '.join(info['mask_classes'])}"
    )
    if info["box_classes"]:
        typer.echo(
            f"boxes:      {info['boxes']} in {info['lines_with_boxes']} images; "
            f"classes: {', '.join(info['box_classes'])}"
        )
    typer.echo(
        f"problems:   {info['errors']} error(s), {info['warnings']} warning(s) "
        "(`dda data validate` lists them and checks the files)"
    )


@import_app.command("coco")
@handle_errors
def import_coco(
    annotations: Annotated[Path, typer.Argument(help="COCO instances JSON.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the DDA manifest and masks.")],
    images: Annotated[Path | None, typer.Option(help="Folder the file_names are relative to.")] = None,
) -> None:
    """Import COCO (boxes + polygon/RLE masks) as a DDA manifest in OUTPUT/dda.manifest."""
    from dda.formats.coco import read_coco

    _write_imported(read_coco(annotations, images), output)


@import_app.command("yolo")
@handle_errors
def import_yolo(
    dataset: Annotated[Path, typer.Argument(help="YOLO folder with images/, labels/ and classes.txt.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the DDA manifest.")],
) -> None:
    """Import a YOLO detection dataset as a DDA manifest in OUTPUT/dda.manifest."""
    from dda.formats.yolo import read_yolo

    _write_imported(read_yolo(dataset), output)


def _write_imported(dataset: Dataset, output: Path) -> None:
    from dda.formats.writers import write_dda_manifest

    path = write_dda_manifest(dataset, output / "dda.manifest", own_masks=True, refs="absolute")
    counts = ", ".join(f"{k}={v}" for k, v in dataset.count_by_label().items())
    typer.echo(f"wrote {len(dataset)} lines to {path} ({counts})")


@export_app.command("coco")
@handle_errors
def export_coco(
    manifest: Annotated[Path, typer.Argument(help="Ground Truth or DDA manifest.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for annotations.json and images/.")],
    map_: MapOption = None,
    job: JobOption = None,
) -> None:
    """Export a manifest's images, masks and boxes as COCO instances."""
    from dda.formats.coco import write_coco
    from dda.formats.loader import load_dataset

    dataset = load_dataset(manifest, mappings=_mappings(map_), jobs=job or [])
    typer.echo(f"wrote {write_coco(dataset, output)} ({len(dataset)} images)")


@export_app.command("yolo")
@handle_errors
def export_yolo(
    manifest: Annotated[Path, typer.Argument(help="Ground Truth or DDA manifest.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for images/, labels/, classes.txt.")],
    map_: MapOption = None,
    job: JobOption = None,
) -> None:
    """Export as YOLO detection; masks without boxes become one box per connected defect region."""
    from dda.formats.convert import with_boxes_from_masks
    from dda.formats.loader import load_dataset
    from dda.formats.yolo import write_yolo

    dataset = load_dataset(manifest, mappings=_mappings(map_), jobs=job or [])
    if not dataset.box_class_names and dataset.has_masks:
        typer.echo("no boxes in the manifest: deriving them from the masks")
        dataset = with_boxes_from_masks(dataset)
    typer.echo(f"wrote {write_yolo(dataset, output)} ({len(dataset)} images)")


def _parse_size(text: str) -> tuple[int, int]:
    parts = text.lower().replace("*", "x").split("x")
    try:
        height, width = (int(p) for p in parts) if len(parts) == 2 else (int(parts[0]),) * 2
    except ValueError:
        raise InvalidInput(
            f"--size {text!r} is not HEIGHTxWIDTH", hint="e.g. --size 256x320 or --size 256"
        ) from None
    return height, width


@app.command("synth")
@handle_errors
def synth_cmd(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write images/, masks/ and the manifests to.")],
    count: Annotated[int, typer.Option("--count", "-n", min=1, help="Number of images.")] = 40,
    product: Annotated[str, typer.Option(help="cookie, texture, metal or pill.")] = "cookie",
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same images.")] = 0,
    size: Annotated[str, typer.Option(help="Image size HEIGHTxWIDTH (or one number).")] = "256x256",
    anomaly_ratio: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of defective images.")] = 0.5,
    dda: Annotated[bool, typer.Option("--dda/--no-dda", help="Also write dda.manifest.")] = True,
    image_format: Annotated[str, typer.Option("--format", help="png or jpg.")] = "png",
) -> None:
    """Generate synthetic product photos with exact defect masks and a Ground Truth manifest."""
    from dda.formats.synthetic import generate_synthetic_dataset

    manifest = generate_synthetic_dataset(
        out_dir,
        count=count,
        product=product,
        seed=seed,
        size=_parse_size(size),
        anomaly_ratio=anomaly_ratio,
        write_dda=dda,
        image_format=image_format,
    )
    typer.echo(f"wrote {count} {product} images to {out_dir}; manifest: {manifest}")
    if dda:
        typer.echo(f"DDA manifest: {manifest.parent / 'dda.manifest'}")
