"""`dda portal models list|versions|upload|import-onnx|stage|compare` against a real `dda portal serve`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dda.client import PortalClient
from dda.ml.artifact import save_onnx_artifact
from dda.ml.onnx_import import import_onnx, parse_spec
from tests.cli.test_portal_remote import _cli, _dda
from tests.ml.onnx_models import make_classifier, to_onnx
from tests.portal.conftest import PASSWORD
from tests.portal.portal_process import portal_env, running_portal

pytestmark = pytest.mark.slow


def test_models_commands_against_a_served_portal(tmp_path: Path) -> None:
    raw = to_onnx(make_classifier(classes=3), (1, 3, 24, 32))
    (tmp_path / "vendor.onnx").write_bytes(raw)
    spec = parse_spec({"model_type": "classification", "class_names": ["normal", "a", "b"]})
    wrapped, config = import_onnx(raw, spec)
    artifact = save_onnx_artifact(tmp_path / "model.tar.gz", wrapped, config, {"image": {"auroc": 0.75}})

    server_env = portal_env(tmp_path / "server", DDA_SECRET_KEY="cli-models-secret-" + "x" * 32)
    _dda({**server_env, "DDA_ADMIN_PASSWORD": PASSWORD}, "portal", "create-admin", "root")
    with running_portal(server_env, tmp_path / "serve.log") as url:
        with PortalClient(url) as client:
            client.auth.login("root", PASSWORD)
            client.usecases.create("line-1")
        env = {"DDA_DATA_DIR": str(tmp_path / "client"), "DDA_ENV": "test", "DDA_PORTAL_PASSWORD": PASSWORD}
        _cli(env, "portal", "login", url, "-u", "root")
        uploaded = _cli(env, "portal", "models", "upload", "line-1", str(artifact), "--name", "cls")
        assert "registered cls v1 (classification, candidate)" in uploaded.stdout
        imported = _cli(
            env,
            "portal",
            "models",
            "import-onnx",
            "line-1",
            str(tmp_path / "vendor.onnx"),
            "--name",
            "cls",
            "--class-names",
            "a,normal,b",
            "--normal-class",
            "normal",
            "--yes",
        )
        assert "imported cls v2" in imported.stdout and '"input_size": [' in imported.stdout
        listed = json.loads(_cli(env, "portal", "models", "list", "line-1", "--json").stdout)
        assert [(m["name"], m["latest_version"]["version"]) for m in listed] == [("cls", 2)]
        versions = _cli(env, "portal", "models", "versions", "line-1", "cls").stdout
        assert "v2  candidate  onnx_import" in versions and "v1  candidate  upload" in versions
        assert (
            "v1: candidate -> production"
            in _cli(env, "portal", "models", "stage", "line-1", "cls:1", "production").stdout
        )
        promoted = _cli(
            env, "portal", "models", "stage", "line-1", "cls:2", "production", "--reason", "newer"
        )
        assert "v1: production -> staging" in promoted.stdout
        compared = _cli(env, "portal", "models", "compare", "line-1", "cls:1", "cls:2").stdout
        assert "image.auroc  0.75  -  -" in compared
        bad = _cli(env, "portal", "models", "stage", "line-1", "cls:9", "production", ok=False)
        assert bad.returncode == 1 and "no version 'cls:9'" in bad.stderr
