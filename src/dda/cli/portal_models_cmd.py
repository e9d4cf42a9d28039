"""`dda portal models list|versions|upload|import-onnx|stage|compare`: the model registry of a use
case on the portal you are logged in to (see `dda portal login`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from dda.cli._common import fail, handle_errors

models_app = typer.Typer(help="Model registry: versions, stages, uploads, ONNX import.", no_args_is_help=True)
UseCaseArg = Annotated[str, typer.Argument(help="use case id or name")]
VERSION_HELP = "version id, or MODEL:N (model name and version number)"


def _client() -> Any:
    from dda.cli.portal_remote import _client as remote_client

    return remote_client()


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


@models_app.command("list")
@handle_errors
def models_list(usecase: UseCaseArg, as_json: bool = typer.Option(False, "--json")) -> None:
    """Models of a use case with their newest and production versions."""
    with _client() as client:
        rows = client.models.list(client.usecases.find(usecase).id)
    if as_json:
        _echo_json([r.model_dump(mode="json") for r in rows])
        return
    for row in rows:
        latest = f"v{row.latest_version.version} ({row.latest_version.stage})" if row.latest_version else "-"
        production = f"v{row.production_version.version}" if row.production_version else "-"
        typer.echo(f"{row.name}  {row.model_type}  latest {latest}  production {production}")


@models_app.command("versions")
@handle_errors
def models_versions(
    usecase: UseCaseArg,
    model: str = typer.Argument(..., help="model name"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Versions of one model, newest first."""
    with _client() as client:
        usecase_id = client.usecases.find(usecase).id
        found = next((m for m in client.models.list(usecase_id) if model in (m.name, m.id)), None)
        if found is None:
            raise fail(f"no model {model!r} in this use case", hint="see `dda portal models list`")
        rows = client.models.versions(usecase_id, found.id)
    if as_json:
        _echo_json([r.model_dump(mode="json") for r in rows])
        return
    for row in rows:
        typer.echo(f"v{row.version}  {row.stage}  {row.source}  {row.id}  {row.created_at:%Y-%m-%d %H:%M}")


@models_app.command("upload")
@handle_errors
def models_upload(
    usecase: UseCaseArg,
    artifact: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="model.tar.gz from `dda train`")
    ],
    name: str = typer.Option(..., "--name", "-n", help="model name (created if new)"),
    description: str = typer.Option("", help="what this version is"),
) -> None:
    """Register an externally trained model.tar.gz as a new candidate version."""
    with _client() as client:
        row = client.models.upload(client.usecases.find(usecase).id, name, artifact, description=description)
    typer.echo(f"registered {name} v{row.version} ({row.model_type}, {row.stage}) id {row.id}")


def _declared(
    spec_file: Path | None, class_names: str | None, normal_class: str | None, input_size: str | None
) -> dict[str, Any]:
    declared: dict[str, Any] = json.loads(spec_file.read_text()) if spec_file else {}
    if not isinstance(declared, dict):
        raise fail("--spec must hold a JSON object", hint="the fields of the spec `inspect` shows")
    if class_names:
        key = "mask_class_names" if declared.get("model_type") == "segmentation" else "class_names"
        declared[key] = [n.strip() for n in class_names.split(",") if n.strip()]
    if normal_class:
        declared["normal_class"] = normal_class
        declared.pop("anomaly_class", None)
    if input_size:
        height, _, width = input_size.lower().partition("x")
        if not (height.isdigit() and width.isdigit()):
            raise fail(f"--input-size {input_size!r} is not HEIGHTxWIDTH", hint="e.g. 224x224")
        declared["input_size"] = [int(height), int(width)]
    return declared


@models_app.command("import-onnx")
@handle_errors
def models_import_onnx(
    usecase: UseCaseArg,
    onnx_file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="the external .onnx model")],
    name: str = typer.Option(..., "--name", "-n", help="model name (created if new)"),
    spec_file: Annotated[
        Path | None, typer.Option("--spec", exists=True, help="JSON with the declared spec fields")
    ] = None,
    class_names: str = typer.Option(None, help="comma-separated, in the model's output order"),
    normal_class: str = typer.Option(None, help="which class means 'normal'"),
    input_size: str = typer.Option(None, help="HEIGHTxWIDTH when the graph's size is dynamic"),
    yes: bool = typer.Option(False, "--yes", "-y", help="import without asking to confirm the spec"),
    description: str = typer.Option("", help="what this version is"),
) -> None:
    """Bring your own model: inspect an ONNX classifier/segmenter, confirm the spec, import it."""
    with _client() as client:
        usecase_id = client.usecases.find(usecase).id
        declared = _declared(spec_file, class_names, normal_class, input_size)
        inspected = client.models.inspect_onnx(usecase_id, onnx_file)
        spec = {**inspected.spec, **declared}
        typer.echo("graph: " + json.dumps({k: inspected.graph[k] for k in ("opset", "inputs", "outputs")}))
        assumed = [k for k in inspected.assumed if k not in declared]
        typer.echo(
            f"spec (read from the graph: {', '.join(inspected.inferred)}; assumed: {', '.join(assumed)})"
        )
        _echo_json(spec)
        for problem in inspected.problems:
            typer.echo(f"  inspect found: {problem}")
        if not yes and not typer.confirm("import with this spec?", default=False):
            raise typer.Exit(1)
        row = client.models.import_onnx(usecase_id, inspected.import_id, name, spec, description=description)
    typer.echo(f"imported {name} v{row.version} ({row.model_type}, {row.stage}) id {row.id}")


@models_app.command("stage")
@handle_errors
def models_stage(
    usecase: UseCaseArg,
    version: str = typer.Argument(..., help=VERSION_HELP),
    stage: str = typer.Argument(..., help="candidate, staging, production or archived"),
    reason: str = typer.Option("", help="why (kept in the history and the audit log)"),
    demote_to: str = typer.Option("staging", help="where the previous production version goes"),
) -> None:
    """Move a version to another stage (promoting to production demotes the previous one)."""
    with _client() as client:
        usecase_id = client.usecases.find(usecase).id
        target = client.models.find_version(usecase_id, version)
        result = client.models.set_stage(usecase_id, target.id, stage, reason=reason, demote_to=demote_to)
    for change in result.changed:
        typer.echo(f"v{change['version']}: {change['from']} -> {change['to']}")


@models_app.command("compare")
@handle_errors
def models_compare(
    usecase: UseCaseArg,
    a: str = typer.Argument(..., help=VERSION_HELP),
    b: str = typer.Argument(..., help=VERSION_HELP),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Metrics of two versions side by side, with b - a."""
    with _client() as client:
        usecase_id = client.usecases.find(usecase).id
        first, second = client.models.find_version(usecase_id, a), client.models.find_version(usecase_id, b)
        result = client.models.compare(usecase_id, first.id, second.id)
    if as_json:
        _echo_json(result.model_dump(mode="json"))
        return
    typer.echo(
        f"metric  {result.a.model_name} v{result.a.version}  {result.b.model_name} v{result.b.version}  delta"
    )
    for row in result.metrics:
        cells = ["-" if v is None else f"{v:.4g}" for v in (row.a, row.b, row.delta)]
        typer.echo(f"{row.metric}  " + "  ".join(cells))
