"""The operator's flows through the REST API (TestClient, real SQLite, real ONNX Runtime model)."""

from __future__ import annotations

import io
import json
import os
import time
import zipfile
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from dda.core.safe_image import decode_image, encode_png
from dda.station.db.models import InferenceResult, Workflow
from tests.station.modelkit import solid

WHITE = encode_png(solid(250))
BLACK = encode_png(solid(5))


def _workflow(client: TestClient, auth: dict[str, str], source_id: int, **extra: object) -> dict:
    body = {
        "name": "inspect",
        "source_id": source_id,
        "model_name": "bright",
        "model_version": "1",
        "triggers": [{"type": "manual"}],
        "outputs": [],
        **extra,
    }
    response = client.post("/api/v1/workflows", json=body, headers=auth)
    assert response.status_code == 201, response.text
    return response.json()


def _upload_source_id(client: TestClient, auth: dict[str, str]) -> int:
    sources = client.get("/api/v1/image-sources", headers=auth).json()
    return next(s["id"] for s in sources if s["type"] == "upload")


def test_plugins_catalog_has_every_family_with_schemas(client: TestClient, auth: dict[str, str]) -> None:
    catalog = client.get("/api/v1/plugins", headers=auth).json()
    assert {p["type"] for p in catalog["sources"]} == {"upload", "folder", "opencv", "gige", "synthetic"}
    assert {p["type"] for p in catalog["triggers"]} == {
        "manual",
        "digital_input",
        "timer",
        "continuous",
        "mqtt",
        "modbus",
        "opcua",
    }
    assert {p["type"] for p in catalog["outputs"]} == {"digital_output", "webhook", "mqtt", "modbus", "opcua"}
    webhook = next(p for p in catalog["outputs"] if p["type"] == "webhook")
    assert webhook["title"] and "url" in webhook["schema"]["properties"]


def test_run_with_upload_stores_durable_result(
    client: TestClient, auth: dict[str, str], installed_model: tuple[str, str]
) -> None:
    workflow = _workflow(client, auth, _upload_source_id(client, auth))
    run = client.post(
        f"/api/v1/workflows/{workflow['id']}/run", files={"file": ("white.png", WHITE)}, headers=auth
    )
    assert run.status_code == 200, run.text
    result = run.json()
    assert result["prediction"] == "anomaly" and result["capture_type"] == "upload"
    assert result["model_name"] == "bright" and result["model_version"] == "1"
    assert result["confidence"] > 0.9 and result["threshold"] == 0.5 and result["has_mask"] is False
    assert {"acquire", "preprocess", "inference", "store", "total"} <= set(result["latency_ms"])

    station = client.app.state.station  # type: ignore[attr-defined]
    for key in ("input_path", "manifest_path"):
        assert station.store.path(result[key]).is_file(), key
    assert not station.store.path(result["output_path"]).exists()  # the overlay is drawn when viewed
    assert station.store.path(result["input_path"]).read_bytes() == WHITE  # the upload, stored as sent
    line = json.loads(station.store.path(result["manifest_path"]).read_text())
    assert line["source-ref"] == "input.png" and line["dda-classification"] == 1
    assert line["dda-classification-metadata"]["type"] == "groundtruth/image-classification"

    normal = client.post(
        f"/api/v1/workflows/{workflow['id']}/run", files={"file": ("b.png", BLACK)}, headers=auth
    )
    assert normal.json()["prediction"] == "normal"
    shown = client.get(f"/api/v1/workflows/{workflow['id']}", headers=auth).json()
    assert shown["last_result"]["id"] == normal.json()["id"] and shown["state"] == "stopped"


def test_run_rejects_a_non_image(
    client: TestClient, auth: dict[str, str], installed_model: tuple[str, str]
) -> None:
    workflow = _workflow(client, auth, _upload_source_id(client, auth))
    bad = client.post(
        f"/api/v1/workflows/{workflow['id']}/run", files={"file": ("x.png", b"<svg/>")}, headers=auth
    )
    assert bad.status_code == 422 and bad.json()["hint"]
    empty = client.post(f"/api/v1/workflows/{workflow['id']}/run", headers=auth)
    assert empty.status_code == 409 and "upload" in empty.json()["detail"]


