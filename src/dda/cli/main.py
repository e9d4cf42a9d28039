"""The `dda` console script: one Typer app with a group per capability."""

from __future__ import annotations

import typer

import dda
from dda.cli import doctor
from dda.cli._common import handle_errors, not_landed_group
from dda.core.logging import configure_logging
from dda.core.settings import get_settings

app = typer.Typer(
    name="dda",
    help="DDA: self-hosted defect detection for factory visual inspection.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.callback()
@handle_errors
def _setup() -> None:
    settings = get_settings()  # refuses e.g. the default secret in production: a clear error, exit 1
    configure_logging(settings.log_level, settings.log_json)


@app.command()
def version() -> None:
    """Print the DDA version."""
    typer.echo(f"dda {dda.__version__}")


app.command(name="doctor")(doctor.doctor)


def _register_groups() -> None:
    """Add each command group; a group whose module is missing says it has not landed."""
    groups = {
        "data": ("Datasets and manifests: transform, validate, import/export, synth", "the ML-core issue"),
        "train": ("Train a model", "the ML-core issue"),
        "export": ("Export a trained model to ONNX / INT8 / OpenVINO", "the ML-core issue"),
        "package": ("Build and verify Triton-layout model packages", "the ML-core issue"),
        "station": ("Run the edge station (LocalServer)", "the edge-station issue"),
        "portal": ("Run the portal", "the portal issue"),
    }
    import importlib

    for name, (what, issue) in groups.items():
        try:
            module = importlib.import_module(f"dda.cli.{name}_cmd")
        except ModuleNotFoundError as exc:
            if exc.name != f"dda.cli.{name}_cmd":
                raise
            app.add_typer(not_landed_group(name, what, issue), name=name)
            continue
        module.register(app)


_register_groups()


def main() -> None:
    app()
