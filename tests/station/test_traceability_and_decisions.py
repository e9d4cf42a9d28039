"""Traceability (part id, serial, lot, recipe, model + dataset version on each result, searchable),
recipes, threshold calibration from reviewed results with audited, reversible revisions, and the
drift alarm, through the REST API (real SQLite, real ONNX Runtime brightness model: an image's
anomaly score is its mean brightness / 255)."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from dda.core.safe_image import encode_png
from dda.station.services.drift import DriftMonitor
from tests.station.modelkit import solid, write_installed_package


def _setup(client: TestClient, auth: dict[str, str]) -> tuple[int, Any]:
    station = client.app.state.station  # type: ignore[attr-defined]
    write_installed_package(station.paths.model_repo, "bright", "1", dataset_id="cookies-ds@7")
    write_installed_package(station.paths.model_repo, "bright", "2", dataset_id="cookies-ds@8")
    sources = client.get("/api/v1/image-sources", headers=auth).json()
    body = {
        "name": "line-1",
        "source_id": next(s["id"] for s in sources if s["type"] == "upload"),
        "model_name": "bright",
        "model_version": "1",
        "triggers": [{"type": "manual"}],
    }
    response = client.post("/api/v1/workflows", json=body, headers=auth)
    assert response.status_code == 201, response.text
    return response.json()["id"], station


def _run(client: TestClient, auth: dict[str, str], wid: int, grey: int, **params: Any) -> Any:
    response = client.post(
        f"/api/v1/workflows/{wid}/run",
        params=params,
        files={"file": ("p.png", encode_png(solid(grey)))},
        headers=auth,
    )
    return response


def test_results_carry_the_part_and_the_model_and_are_searchable(
    client: TestClient, auth: dict[str, str]
) -> None:
    wid, station = _setup(client, auth)
    first = _run(client, auth, wid, 200, part_id="P-0001", serial="SN-9", lot="L-42").json()
    _run(client, auth, wid, 20, part_id="P-0002")
    assert first["part_id"] == "P-0001" and first["serial"] == "SN-9" and first["lot"] == "L-42"
    assert first["model_version"] == "1" and first["dataset_version"] == "cookies-ds@7"
    found = client.get("/api/v1/results", params={"part_id": "P-0001"}, headers=auth).json()
    assert found["total"] == 1 and found["items"][0]["id"] == first["id"]
    assert client.get("/api/v1/results", params={"lot": "L-42"}, headers=auth).json()["total"] == 1
    assert client.get("/api/v1/results", params={"part_id": "nope"}, headers=auth).json()["total"] == 0
    line = json.loads(station.store.path(first["manifest_path"]).read_text())
    assert line["dda-trace"] == {
        "part-id": "P-0001",
        "serial": "SN-9",
        "lot": "L-42",
        "recipe": None,
        "model-name": "bright",
        "model-version": "1",
        "dataset-version": "cookies-ds@7",
    }
    too_long = client.get("/api/v1/results", params={"part_id": "x" * 129}, headers=auth)
    assert too_long.status_code == 422


def test_recipes_select_model_and_threshold(client: TestClient, auth: dict[str, str]) -> None:
    wid, _ = _setup(client, auth)
    recipes = {"recipes": {"5": {"model_name": "bright", "model_version": "2", "threshold": 0.9}}}
    assert client.put(f"/api/v1/workflows/{wid}/recipes", json=recipes, headers=auth).status_code == 200
    by_recipe = _run(client, auth, wid, 200, recipe=5).json()  # score 0.78: anomaly for v1, not at 0.9
    assert by_recipe["model_version"] == "2" and by_recipe["recipe"] == 5
    assert by_recipe["threshold"] == 0.9 and by_recipe["prediction"] == "normal"
    assert _run(client, auth, wid, 200).json()["model_version"] == "1"  # no recipe: the workflow's own
    unknown = _run(client, auth, wid, 200, recipe=6)
    assert unknown.status_code == 422 and "recipe 6" in unknown.json()["detail"]
    # Changeover by API: the active recipe applies to the next parts that bring none.
    change = client.put(f"/api/v1/workflows/{wid}/active-recipe", json={"recipe": 5}, headers=auth)
    assert change.status_code == 200
    assert _run(client, auth, wid, 200).json()["model_version"] == "2"
    bad = client.put(f"/api/v1/workflows/{wid}/active-recipe", json={"recipe": 9}, headers=auth)
    assert bad.status_code == 422
    missing = {"recipes": {"1": {"model_name": "bright", "model_version": "404"}}}
    assert client.put(f"/api/v1/workflows/{wid}/recipes", json=missing, headers=auth).status_code == 404


def test_calibration_meets_the_false_reject_budget_and_applies_as_a_reversible_revision(
    client: TestClient, auth: dict[str, str]
) -> None:
    wid, _ = _setup(client, auth)
    assert (
        client.get(f"/api/v1/workflows/{wid}/calibration", headers=auth).status_code == 409
    )  # nothing reviewed
    goods = list(range(100, 140, 2))  # 20 good parts, scores 0.39 .. 0.54 (a few judged anomaly by 0.5)
    defects = [150, 170, 130]  # one defect scores like a good part: it will be missed
    for grey, verdict in [(g, "normal") for g in goods] + [(d, "anomaly") for d in defects]:
        result = _run(client, auth, wid, grey).json()
        review = {"human_classification": verdict}
        assert client.patch(f"/api/v1/results/{result['id']}", json=review, headers=auth).status_code == 200
    cal = client.get(f"/api/v1/workflows/{wid}/calibration", params={"budget": 0.05}, headers=auth).json()
    assert cal["good"] == 20 and cal["defects"] == 3 and cal["enough_data"] is True
    assert cal["false_reject_rate"] <= 0.05  # one good part of 20 may be rejected, not two
    assert abs(cal["threshold"] - 136 / 255) < 1e-3  # the second-highest good score
    assert abs(cal["miss_rate"] - 1 / 3) < 1e-9 and cal["curve"]
    plot = client.get(f"/api/v1/workflows/{wid}/calibration/plot", params={"budget": 0.05}, headers=auth)
    assert plot.status_code == 200 and plot.content.startswith(b"\x89PNG")
    assert (
        client.get(f"/api/v1/workflows/{wid}/calibration", params={"budget": 2}, headers=auth).status_code
        == 422
    )

    applied = client.post(
        f"/api/v1/workflows/{wid}/calibration/apply", json={"budget": 0.05, "reason": "shift A"}, headers=auth
    ).json()
    assert applied["revision"]["revision"] == 2 and applied["revision"]["username"] == "admin"
    assert applied["revision"]["previous"]["threshold"] is None
    assert _run(client, auth, wid, 133).json()["prediction"] == "normal"  # 0.52: was an anomaly at 0.5
    workflow = client.get(f"/api/v1/workflows/{wid}", headers=auth).json()
    assert workflow["revision"] == 2 and abs(workflow["threshold"] - cal["threshold"]) < 1e-9
    revisions = client.get(f"/api/v1/workflows/{wid}/revisions", headers=auth).json()
    assert [r["action"] for r in revisions] == ["initial", "calibration"]
    restored = client.post(f"/api/v1/workflows/{wid}/revisions/1/restore", json={}, headers=auth).json()
    assert restored["revision"] == 3 and restored["settings"]["threshold"] is None
    assert _run(client, auth, wid, 133).json()["prediction"] == "anomaly"  # the model's own 0.5 again
    assert (
        client.post(f"/api/v1/workflows/{wid}/revisions/99/restore", json={}, headers=auth).status_code == 404
    )


def test_drift_alarm_in_health_metrics_and_drift_endpoint(client: TestClient, auth: dict[str, str]) -> None:
    wid, station = _setup(client, auth)
    station.inspector.drift = DriftMonitor(station.metrics, window=4, reference_size=6, bound=3.0)
    for grey in (60, 62, 58, 61, 59, 60):  # the reference: the first results
        _run(client, auth, wid, grey)
    for grey in (61, 59, 60, 60):
        _run(client, auth, wid, grey)
    status = client.get("/api/v1/drift", headers=auth).json()["line-1"]
    assert status["alarm"] is False and status["reference"] == "first_results"
    for grey in (200, 205, 210, 200):  # the lamp got much brighter
        _run(client, auth, wid, grey)
    status = client.get("/api/v1/drift", headers=auth).json()["line-1"]
    assert status["alarm"] is True and {"brightness", "anomaly_score"} <= set(status["drifting"])
    health = client.get("/api/v1/health", headers=auth).json()
    assert health["status"] == "degraded" and health["drift"]["line-1"]["alarm"] is True
    assert 'dda_drift_alarm{workflow="line-1"} 1.0' in client.get("/metrics", headers=auth).text
    assert client.post(f"/api/v1/workflows/{wid}/drift/reset", headers=auth).status_code == 204
    assert client.get("/api/v1/drift", headers=auth).json() == {}


def test_drift_reference_from_the_package_metrics() -> None:
    from dda.station.services.drift import package_reference
    from dda.station.services.metrics import StationMetrics

    reference = package_reference(
        {
            "drift_reference": {
                "anomaly_score": {"mean": 0.2, "std": 0.05},
                "brightness": {"mean": 120, "std": 4},
            }
        }
    )
    monitor = DriftMonitor(StationMetrics(), window=4, reference_size=100)
    alarms = [monitor.observe("w", ("m", "1"), 0.21, (121.0, 50.0), reference) for _ in range(4)]
    assert alarms[-1] == []  # no baseline to collect: judged against the package at once
    alarms = [monitor.observe("w", ("m", "1"), 0.22, (90.0, 50.0), reference) for _ in range(4)]
    assert alarms[-1] == ["brightness"]
    assert monitor.status()["w"]["reference"] == "package"
