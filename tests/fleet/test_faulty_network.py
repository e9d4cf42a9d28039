"""Through a proxy that cuts, resets and stalls connections at random byte offsets, a deployment
still arrives whole (downloads resume) and uploaded results arrive exactly once (0 lost, 0 dups)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from dda.core.errors import DDAError
from dda.core.safe_image import encode_jpeg
from dda.core.settings import Settings
from dda.station.agent.identity import enroll, fleet_dir, load_identity
from dda.station.agent.worker import Agent
from dda.station.app import seed_defaults
from dda.station.context import build_station
from dda.station.db.models import ImageSource, Workflow
from tests.fleet.faulty_proxy import FaultyProxy
from tests.fleet.processes import PortalProcess, until

pytestmark = pytest.mark.slow
RESULTS = 6


def _ticks(agent: Agent, rounds: int) -> int:
    failures = 0
    for _ in range(rounds):
        try:
            agent.tick()
        except DDAError:
            failures += 1
    return failures


def test_download_resumes_and_uploads_are_exactly_once(portal_process: PortalProcess, tmp_path: Path) -> None:
    portal = portal_process
    package = portal.package(tmp_path, "1.0.0")
    proxy = FaultyProxy(portal.port, fault_rate=0.05, max_faults=15, seed=3)
    settings = Settings(
        data_dir=tmp_path / "st", env="test", station={"upload": {"mode": "all", "batch_size": 4}}
    )
    station = build_station(settings)
    seed_defaults(station)
    station.store.start()  # opens the result journal, as start_station does
    token = portal.api("POST", "/devices/enrollment-tokens", json={"device_name": "far-away"})
    proxy.enabled = False
    enroll(station.paths, proxy.url, token["token"])
    proxy.enabled = True
    identity = load_identity(station.paths)
    assert identity is not None and identity.portal_url == proxy.url
    agent = Agent.for_station(station)
    assert agent is not None
    agent.setup()
    try:
        deployment = portal.api(
            "POST",
            "/deployments",
            json={
                "name": "over-a-bad-link",
                "target": {"kind": "device", "value": "far-away"},
                "packages": [package],
            },
        )
        until(
            lambda: (
                _ticks(agent, 1) >= 0
                and portal.api("GET", f"/deployments/{deployment['id']}")["status"] == "completed"
            ),
            180,
            "deployment through the faulty link",
        )
        assert (station.paths.model_repo / "cookies" / "1.0.0").is_dir()

        with station.session() as session:
            source = session.scalars(select(ImageSource)).first()
            assert source is not None
            workflow = Workflow(
                name="inspect", source_id=source.id, model_name="cookies", model_version="1.0.0"
            )
            session.add(workflow)
            session.flush()
            workflow_id = workflow.id
        rng = np.random.default_rng(1)
        for _ in range(RESULTS):
            image = rng.integers(0, 255, size=(200, 260, 3), dtype=np.uint8)  # ~70 KB each: cut mid-file
            station.workflows.run(workflow_id, upload=encode_jpeg(image, quality=95), filename="part.jpg")
        cursor = fleet_dir(station.paths) / "upload-cursor.json"

        def all_sent() -> bool:
            _ticks(agent, 1)
            return cursor.is_file() and json.loads(cursor.read_text())["last_id"] >= RESULTS

        until(all_sent, 240, "all results uploaded through the faulty link")
        listed = portal.api("GET", f"/devices/{identity.device_id}/results?limit=100")
        assert len(listed) == RESULTS  # 0 lost
        assert len({r["capture_id"] for r in listed}) == RESULTS  # 0 duplicates
        overlays = list(portal.data.rglob("overlay.jpg"))
        assert len(overlays) == RESULTS and all(p.stat().st_size > 0 for p in overlays)
        assert proxy.faults >= 5, proxy.counts
        print("faults injected:", proxy.counts)
    finally:
        proxy.close()
        agent.teardown()
        station.workflows.shutdown()
        station.store.close()
        station.engine.dispose()
