"""The portal's fleet API with simulated devices: enrollment, device authentication (replay,
forgery, revocation), inventory and heartbeats, staged deployments, halt, cancel, rollback, Range."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from dda.fleet_protocol import HEADER_SIGNATURE, DeploymentReport, Heartbeat
from dda.portal.permissions import Role
from dda.portal.services.fleet import devices as devices_service
from tests.fleet.conftest import Fleet, SimDevice


def enrolled(fleet: Fleet, count: int, group: str = "press") -> list[SimDevice]:
    devices = []
    for n in range(count):
        device = SimDevice(fleet.client)
        assert device.enroll(fleet.enrollment_token(group=group, device_name=f"st-{n}")).status_code == 200
        devices.append(device)
    return devices


def beat(device: SimDevice, **fields: object) -> dict[str, object]:
    response = device.call("POST", "/api/v1/agent/heartbeat", Heartbeat(**fields).model_dump_json().encode())
    assert response.status_code == 200, response.text
    result: dict[str, object] = response.json()
    return result


def report(device: SimDevice, deployment_id: str, phase: str, reason: str | None = None) -> None:
    body = DeploymentReport(deployment_id=deployment_id, phase=phase, reason=reason)  # type: ignore[arg-type]
    response = device.call("POST", "/api/v1/agent/reports", body.model_dump_json().encode())
    assert response.status_code == 204, response.text


def desired(device: SimDevice) -> dict[str, object]:
    response = device.call("GET", "/api/v1/agent/desired")
    assert response.status_code == 200, response.text
    result: dict[str, object] = response.json()
    return result


def test_enrollment_token_is_single_use_and_gives_the_signing_keys(fleet: Fleet) -> None:
    token = fleet.enrollment_token(device_name="press-1", group="press", tags=["hall-a"])
    first = SimDevice(fleet.client).enroll(token)
    assert first.status_code == 200, first.text
    answer = first.json()
    assert answer["name"] == "press-1" and answer["usecase_id"] == fleet.usecase_id
    assert answer["package_signing_keys"][0].startswith("-----BEGIN PUBLIC KEY-----")
    again = SimDevice(fleet.client).enroll(token)
    assert again.status_code == 401
    listed = fleet.client.get(
        f"/api/v1/usecases/{fleet.usecase_id}/devices?tag=hall-a", headers=fleet.operator
    )
    assert [d["name"] for d in listed.json()["items"]] == ["press-1"]
    assert listed.json()["items"][0]["status"] == "never_seen"


def test_a_proof_made_with_another_key_is_refused(fleet: Fleet) -> None:
    token = fleet.enrollment_token()
    device, impostor = SimDevice(fleet.client), SimDevice(fleet.client)
    device.key = impostor.key  # the proof is signed with a key other than the one presented
    device_pem = SimDevice(fleet.client).public_pem
    import base64

    from dda.fleet_protocol import EnrollRequest

    proof = base64.b64encode(impostor.key.sign(b"enroll\n" + token.encode())).decode()
    body = EnrollRequest(token=token, public_key_pem=device_pem, proof=proof)
    response = fleet.client.post(
        "/api/v1/agent/enroll", content=body.model_dump_json(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 401


def test_roles_on_enrollment_and_deployments(fleet: Fleet) -> None:
    fleet.harness.make_user("dora", role=Role.DATA_SCIENTIST, usecase_id=fleet.usecase_id)
    fleet.harness.make_user("vic", role=Role.VIEWER, usecase_id=fleet.usecase_id)
    dora, vic = fleet.harness.login("dora"), fleet.harness.login("vic")
    url = f"/api/v1/usecases/{fleet.usecase_id}"
    assert fleet.client.post(f"{url}/devices/enrollment-tokens", json={}, headers=dora).status_code == 403
    assert fleet.client.post(f"{url}/devices/enrollment-tokens", json={}, headers=vic).status_code == 403
    assert fleet.client.get(f"{url}/devices", headers=vic).status_code == 200
    assert fleet.client.get(f"{url}/deployments", headers=vic).status_code == 200
    assert fleet.client.get(f"{url}/deployments", headers=dora).status_code == 403  # the seed's split


def test_replayed_forged_and_revoked_device_requests_get_401(fleet_both: Fleet) -> None:
    fleet = fleet_both
    (device,) = enrolled(fleet, 1)
    body = Heartbeat(cpu_pct=5).model_dump_json().encode()
    from dda.fleet_protocol import sign_request

    headers = sign_request(device.key, device.device_id, "POST", "/api/v1/agent/heartbeat", body)
    headers["content-type"] = "application/json"
    assert fleet.client.post("/api/v1/agent/heartbeat", content=body, headers=headers).status_code == 200
    assert (
        fleet.client.post("/api/v1/agent/heartbeat", content=body, headers=headers).status_code == 401
    )  # replay

    def forge(signed: dict[str, str]) -> None:
        signed[HEADER_SIGNATURE] = signed[HEADER_SIGNATURE][:-4] + "AAA="

    assert device.call("POST", "/api/v1/agent/heartbeat", body, mutate=forge).status_code == 401
    stranger = SimDevice(fleet.client)
    stranger.device_id = device.device_id  # right id, wrong key
    assert stranger.call("POST", "/api/v1/agent/heartbeat", body).status_code == 401
    # A user's login is not a device identity.
    assert fleet.client.get("/api/v1/agent/desired", headers=fleet.operator).status_code == 401
    revoked = fleet.client.post(
        f"/api/v1/usecases/{fleet.usecase_id}/devices/{device.device_id}/revoke", headers=fleet.operator
    )
    assert revoked.json()["status"] == "revoked"
    assert device.call("POST", "/api/v1/agent/heartbeat", body).status_code == 401


def test_heartbeats_make_status_history_and_logs_on_demand(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    (device,) = enrolled(fleet, 1)
    assert beat(device, cpu_pct=12.5, anomaly_rate=0.1)["send_logs"] is False
    url = f"/api/v1/usecases/{fleet.usecase_id}/devices/{device.device_id}"
    detail = fleet.client.get(url, headers=fleet.operator).json()
    assert detail["status"] == "online" and detail["last_heartbeat"]["cpu_pct"] == 12.5
    fleet.client.post(f"{url}/logs/request", headers=fleet.operator)
    assert beat(device)["send_logs"] is True
    beat(device, log_tail=["line one", "line two"])
    logs = fleet.client.get(f"{url}/logs", headers=fleet.operator).json()
    assert logs["lines"] == ["line one", "line two"] and logs["requested"] is False
    history = fleet.client.get(f"{url}/heartbeats", headers=fleet.operator).json()
    # Beats fold into one 5-minute bucket (means; no row per beat): the open bucket is shown.
    assert len(history) == 1 and history[0]["metrics"]["beats"] == 3
    assert history[0]["metrics"]["cpu_pct"] == pytest.approx(12.5 / 3, abs=1e-3)
    monkeypatch.setattr(devices_service, "HISTORY_BUCKET_S", 0)  # the bucket is over: stored
    beat(device, cpu_pct=50.0)
    history = fleet.client.get(f"{url}/heartbeats", headers=fleet.operator).json()
    assert [p["metrics"]["beats"] for p in history] == [3, 1] and history[1]["metrics"]["cpu_pct"] == 50.0


@pytest.mark.slow
def test_waves_release_one_after_another_and_halt_rolls_back(fleet: Fleet, tmp_path: Path) -> None:
    devices = enrolled(fleet, 3)
    v1 = fleet.package(tmp_path, version="1.0.0")
    first = fleet.deploy([v1], {"kind": "group", "value": "press"}, waves=["1", "100%"])
    assert first["waves"] == [1, 3] and first["released_wave"] == 0
    canary = next(d for d in devices if d.device_id == first["devices"][0]["device_id"])
    others = [d for d in devices if d is not canary]
    assert desired(canary)["deployment_id"] == first["id"]
    assert desired(others[0])["deployment_id"] is None  # wave 2 is not released yet
    report(canary, first["id"], "healthy")
    assert fleet.deployment(first["id"])["released_wave"] == 1
    for device in others:
        assert desired(device)["deployment_id"] == first["id"]
        report(device, first["id"], "healthy")
    assert fleet.deployment(first["id"])["status"] == "completed"

    v2 = fleet.package(tmp_path, version="2.0.0", seed=3)
    second = fleet.deploy([v2], {"kind": "group", "value": "press"}, waves=["1", "100%"], name="v2")
    canary2 = next(d for d in devices if d.device_id == second["devices"][0]["device_id"])
    report(canary2, second["id"], "failed", "golden check failed")
    halted = fleet.deployment(second["id"])
    assert halted["status"] == "failed" and "threshold" in halted["status_reason"]
    assert desired(canary2)["deployment_id"] == first["id"]  # back to what it ran before
    rollback = fleet.client.post(
        f"/api/v1/usecases/{fleet.usecase_id}/deployments/{second['id']}/rollback", headers=fleet.operator
    )
    assert rollback.status_code == 201 and rollback.json()["items"][0]["model_version"] == "1.0.0"


@pytest.mark.slow
def test_package_download_supports_ranges(fleet: Fleet, tmp_path: Path) -> None:
    (device,) = enrolled(fleet, 1)
    key = fleet.package(tmp_path)
    deployment = fleet.deploy([key], {"kind": "device", "value": "st-0"})
    model = desired(device)["models"][0]  # type: ignore[index]
    whole = device.call("GET", model["download_path"])
    assert whole.status_code == 200 and hashlib.sha256(whole.content).hexdigest() == model["package_sha256"]
    part = device.call("GET", model["download_path"], headers={"Range": "bytes=100-"})
    assert part.status_code == 206 and part.content == whole.content[100:]
    assert part.headers["content-range"] == f"bytes 100-{len(whole.content) - 1}/{len(whole.content)}"
    bad = device.call("GET", model["download_path"], headers={"Range": "bytes=999999999-"})
    assert bad.status_code == 422
    outsider = SimDevice(fleet.client)
    outsider.enroll(fleet.enrollment_token(device_name="other"))
    assert outsider.call("GET", model["download_path"]).status_code == 404
    assert deployment["items"][0]["package_size"] == len(whole.content)
