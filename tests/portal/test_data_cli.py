"""`dda portal datasets upload|create-version|list|export` against a real `dda portal serve`.

Needs dda.client and `dda portal login` (another part of the portal work); skipped without them.
"""

from __future__ import annotations

import os
import subprocess
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dda.core.settings import get_settings
from dda.formats.synthetic import generate_synthetic_dataset
from tests.portal.conftest import PASSWORD

pytest.importorskip("dda.cli.portal_remote", reason="dda portal login (dda.client) is not in this tree")
portal_process = pytest.importorskip("tests.portal.portal_process")
pytestmark = pytest.mark.slow


def _cli(env: dict[str, str], *args: str) -> str:
    from dda.cli.main import app

    get_settings.cache_clear()
    cleared = {name: None for name in os.environ if name.startswith("DDA_")}
    result = CliRunner().invoke(app, list(args), env={**cleared, **env})
    get_settings.cache_clear()
    assert result.exit_code == 0, (
        f"dda {' '.join(args)}:\n{result.stdout}\n{result.stderr}\n{result.exception!r}"
    )
    return str(result.stdout)


def test_datasets_cli_against_a_served_portal(tmp_path: Path) -> None:
    server_env = portal_process.portal_env(tmp_path / "server", DDA_SECRET_KEY="cli-data-secret-" + "x" * 32)
    created = subprocess.run(
        portal_process.dda_command("portal", "create-admin", "root"),
        env={**server_env, "DDA_ADMIN_PASSWORD": PASSWORD},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert created.returncode == 0, created.stderr
    manifest = generate_synthetic_dataset(tmp_path / "synth", count=6, size=(64, 64), progress=False)
    with portal_process.running_portal(server_env, tmp_path / "serve.log") as url:
        env = {"DDA_DATA_DIR": str(tmp_path / "client"), "DDA_ENV": "test", "DDA_PORTAL_PASSWORD": PASSWORD}
        _cli(env, "portal", "login", url, "-u", "root")
        _cli(env, "portal", "usecases", "create", "line1")
        out = _cli(
            env,
            "portal",
            "datasets",
            "upload",
            "line1",
            str(manifest.parent / "images"),
            "--folder",
            "s/images",
        )
        assert "stored 6" in out
        _cli(
            env,
            "portal",
            "datasets",
            "upload",
            "line1",
            str(manifest.parent / "masks"),
            "--folder",
            "s/masks",
        )
        out = _cli(
            env,
            "portal",
            "datasets",
            "create-version",
            "line1",
            "synth",
            str(manifest),
            "--images-folder",
            "s",
        )
        assert "synth v1: 6 images" in out
        assert "synth  versions=1" in _cli(env, "portal", "datasets", "list", "line1")
        target = tmp_path / "out.zip"
        _cli(env, "portal", "datasets", "export", "line1", "synth", "--format", "coco", "--out", str(target))
        assert any(n.endswith(".json") for n in zipfile.ZipFile(target).namelist())
