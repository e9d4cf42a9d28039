"""`dda demo` glue: with a package from an earlier run it installs it, makes the admin, the synthetic
camera and a continuous workflow, and the station then inspects frames on its own. (Training and
export are the ML-core's, tested there; here the earlier run's package is a real signed package.)"""

from __future__ import annotations

import shutil
import time
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dda.core.settings import Settings
from dda.station.app import create_app
from dda.station.demo import (
    DEMO_RECIPE,
    DEMO_STORAGE,
    MODEL_NAME,
    MODEL_VERSION,
    DemoPaths,
    _dda,
    demo_settings,
    prepare,
)
from tests.station.modelkit import build_signed_archive, signing_keypair


def test_demo_reuses_the_last_model_and_runs_a_continuous_workflow(
    station_settings: Settings, tmp_path: Path
) -> None:
    demo = DemoPaths(station_settings.data_dir / "demo")
    private, public = signing_keypair(demo.keys)
    public.rename(demo.keys / "signing-key.pub.pem")  # where `dda package keygen` puts it
    archive = build_signed_archive(tmp_path / "build", private, name=MODEL_NAME, version=MODEL_VERSION)
    shutil.copy(archive, demo.archive)

    user, password = prepare(station_settings)
    assert user == "admin" and password
    assert prepare(station_settings) == (user, password)  # a second run: same login, nothing duplicated

    # The demo station lives in its own folder: the real station is untouched (a clean start later).
    assert demo_settings(station_settings).station_dir == demo.root / "station"
    assert not (station_settings.station_dir / "station.db").exists()
    assert not (station_settings.station_dir / "models").exists()

    with TestClient(
        create_app(demo_settings(station_settings), web_dist=None, configure_logs=False),
        client=("127.0.0.1", 50000),
    ) as client:
        token = client.post("/api/v1/auth/login", json={"username": user, "password": password}).json()
        auth = {"Authorization": f"Bearer {token['access_token']}"}
        workflows = client.get("/api/v1/workflows", headers=auth).json()
        assert [(w["name"], w["state"]) for w in workflows] == [("demo-cookies", "running")]
        assert workflows[0]["storage"] == DEMO_STORAGE  # anomalies + a sample of normal parts, retention
        deadline = time.monotonic() + 60
        while client.get("/api/v1/results/summary", headers=auth).json()["total"] < 3:
            assert time.monotonic() < deadline, "the demo workflow produced no results"
            time.sleep(0.1)
        client.post(f"/api/v1/workflows/{workflows[0]['id']}/stop", headers=auth)
    assert len(list(demo.root.glob("*.tar.gz"))) == 1


@pytest.mark.slow
def test_the_demo_recipe_command_lines_train_the_recipes_model(tmp_path: Path) -> None:
    """The recipe's `dda data synth` and `dda train` lines run and give a model of the recipe's
    type and input size (tiny sizes here; bench/bench_demo_model.py measures the real recipe)."""
    from dda.ml.artifact import load_artifact

    recipe = replace(DEMO_RECIPE, images=8, epochs=1, photo_size=(64, 96), input_size=(64, 96))
    _dda(*recipe.synth_args(tmp_path / "data"))
    _dda(*recipe.train_args(tmp_path / "data" / "groundtruth.manifest", tmp_path / "model.tar.gz"))
    config = load_artifact(tmp_path / "model.tar.gz").config
    assert config["model_type"] == DEMO_RECIPE.model_type == "segmentation"
    assert config["input_size"] == [64, 96]
    assert config["mask_class_names"] == ["background", "crack", "spot", "missing"]
