from __future__ import annotations

from typer.testing import CliRunner

import dda
from dda.cli.main import app

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0
    assert dda.__version__ in result.output


def test_help_lists_every_group() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for group in ("data", "train", "export", "package", "station", "portal", "doctor"):
        assert group in result.output


def test_portal_group_lists_its_commands() -> None:
    result = runner.invoke(app, ["portal", "--help"])
    assert result.exit_code == 0
    for command in ("serve", "migrate", "create-admin"):
        assert command in result.output


def test_doctor_reports_each_check_with_a_fix() -> None:
    result = runner.invoke(app, ["doctor"])
    for name in ("ONNX Runtime", "PyTorch", "OpenVINO", "object store", "station database", "weights"):
        assert name in result.output
    assert result.exit_code == 0, result.output
