"""`dda portal login|whoami|usecases|users|team|tokens|logout` against a real `dda portal serve`."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dda.cli.main import app
from dda.core.settings import get_settings
from tests.portal.conftest import PASSWORD
from tests.portal.portal_process import dda_command, portal_env, running_portal

pytestmark = pytest.mark.slow


def _dda(env: dict[str, str], *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    """`dda ...` in its own process (the server side: create-admin, serve)."""
    result = subprocess.run(dda_command(*args), env=env, capture_output=True, text=True, timeout=120)
    if ok:
        assert result.returncode == 0, f"dda {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def _cli(env: dict[str, str], *args: str, ok: bool = True) -> Ran:
    """`dda ...` in this process (the client side), with its own environment and settings."""
    get_settings.cache_clear()
    cleared = {name: None for name in os.environ if name.startswith("DDA_")}
    result = CliRunner().invoke(app, list(args), env={**cleared, **env})
    get_settings.cache_clear()
    ran = Ran(result.exit_code, result.stdout, result.stderr)
    if ok:
        assert ran.returncode == 0, f"dda {' '.join(args)}:\n{ran.stdout}\n{ran.stderr}\n{result.exception!r}"
    return ran


def test_cli_against_a_served_portal(tmp_path: Path) -> None:
    server_dir, client_dir = tmp_path / "server", tmp_path / "client"
    server_env = portal_env(server_dir, DDA_SECRET_KEY="cli-test-secret-" + "x" * 32)
    _dda({**server_env, "DDA_ADMIN_PASSWORD": PASSWORD}, "portal", "create-admin", "root")
    with running_portal(server_env, tmp_path / "serve.log") as url:
        env = {"DDA_DATA_DIR": str(client_dir), "DDA_ENV": "test", "DDA_PORTAL_PASSWORD": PASSWORD}
        assert "not logged in" in _cli(env, "portal", "whoami", ok=False).stderr
        wrong = _cli(
            {**env, "DDA_PORTAL_PASSWORD": "Wrong-Password-1"}, "portal", "login", url, "-u", "root", ok=False
        )
        assert wrong.returncode == 1 and "wrong username or password" in wrong.stderr
        _cli(env, "portal", "login", url, "-u", "root")
        session = client_dir / "client" / "portal-session.json"
        assert stat.S_IMODE(session.stat().st_mode) == 0o600
        assert PASSWORD not in session.read_text()
        assert "root on" in _cli(env, "portal", "whoami").stdout

        _cli(env, "portal", "usecases", "create", "cookies", "--description", "line 1")
        listed = json.loads(_cli(env, "portal", "usecases", "list", "--json").stdout)
        assert [u["name"] for u in listed] == ["cookies"]
        shown = json.loads(_cli(env, "portal", "usecases", "show", "cookies").stdout)
        assert shown["onboarding_status"] == "ready"

        _cli({**env, "DDA_NEW_PASSWORD": PASSWORD}, "portal", "users", "create", "dana")
        weak = _cli({**env, "DDA_NEW_PASSWORD": "weak"}, "portal", "users", "create", "weakling", ok=False)
        assert "policy" in weak.stderr and "fix:" in weak.stderr
        _cli(env, "portal", "team", "add", "cookies", "dana", "DataScientist")
        assert "dana  DataScientist" in _cli(env, "portal", "team", "list", "cookies").stdout
        users = json.loads(_cli(env, "portal", "users", "list", "--json").stdout)
        assert sorted(u["username"] for u in users) == ["dana", "root"]
        _cli(env, "portal", "users", "disable", "dana")
        assert json.loads(_cli(env, "portal", "users", "show", "dana").stdout)["disabled"] is True
        _cli(env, "portal", "users", "enable", "dana")

        made = _cli(
            env, "portal", "tokens", "create", "cookies", "--name", "ci", "--role", "Viewer", "--days", "7"
        )
        secret = made.stdout.strip().splitlines()[-1]
        assert secret.startswith("ddap_")
        token_env = {"DDA_DATA_DIR": str(tmp_path / "bot"), "DDA_PORTAL_URL": url, "DDA_PORTAL_TOKEN": secret}
        assert (
            json.loads(_cli(token_env, "portal", "usecases", "list", "--json").stdout)[0]["my_role"]
            == "Viewer"
        )
        denied = _cli(token_env, "portal", "users", "list", ok=False)
        assert denied.returncode == 1 and "PortalAdmin" in denied.stderr
        token_id = json.loads(_cli(env, "portal", "tokens", "list", "--json").stdout)[0]["id"]
        _cli(env, "portal", "tokens", "revoke", token_id)
        assert _cli(token_env, "portal", "usecases", "list", ok=False).returncode == 1

        _cli(env, "portal", "usecases", "delete", "cookies", "--yes")
        _cli(env, "portal", "logout")
        assert not session.exists()
        assert _cli(env, "portal", "whoami", ok=False).returncode == 1


def test_serve_refuses_the_default_secret_in_production(tmp_path: Path) -> None:
    env = portal_env(tmp_path, DDA_ENV="production")
    result = _dda(env, "portal", "serve", "--port", "1", ok=False)
    assert result.returncode != 0
    assert "DDA_SECRET_KEY" in result.stderr and "Traceback" not in result.stderr
    env["DDA_SECRET_KEY"] = "dda-development-secret-change-me"
    assert _dda(env, "portal", "serve", "--port", "1", ok=False).returncode != 0
