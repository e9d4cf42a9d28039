"""Helpers every CLI group uses: error reporting and the 'not landed yet' answer."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

import typer

from dda.core.errors import DDAError

P = ParamSpec("P")
R = TypeVar("R")


def fail(message: str, hint: str | None = None, code: int = 1) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    if hint:
        typer.secho(f"  fix: {hint}", err=True)
    return typer.Exit(code)


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Print a DDAError as 'error: ... / fix: ...' and exit 1, instead of a traceback."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except DDAError as exc:
            raise fail(exc.message, exc.hint) from exc
        except KeyboardInterrupt:
            typer.secho("interrupted", err=True)
            sys.exit(130)

    return wrapper


def not_landed_group(name: str, what: str, issue: str) -> typer.Typer:
    """A command group whose issue has not landed: says so and exits non-zero."""
    app = typer.Typer(help=f"{what} [not available yet: {issue}]", no_args_is_help=False)

    @app.callback(invoke_without_command=True)
    def _not_landed(ctx: typer.Context) -> None:
        raise fail(
            f"`dda {name}` is not available in this version: {what.lower()} lands with {issue}",
            hint="see README.md for what this version can do",
            code=2,
        )

    return app