def test_results_list_review_images_summary_export(
    client: TestClient, auth: dict[str, str], installed_model: tuple[str, str]
) -> None:
    workflow = _workflow(client, auth, _upload_source_id(client, auth))
    ids = []
    for image in (WHITE, BLACK, WHITE):
        run = client.post(
            f"/api/v1/workflows/{workflow['id']}/run", files={"file": ("i.png", image)}, headers=auth
        )
        ids.append(run.json()["id"])

    page = client.get("/api/v1/results", params={"prediction": "anomaly", "limit": 1}, headers=auth).json()
    assert page["total"] == 2 and len(page["items"]) == 1 and page["items"][0]["id"] == ids[2]
    since = client.get(
        "/api/v1/results",
        params={"since": "2000-01-01T00:00:00Z", "until": "2000-01-02T00:00:00Z"},
        headers=auth,
    ).json()
    assert since["total"] == 0

    review = client.patch(
        f"/api/v1/results/{ids[1]}",
        headers=auth,
        json={"flag_for_review": True, "human_classification": "anomaly", "note": "crack at rim"},
    )
    assert review.status_code == 200 and review.json()["flag_for_review"] is True
    assert client.get("/api/v1/results", params={"flagged": True}, headers=auth).json()["total"] == 1

    overlay = client.get(f"/api/v1/results/{ids[0]}/image", params={"kind": "overlay"}, headers=auth)
    assert overlay.headers["content-type"] == "image/jpeg" and decode_image(overlay.content).shape == (
        48,
        64,
        3,
    )
    assert (
        client.get(f"/api/v1/results/{ids[0]}/image", params={"kind": "mask"}, headers=auth).status_code
        == 404
    )
    token = auth["Authorization"].split()[1]
    by_query = client.get(f"/api/v1/results/{ids[0]}/image", params={"kind": "input", "access_token": token})
    assert by_query.status_code == 401  # no tokens in URLs: signed image URLs instead
    signed = client.get(f"/api/v1/results/{ids[0]}", headers=auth).json()["image_urls"]
    assert set(signed) == {"input", "overlay"}
    assert client.get(signed["input"]).content.startswith(b"\x89PNG")

    summary = client.get("/api/v1/results/summary", headers=auth).json()
    assert (summary["total"], summary["normal"], summary["anomaly"], summary["flagged"]) == (3, 1, 2, 1)
    assert summary["per_workflow"]["inspect"]["total"] == 3

    exported = client.post("/api/v1/results/export", json={"flagged": True}, headers=auth)
    assert exported.status_code == 200 and exported.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(exported.content)) as archive:
        lines = [json.loads(x) for x in archive.read("manifest.jsonl").decode().splitlines()]
        assert len(lines) == 1 and archive.read(lines[0]["source-ref"]) == BLACK
    meta = lines[0]["dda-classification-metadata"]
    assert lines[0]["dda-classification"] == 1 and meta["human-annotated"] == "yes"
    assert client.get(f"/api/v1/results/{ids[1]}", headers=auth).json()["downloaded"] is True


