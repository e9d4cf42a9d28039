"""The fleet as it runs: a portal and three stations as separate processes on loopback (started
once for the module). Stations enroll with the CLI, heartbeat, receive deployments to their group
in waves (canary -> 50 % -> 100 %), install them atomically (golden check, workflow swap), put the
previous version back by themselves when a package fails its health check, and apply station
configuration documents (rolled back when a workflow does not run on them); a SIGKILL at any
instant of an install leaves a working, verified model."""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.fleet.processes import PortalProcess, StationProcess, until

pytestmark = pytest.mark.slow
GROUP = {"kind": "group", "value": "press"}


@dataclass
class World:
    root: Path
    portal: PortalProcess
    stations: list[StationProcess]

    def deploy(self, name: str, **body: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.portal.api(
            "POST", "/deployments", json={"name": name, "target": GROUP, **body}
        )
        return result

    def wait(self, deployment: dict[str, Any], status: str, what: str) -> dict[str, Any]:
        found: dict[str, Any] = until(
            lambda: (
                (d := self.portal.api("GET", f"/deployments/{deployment['id']}"))["status"] == status and d
            ),
            180,
            what,
        )
        return found


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One portal, three stations on cookies 1.0.0 (module-scoped: started once)."""
    root = tmp_path_factory.mktemp("fleet-e2e")
    portal = PortalProcess(root)
    stations = [StationProcess(root, portal, f"st-{n}", "press") for n in range(3)]
    try:
        for station in stations:
            station.add_workflow("cookies", "1.0.0")
            station.start()
        world = World(root, portal, stations)
        first = world.deploy("v1", packages=[portal.package(root, "1.0.0")])
        world.wait(first, "completed", "v1 on the three stations")
        yield world
    finally:
        for station in stations:
            station.stop()
        portal.stop()


def test_group_rollout_in_three_waves_then_a_bad_package_rolls_back(world: World) -> None:
    portal, stations, root = world.portal, world.stations, world.root
    devices = until(
        lambda: (
            (items := portal.api("GET", "/devices")["items"])
            and all(d["last_heartbeat"].get("desired_etag") for d in items)
            and items
        ),
        30,
        "heartbeats",
    )
    assert {d["status"] for d in devices} == {"online"} and len(devices) == 3
    for device in devices:
        assert {"name": "cookies", "version": "1.0.0"}.items() <= device["last_heartbeat"]["models"][
            0
        ].items()

    started = time.monotonic()
    v2 = portal.package(root, "2.0.0", like="1.0.0")
    second = world.deploy("v2", packages=[v2], waves=["1", "50%", "100%"])
    assert second["waves"] == [1, 2, 3]  # a canary, then one more, then the last
    done = world.wait(second, "completed", "v2 rollout")
    elapsed = time.monotonic() - started
    assert [s.pinned_version() for s in stations] == ["2.0.0"] * 3
    assert sorted(d["wave"] for d in done["devices"]) == [0, 1, 2]
    print(f"deploy click -> three stations on v2 in three waves: {elapsed:.1f} s")

    bad = portal.package(root, "3.0.0", like="1.0.0", break_golden=True)
    third = world.deploy("v3", packages=[bad], waves=["1", "50%", "100%"])
    final = world.wait(third, "failed", "v3 halted")
    canary = next(d for d in final["devices"] if d["wave"] == 0)
    assert canary["phase"] == "failed" and "health check" in canary["reason"]
    assert all(d["phase"] == "queued" for d in final["devices"] if d["wave"] > 0)  # never released
    assert [s.pinned_version() for s in stations] == ["2.0.0"] * 3


def _workflow(station: StationProcess) -> dict[str, Any]:
    engine = station.db()
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT w.threshold, w.state, w.model_version, s.name, s.config FROM workflows w "
                    "JOIN image_sources s ON s.id = w.source_id WHERE w.name = 'inspect'"
                )
            ).one()
    finally:
        engine.dispose()
    return {"threshold": row[0], "state": row[1], "version": row[2], "source": row[3], "config": row[4]}


def test_configuration_deployments_apply_and_roll_back_on_the_station(world: World) -> None:
    portal, stations = world.portal, world.stations
    version = stations[0].pinned_version()
    incoming = world.root / "incoming"
    incoming.mkdir(exist_ok=True)

    def document(name: str, path: Path, threshold: float) -> dict[str, Any]:
        return {
            "version": name,
            "sources": [{"name": "line-cam", "config": {"type": "folder", "path": str(path)}}],
            "workflows": [
                {
                    "name": "inspect",
                    "source": "line-cam",
                    "model_name": "cookies",
                    "model_version": version,
                    "threshold": threshold,
                    "running": True,
                }
            ],
        }

    good = world.deploy("c1", config=document("c1", incoming, 0.7), waves=["1", "100%"])
    world.wait(good, "completed", "configuration c1")
    for station in stations:
        state = _workflow(station)
        assert state["threshold"] == 0.7 and state["source"] == "line-cam" and state["state"] == "running"

    # Valid for the station's schemas, but its source cannot open: applied, fails, put back.
    broken = world.deploy("c2", config=document("c2", world.root / "missing", 0.9), waves=["1", "100%"])
    final = world.wait(broken, "failed", "configuration c2 halted")
    canary = next(d for d in final["devices"] if d["wave"] == 0)
    assert canary["phase"] == "rolled_back" and "did not apply" in canary["reason"], canary
    for station in stations:
        state = _workflow(station)
        assert state["threshold"] == 0.7 and str(incoming) in state["config"] and state["state"] == "running"

    # The remote operation: one station, a document its own schemas refuse (a folder source
    # without a path): refused before anything changes, and said so.
    invalid = document("c3", incoming, 0.8)
    invalid["sources"][0]["config"] = {"type": "folder"}
    target = stations[2]
    command = portal.api(
        "POST",
        f"/devices/{target.device_id}/commands",
        json={"kind": "update_config", "args": {"config": invalid}},
    )
    answered = until(
        lambda: next(
            (
                c
                for c in portal.api("GET", f"/devices/{target.device_id}/commands")
                if c["id"] == command["id"] and c["status"] in ("succeeded", "failed")
            ),
            None,
        ),
        60,
        "update_config answered",
    )
    assert answered["status"] == "failed" and "not valid here" in answered["message"], answered
    assert _workflow(target)["threshold"] == 0.7


def test_sigkill_during_install_always_leaves_a_verified_model(world: World) -> None:
    """Kill the agent at random instants while it installs; after each restart the workflow's model
    is installed and verifies. (CI runs a bounded number of kills; DDA_FLEET_KILLS raises it.)"""
    from dda.packaging.verify import verify_package

    portal, root = world.portal, world.root / "kill"
    root.mkdir()
    station = StationProcess(root, portal, "st-kill", "kill")
    station.add_workflow("cookies", "1.0.0")
    packages = [portal.package(root, "1.0.0")] + [
        portal.package(root, f"{n}.0.0", like="1.0.0") for n in (2, 3)
    ]
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
