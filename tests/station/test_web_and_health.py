"""The built web UI is served at / with SPA fallback; health and Prometheus metrics need no login."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from dda.core.safe_image import encode_png
from dda.core.settings import Settings
from dda.station.app import create_app
from tests.station.modelkit import solid


def test_web_dist_is_served_with_spa_fallback(station_settings: Settings, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<html>station ui</html>")
    (dist / "assets" / "app.js").write_text("console.log('ui')")
    (tmp_path / "secret.txt").write_text("outside dist")
    with TestClient(
        create_app(station_settings, web_dist=dist, configure_logs=False), client=("127.0.0.1", 50000)
    ) as client:
        assert client.get("/").text == "<html>station ui</html>"
        assert client.get("/assets/app.js").text == "console.log('ui')"
        assert client.get("/workflows/3").text == "<html>station ui</html>"  # a client-side route
        assert "outside dist" not in client.get("/../secret.txt").text
        assert "outside dist" not in client.get("/assets/..%2F..%2Fsecret.txt").text
        missing_api = client.get("/api/v1/nope")
        assert missing_api.status_code == 404 and "station ui" not in missing_api.text
        assert client.get("/api/v1/auth/status").json()["setup_required"] is True


def test_health_and_metrics(
    client: TestClient, auth: dict[str, str], installed_model: tuple[str, str]
) -> None:
    source_id = client.get("/api/v1/image-sources", headers=auth).json()[0]["id"]
    workflow = client.post(
        "/api/v1/workflows",
        headers=auth,
        json={"name": "h", "source_id": source_id, "model_name": "bright", "model_version": "1"},
    ).json()
    for value in (250, 5, 250):
        client.post(
            f"/api/v1/workflows/{workflow['id']}/run",
            headers=auth,
            files={"file": ("i.png", encode_png(solid(value)))},
        )
    assert client.get("/api/v1/health").json() == {"status": "ok", "live": True}  # no login: liveness
    health = client.get("/api/v1/health", headers=auth).json()
    assert health["status"] == "ok" and health["uptime_s"] >= 0
    assert health["counts"] == {"total": 3, "normal": 1, "anomaly": 2, "flagged": 0}
    assert health["models"] == [{"name": "bright", "version": "1", "status": "loaded", "loaded": True}]
    for stage in ("acquire", "preprocess", "inference", "store", "total"):
        assert health["latency_ms"][stage]["count"] == 3 and health["latency_ms"][stage]["p99"] is not None
    assert health["memory"]["rss_bytes"] > 0 and health["disk"]["total_bytes"] > 0
    assert health["storage"]["used_bytes"] > 0
    station = client.app.state.station  # type: ignore[attr-defined]
    station.history.sample(station)
    history = client.get("/api/v1/health/history", headers=auth).json()
    assert history["interval_s"] > 0 and history["points"][-1]["rss_mb"] > 0
    assert client.get("/api/v1/health/history").status_code == 401
    metrics = client.get("/metrics", headers=auth)
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'dda_results_total{prediction="anomaly",workflow="h"} 2.0' in metrics.text
    assert 'dda_stage_latency_seconds_count{stage="inference"} 3.0' in metrics.text
    assert "dda_models_loaded 1.0" in metrics.text