def test_folder_source_preview_capture_and_timer_workflow(
    client: TestClient, auth: dict[str, str], installed_model: tuple[str, str], tmp_path: Path
) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    for index in range(3):
        (folder / f"img{index}.png").write_bytes(WHITE if index % 2 else BLACK)
    old = time.time() - 10
    for index, path in enumerate(sorted(folder.iterdir())):
        os.utime(path, (old + index, old + index))
    body = {
        "name": "drop",
        "config": {"type": "folder", "path": str(folder), "min_age_s": 0},
        "camera": {
            "roi": {"x": 0, "y": 0, "width": 32, "height": 24},
            "pipeline": [{"op": "rotate", "degrees": 90}],
        },
    }
    source = client.post("/api/v1/image-sources", json=body, headers=auth)
    assert source.status_code == 201, source.text
    source_id = source.json()["id"]

    preview = client.post(f"/api/v1/image-sources/{source_id}/preview", headers=auth)
    assert preview.status_code == 200 and decode_image(preview.content).shape == (
        32,
        24,
        3,
    )  # ROI, then rotated
    assert (folder / "processed" / "img0.png").is_file()  # oldest first, moved aside
    capture = client.post(f"/api/v1/image-sources/{source_id}/capture", headers=auth)
    assert capture.status_code == 201 and (capture.json()["width"], capture.json()["height"]) == (24, 32)
    image = client.get(capture.json()["image_url"], headers=auth)
    assert image.status_code == 200

    workflow = _workflow(
        client, auth, source_id, name="timed", triggers=[{"type": "timer", "interval_s": 0.05}]
    )
    started = client.post(f"/api/v1/workflows/{workflow['id']}/start", headers=auth)
    assert started.status_code == 200 and started.json()["state"] == "running"
    assert client.put(f"/api/v1/image-sources/{source_id}", json=body, headers=auth).status_code == 409
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if (
            client.get("/api/v1/results", params={"workflow_id": workflow["id"]}, headers=auth).json()[
                "total"
            ]
            >= 1
        ):
            break
        time.sleep(0.05)
    stopped = client.post(f"/api/v1/workflows/{workflow['id']}/stop", headers=auth)
    assert stopped.json()["state"] == "stopped"
    results = client.get("/api/v1/results", params={"workflow_id": workflow["id"]}, headers=auth).json()
    assert results["total"] == 1 and results["items"][0]["capture_type"] == "timer"
    assert results["items"][0]["prediction"] == "normal"  # img2 is black
    assert sorted(p.name for p in (folder / "processed").iterdir()) == ["img0.png", "img1.png", "img2.png"]


def test_secrets_are_masked_and_kept(
    client: TestClient, auth: dict[str, str], installed_model: tuple[str, str]
) -> None:
    hook = {"type": "webhook", "url": "https://example.com/hook", "secret": "s3cr3t-value"}
    workflow = _workflow(client, auth, _upload_source_id(client, auth), outputs=[hook])
    assert workflow["outputs"][0]["secret"] == "**********"
    update = {
        k: workflow[k] for k in ("name", "source_id", "model_name", "model_version", "triggers", "outputs")
    }
    assert client.put(f"/api/v1/workflows/{workflow['id']}", json=update, headers=auth).status_code == 200
    station = client.app.state.station  # type: ignore[attr-defined]
    with station.sessions() as session:
        stored = session.scalar(select(Workflow)).outputs[0]
    assert stored["secret"] == "s3cr3t-value"


def test_conflicts_and_missing_things(
    client: TestClient, auth: dict[str, str], installed_model: tuple[str, str]
) -> None:
    source_id = _upload_source_id(client, auth)
    workflow = _workflow(client, auth, source_id)
    in_use = client.delete(f"/api/v1/image-sources/{source_id}", headers=auth)
    assert in_use.status_code == 409 and "inspect" in in_use.json()["detail"]
    pinned = client.delete("/api/v1/models/bright/1", headers=auth)
    assert pinned.status_code == 409
    missing_model = client.post(
        "/api/v1/workflows",
        headers=auth,
        json={"name": "x", "source_id": source_id, "model_name": "bright", "model_version": "9"},
    )
    assert missing_model.status_code == 404 and missing_model.json()["hint"]
    duplicate = client.post(
        "/api/v1/workflows",
        headers=auth,
        json={"name": "inspect", "source_id": source_id, "model_name": "bright", "model_version": "1"},
    )
    assert duplicate.status_code == 409
    bad_type = client.post(
        "/api/v1/image-sources", headers=auth, json={"name": "n", "config": {"type": "webcam"}}
    )
    assert bad_type.status_code == 422
    assert client.delete(f"/api/v1/workflows/{workflow['id']}", headers=auth).status_code == 204
    assert client.get(f"/api/v1/workflows/{workflow['id']}", headers=auth).status_code == 404
    station = client.app.state.station  # type: ignore[attr-defined]
    with station.sessions() as session:
        assert session.scalar(select(InferenceResult)) is None
