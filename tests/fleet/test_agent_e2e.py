"""The fleet as it runs: a portal and stations as separate processes on loopback. Stations enroll
with the CLI, heartbeat, receive a deployment to their group in waves, install it atomically
(golden check, workflow swap), and put the previous version back by themselves when a package
fails its health check; a SIGKILL at any instant of an install leaves a working, verified model."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from tests.fleet.processes import PortalProcess, StationProcess, until

pytestmark = pytest.mark.slow


def test_group_rollout_in_waves_then_a_bad_package_rolls_back(
    portal_process: PortalProcess, tmp_path: Path
) -> None:
    portal = portal_process
    stations = [StationProcess(tmp_path, portal, f"st-{n}", "press") for n in range(2)]
    try:
        for station in stations:
            station.add_workflow("cookies", "1.0.0")
            station.start()
        v1, v2 = portal.package(tmp_path, "1.0.0"), portal.package(tmp_path, "2.0.0", like="1.0.0")
        first = portal.api(
            "POST",
            "/deployments",
            json={
                "name": "v1",
                "target": {"kind": "group", "value": "press"},
                "packages": [v1],
                "waves": ["1", "100%"],
            },
        )
        until(
            lambda: portal.api("GET", f"/deployments/{first['id']}")["status"] == "completed",
            120,
            "v1 rollout",
        )
        devices = until(
            lambda: (
                (items := portal.api("GET", "/devices")["items"])
                and all(d["last_heartbeat"].get("desired_etag") for d in items)
                and items
            ),
            30,
            "heartbeats",
        )
        assert {d["status"] for d in devices} == {"online"}
        for device in devices:
            assert {"name": "cookies", "version": "1.0.0"}.items() <= device["last_heartbeat"]["models"][
                0
            ].items()

        started = time.monotonic()
        second = portal.api(
            "POST",
            "/deployments",
            json={
                "name": "v2",
                "target": {"kind": "group", "value": "press"},
                "packages": [v2],
                "waves": ["1", "100%"],
            },
        )
        until(
            lambda: portal.api("GET", f"/deployments/{second['id']}")["status"] == "completed",
            120,
            "v2 rollout",
        )
        elapsed = time.monotonic() - started
        assert [s.pinned_version() for s in stations] == ["2.0.0", "2.0.0"]
        print(f"deploy click -> both stations on v2: {elapsed:.1f} s")

        bad = portal.package(tmp_path, "3.0.0", like="1.0.0", break_golden=True)
        third = portal.api(
            "POST",
            "/deployments",
            json={
                "name": "v3",
                "target": {"kind": "group", "value": "press"},
                "packages": [bad],
                "waves": ["1", "100%"],
            },
        )
        final = until(
            lambda: (d := portal.api("GET", f"/deployments/{third['id']}"))["status"] == "failed" and d,
            120,
            "v3 halted",
        )
        canary = next(d for d in final["devices"] if d["wave"] == 0)
        assert canary["phase"] == "failed" and "health check" in canary["reason"]
        assert all(d["phase"] == "queued" for d in final["devices"] if d["wave"] == 1)  # never released
        assert [s.pinned_version() for s in stations] == ["2.0.0", "2.0.0"]
    finally:
        for station in stations:
            station.stop()


def test_sigkill_during_install_always_leaves_a_verified_model(
    portal_process: PortalProcess, tmp_path: Path
) -> None:
    """Kill the agent at random instants while it installs; after each restart the workflow's model
    is installed and verifies. (CI runs a bounded number of kills; DDA_FLEET_KILLS raises it.)"""
    from dda.packaging.verify import verify_package

    portal = portal_process
    station = StationProcess(tmp_path, portal, "st-kill", "kill")
    station.add_workflow("cookies", "1.0.0")
    first = portal.package(tmp_path, "1.0.0")
    packages = [first] + [portal.package(tmp_path, f"{n}.0.0", like="1.0.0") for n in (2, 3)]
    rng = random.Random(7)
    kills = int(os.environ.get("DDA_FLEET_KILLS", "8"))
    trusted = sorted((station.data / "station" / "trusted_keys").glob("*.pem"))
    try:
        deployment = portal.api(
            "POST",
            "/deployments",
            json={"name": "base", "target": {"kind": "group", "value": "kill"}, "packages": [packages[0]]},
        )
        station.start("agent")
        until(
            lambda: portal.api("GET", f"/deployments/{deployment['id']}")["status"] == "completed",
            120,
            "base",
        )
        for kill in range(kills):
            package = packages[1 + kill % 2]
            portal.api(
                "POST",
                "/deployments",
                json={
                    "name": f"k{kill}",
                    "target": {"kind": "group", "value": "kill"},
                    "packages": [package],
                },
            )
            time.sleep(rng.uniform(0.0, 2.5))
            assert station.process is not None
            station.process.send_signal(signal.SIGKILL)
            station.process.wait(10)
            version = station.pinned_version()
            package_dir = station.data / "station" / "models" / "cookies" / version
            assert verify_package(package_dir, trusted).version == version, f"kill {kill}: {version}"
            station.start("agent")
        until(lambda: (station.data / "station" / "fleet" / "journal.json").is_file(), 30, "journal")
    finally:
        station.stop()
