"""Remote operations reach the station only as signed, expiring, single-use commands through its
own pull channel; the station runs only what its settings allow, only under results/ and logs/."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dda.core.settings import RemoteOperationSettings, Settings
from dda.fleet_protocol import DeviceCommand, SignedCommand, command_bytes
from dda.station.agent.commands import CommandRunner, Refused
from dda.station.agent.identity import enroll
from dda.station.agent.worker import Agent
from dda.station.context import build_station
from tests.fleet.processes import PortalProcess

pytestmark = pytest.mark.slow


def test_operator_reads_logs_and_files_but_nothing_outside(
    portal_process: PortalProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    portal = portal_process
    log_file = tmp_path / "station.log"
    log_file.write_text("".join(f"line {n}\n" for n in range(10)))
    monkeypatch.setenv("DDA_LOG_FILE", str(log_file))
    settings = Settings(data_dir=tmp_path / "st", env="test", station={"remote": {"allow_restart": False}})
    station = build_station(settings)
    (station.paths.results / "2026").mkdir(parents=True)
    (station.paths.results / "2026" / "part-17.json").write_text('{"verdict": "anomaly"}')
    token = portal.api("POST", "/devices/enrollment-tokens", json={"device_name": "cam"})
    identity = enroll(station.paths, portal.url, token["token"])
    agent = Agent.for_station(station)
    assert agent is not None
    agent.setup()
    base = f"/devices/{identity.device_id}/commands"
    try:
        asked = {
            name: portal.api("POST", base, json=body)["id"]
            for name, body in {
                "logs": {"kind": "logs", "args": {"lines": 3}},
                "list": {"kind": "list_files", "args": {"path": "results/2026"}},
                "fetch": {"kind": "fetch_file", "args": {"path": "results/2026/part-17.json"}},
                "escape": {"kind": "fetch_file", "args": {"path": "results/../fleet/device-key.pem"}},
                "reboot": {"kind": "reboot"},
                "restart": {"kind": "restart"},
            }.items()
        }
        agent.tick()
        done = {c["id"]: c for c in portal.api("GET", base)}
        outcome = {name: done[cid] for name, cid in asked.items()}
        assert outcome["logs"]["status"] == "succeeded"
        assert outcome["logs"]["result"]["lines"] == ["line 7", "line 8", "line 9"]
        assert [e["path"] for e in outcome["list"]["result"]["entries"]] == ["results/2026/part-17.json"]
        assert outcome["fetch"]["status"] == "succeeded"
        url = f"{portal.url}/api/v1/usecases/{portal.usecase_id}{base}/{asked['fetch']}/file"
        assert httpx.get(url, headers=portal.headers).content == b'{"verdict": "anomaly"}'
        for name in ("escape", "reboot", "restart"):
            assert outcome[name]["status"] == "failed", name
            assert outcome[name]["message"].startswith("refused"), outcome[name]
        assert "station.remote.allow_reboot" in outcome["reboot"]["message"]
        # Delivered once: the next heartbeat carries nothing to run again.
        agent.tick()
        assert {c["status"] for c in portal.api("GET", base)} == {"succeeded", "failed"}
    finally:
        agent.teardown()
        station.engine.dispose()


def _signed(key: Ed25519PrivateKey, device_id: str, *, expires_in_s: int = 60) -> SignedCommand:
    now = datetime.now(UTC)
    command = DeviceCommand(
        id="c-1",
        device_id=device_id,
        kind="logs",
        args={},
        issued_at=now,
        expires_at=now + timedelta(seconds=expires_in_s),
    )
    return SignedCommand(
        command=command, signature=base64.b64encode(key.sign(command_bytes(command))).decode()
    )


def test_forged_expired_foreign_and_replayed_commands_are_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    from dda.station.paths import StationPaths
    from dda.station.services.models import trust_key_pem

    paths = StationPaths(tmp_path / "station")
    trusted = Ed25519PrivateKey.generate()
    pem = trusted.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    trust_key_pem(paths, pem, "usecase")
    runner = CommandRunner(
        paths,
        client=None,
        device_id="dev-1",
        folder=tmp_path,  # type: ignore[arg-type]
        settings=RemoteOperationSettings(),
    )
    runner.verify(_signed(trusted, "dev-1"))
    for signed, why in [
        (_signed(Ed25519PrivateKey.generate(), "dev-1"), "not signed by a key"),
        (_signed(trusted, "dev-1", expires_in_s=-1), "expired"),
        (_signed(trusted, "dev-2"), "another device"),
    ]:
        with pytest.raises(Refused, match=why):
            runner.verify(signed)
    tampered = _signed(trusted, "dev-1")
    tampered.command.args["lines"] = 2000
    with pytest.raises(Refused, match="not signed"):
        runner.verify(tampered)
    good = _signed(trusted, "dev-1")
    runner._remember(good.command.id, good.command.expires_at)
    with pytest.raises(Refused, match="replay"):
        runner.verify(good)
