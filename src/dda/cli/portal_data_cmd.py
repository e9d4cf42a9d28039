"""`dda portal datasets list|upload|create-version|export`: images and datasets of a use case on
the portal you are logged in to (``dda portal login``), through :mod:`dda.client.data`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from dda.cli._common import fail, handle_errors

datasets_app = typer.Typer(help="Images and datasets of a use case on the portal.", no_args_is_help=True)
Usecase = Annotated[str, typer.Argument(help="use case name or id")]
Format = Annotated[str, typer.Option("--format", help="gt, dda, coco or yolo")]
MapsOption = Annotated[
    list[str] | None, typer.Option("--map", help="PREFIX=FOLDER: references under PREFIX are in FOLDER")
]
LabelsArg = Annotated[
    Path, typer.Argument(exists=True, dir_okay=False, help="GT/DDA manifest, COCO JSON or YOLO zip")
]
OutOption = Annotated[
    Path | None, typer.Option("--out", help="zip to write (default: <dataset>-v<N>-<fmt>.zip)")
]


def register(portal_app: typer.Typer) -> None:
    portal_app.add_typer(datasets_app, name="datasets")


def _connect() -> tuple[Any, Any, Any]:
    from dda.cli.portal_remote import _client

    client = _client()
    return client, client.data, client.datasets


def _dataset(datasets: Any, usecase_id: str, ref: str) -> Any:
    found = datasets.find(usecase_id, ref)
    if found is None:
        raise fail(f"no dataset {ref!r} in this use case", hint="list them with `dda portal datasets list`")
    return found


@datasets_app.command("list")
@handle_errors
def list_datasets(usecase: Usecase, as_json: bool = typer.Option(False, "--json")) -> None:
    """Datasets of the use case with their version counts."""
    client, _, datasets = _connect()
    with client:
        rows = datasets.list(client.usecases.find(usecase).id)
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in rows], indent=2))
        return
    for row in rows:
        typer.echo(f"{row.name}  versions={row.versions}  latest=v{row.latest_version or '-'}  id={row.id}")


@datasets_app.command("upload")
@handle_errors
def upload(
    usecase: Usecase,
    paths: Annotated[list[Path], typer.Argument(help="images, zip/tar archives of images, or folders")],
    folder: str = typer.Option("", "--folder", help="where the images land in the use case's tree"),
) -> None:
    """Upload images (folders are walked; archives are unpacked on the server). Each file's outcome
    is listed when it was refused; the good files land whatever the others do."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        elif path.is_file():
            files.append(path)
        else:
            raise fail(f"{path} does not exist", hint="check the path")
    client, data, _ = _connect()
    with client:
        result = data.upload(client.usecases.find(usecase).id, files, folder=folder)
    for item in result.items:
        if item.status == "rejected":
            typer.echo(f"refused {item.name}: {item.error}" + (f" (fix: {item.hint})" if item.hint else ""))
    counts = result.counts
    typer.echo(
        f"stored {counts.get('stored', 0)}, duplicates {counts.get('duplicate', 0)}, "
        f"already there {counts.get('exists', 0)}, refused {counts.get('rejected', 0)}"
    )
    if counts.get("rejected") and not (
        counts.get("stored") or counts.get("duplicate") or counts.get("exists")
    ):
        raise typer.Exit(1)


@datasets_app.command("create-version")
@handle_errors
def create_version(
    usecase: Usecase,
    dataset: Annotated[str, typer.Argument(help="dataset name (created when missing) or id")],
    labels: LabelsArg,
    label_format: Format = "gt",
    images_folder: str = typer.Option("", "--images-folder", help="folder of the images in the use case"),
    maps: MapsOption = None,
    seed: int = typer.Option(0, help="seed of the train/val/test split"),
) -> None:
    """A new immutable version from labels over images already uploaded; prints its stats."""
    mappings: dict[str, str] = {}
    for item in maps or []:
        prefix, sep, target = item.partition("=")
        if not sep or not prefix:
            raise fail(f"--map {item!r} is not PREFIX=FOLDER", hint="e.g. --map s3://bucket/cookies/=cookies")
        mappings[prefix] = target
    client, _, datasets = _connect()
    with client:
        usecase_id = client.usecases.find(usecase).id
        row = datasets.find(usecase_id, dataset) or datasets.create(usecase_id, dataset)
        version = datasets.create_version(
            usecase_id,
            row.id,
            labels,
            label_format=label_format,
            images_folder=images_folder,
            mappings=mappings,
            seed=seed,
        )
    typer.echo(
        f"{row.name} v{version.number}: {version.image_count} images, classes {version.stats['classes']}"
    )
    typer.echo(f"split {version.split['counts']}; {version.report.get('warnings', 0)} warning(s)")


@datasets_app.command("export")
@handle_errors
def export(
    usecase: Usecase,
    dataset: Annotated[str, typer.Argument(help="dataset name or id")],
    version: Annotated[int | None, typer.Option("--version", help="version number (default: latest)")] = None,
    fmt: Format = "gt",
    out: OutOption = None,
) -> None:
    """Download a version as a zip (Ground Truth / DDA manifest with images and masks, COCO, YOLO)."""
    client, _, datasets = _connect()
    with client:
        usecase_id = client.usecases.find(usecase).id
        row = _dataset(datasets, usecase_id, dataset)
        versions = datasets.versions(usecase_id, row.id)
        chosen = next((v for v in versions if version is None or v.number == version), None)
        if chosen is None:
            raise fail(f"dataset {row.name} has no version {version}", hint="see `dda portal datasets list`")
        target = out or Path(f"{row.name}-v{chosen.number}-{fmt}.zip")
        datasets.export(usecase_id, row.id, chosen.id, target, fmt)
    typer.echo(f"wrote {target}")
