"""The quality gate on the canary wave (portal side, with simulated devices speaking the real
signed protocol): the canary's heartbeats on the new model are compared with its heartbeats on
the previous one; within bounds the rollout goes on, out of bounds it halts and the canary is
rolled back. Configuration documents are checked for shape by the portal (the station checks
their plugin configs: test_agent_e2e.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fleet.conftest import Fleet, SimDevice
from tests.fleet.test_portal_fleet import beat, desired, enrolled, report

GATE = {"max_anomaly_rate_increase": 0.1, "max_p99_latency_ratio": 2.0, "max_devices_with_errors": 0}


def _on_new_model(device: SimDevice, **metrics: Any) -> None:
    """A heartbeat from the canary after it installed the deployment it was given."""
    etag = desired(device)["etag"]
    beat(device, desired_etag=etag, **metrics)


@pytest.mark.slow
def test_the_canary_gate_lets_a_good_model_on_and_stops_a_bad_one(fleet_both: Fleet, tmp_path: Path) -> None:
    fleet = fleet_both
    devices = enrolled(fleet, 3)
    for device in devices:
        beat(device, anomaly_rate=0.05, p99_latency_ms=20.0, throughput_per_min=60)  # the old model
    package = fleet.package(tmp_path, version="1.0.0")
    target = {"kind": "group", "value": "press"}

    good = fleet.deploy([package], target, waves=["1", "100%"], quality_gate=GATE, name="good")
    canary = next(d for d in devices if d.device_id == good["devices"][0]["device_id"])
    report(canary, good["id"], "healthy")
    waiting = fleet.deployment(good["id"])
    assert waiting["released_wave"] == 0 and waiting["gate_report"] is None  # no beat on it yet
    _on_new_model(canary, anomaly_rate=0.08, p99_latency_ms=30.0, throughput_per_min=60)
    passed = fleet.deployment(good["id"])
    assert passed["released_wave"] == 1 and passed["gate_report"]["passed"] is True
    for device in devices:
        if device is not canary:
            report(device, good["id"], "healthy")
    assert fleet.deployment(good["id"])["status"] == "completed"

    bad = fleet.deploy([package], target, waves=["1", "100%"], quality_gate=GATE, name="bad")
    canary = next(d for d in devices if d.device_id == bad["devices"][0]["device_id"])
    report(canary, bad["id"], "healthy")  # it installs and passes its golden check ...
    _on_new_model(canary, anomaly_rate=0.45, p99_latency_ms=90.0, throughput_per_min=60)  # ... but
    halted = fleet.deployment(bad["id"])
    assert halted["status"] == "failed" and "quality gate" in halted["status_reason"]
    assert "anomaly rate 0.080 -> 0.450" in halted["status_reason"] and "p99" in halted["status_reason"]
    assert halted["released_wave"] == 0 and halted["gate_report"]["passed"] is False
    assert next(d for d in halted["devices"] if d["wave"] == 0)["rolled_back_by_portal"] is True
    assert desired(canary)["deployment_id"] == good["id"]  # the canary goes back to the good one
    assert all(desired(d)["deployment_id"] == good["id"] for d in devices)


def test_configuration_documents_and_the_update_operation_are_checked(fleet: Fleet) -> None:
    (device,) = enrolled(fleet, 1)
    url = f"/api/v1/usecases/{fleet.usecase_id}"
    document: dict[str, Any] = {
        "version": "2026.12.1",
        "sources": [{"name": "cam-1", "config": {"type": "folder", "path": "/srv/incoming"}}],
        "workflows": [
            {
                "name": "inspect",
                "source": "cam-1",
                "model_name": "cookies",
                "model_version": "1.0.0",
                "threshold": 0.7,
            }
        ],
    }
    broken = {**document, "workflows": [{**document["workflows"][0], "source": "cam-9"}]}
    body = {"name": "cfg", "target": {"kind": "device", "value": "st-0"}, "config": broken}
    refused = fleet.client.post(f"{url}/deployments", json=body, headers=fleet.operator)
    assert refused.status_code == 422 and "cam-9" in refused.text
    body["config"] = document
    made = fleet.client.post(f"{url}/deployments", json=body, headers=fleet.operator)
    assert made.status_code == 201, made.text
    config: Any = desired(device)["config"]
    assert config["workflows"][0]["threshold"] == 0.7

    command_url = f"{url}/devices/{device.device_id}/commands"
    bad = {"kind": "update_config", "args": {"config": {"version": "x", "oops": 1}}}
    assert fleet.client.post(command_url, json=bad, headers=fleet.operator).status_code == 422
    good = {"kind": "update_config", "args": {"config": document}}
    assert fleet.client.post(command_url, json=good, headers=fleet.operator).status_code == 201
    commands: Any = beat(device)["commands"]
    (signed,) = commands
    assert signed["command"]["kind"] == "update_config"
    assert signed["command"]["args"]["config"]["version"] == "2026.12.1"
