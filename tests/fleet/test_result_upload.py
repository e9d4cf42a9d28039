"""Results go home: the agent uploads them in batches into the use case's store under
results/{device}/{yyyy}/{mm}/{dd}/; a re-send never duplicates; an offline portal only delays."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pytest
from sqlalchemy import select

from dda.core.safe_image import encode_jpeg
from dda.core.settings import Settings
from dda.station.agent.identity import enroll
from dda.station.agent.worker import Agent
from dda.station.app import seed_defaults
from dda.station.context import build_station
from dda.station.db.models import ImageSource, InferenceResult, Workflow
from tests.fleet.processes import PortalProcess

pytestmark = pytest.mark.slow


def test_results_upload_idempotently_and_resume_after_an_outage(
    portal_process: PortalProcess, tmp_path: Path
) -> None:
    portal = portal_process
    package = portal.package(tmp_path, "1.0.0")
    settings = Settings(
        data_dir=tmp_path / "st", env="test", station={"upload": {"mode": "all", "batch_size": 3}}
    )
    station = build_station(settings)
    seed_defaults(station)
    station.store.start()  # opens the result journal, as start_station does
    token = portal.api("POST", "/devices/enrollment-tokens", json={"device_name": "cam-1"})
    identity = enroll(station.paths, portal.url, token["token"])
    agent = Agent.for_station(station)
    assert agent is not None and agent.client is None
    agent.setup()
    try:
        portal.api(
            "POST",
            "/deployments",
            json={"name": "m", "target": {"kind": "device", "value": "cam-1"}, "packages": [package]},
        )
        agent.tick()  # installs the model (nothing to upload yet)
        with station.session() as session:
            source = session.scalars(select(ImageSource)).first()
            assert source is not None
            workflow = Workflow(
                name="inspect", source_id=source.id, model_name="cookies", model_version="1.0.0"
            )
            session.add(workflow)
            session.flush()
            workflow_id = workflow.id
        rng = np.random.default_rng(0)
        for _ in range(5):
            image = rng.integers(0, 255, size=(48, 64, 3), dtype=np.uint8)
            station.workflows.run(workflow_id, upload=encode_jpeg(image), filename="part.jpg")

        with station.session() as session:  # an operator reviews one result before it is sent
            reviewed = session.scalars(select(InferenceResult).order_by(InferenceResult.id)).first()
            assert reviewed is not None
            reviewed.human_classification = "anomaly" if reviewed.prediction == "normal" else "normal"
            reviewed_capture, review = reviewed.capture_id, reviewed.human_classification

        assert agent.uploader is not None
        real_client = agent.uploader.client
        agent.uploader.client = _Offline()  # the portal is unreachable: nothing is lost, nothing skipped
        assert agent.uploader.tick() == 0
        agent.uploader.client = real_client
        assert agent.uploader.tick() == 3  # one batch
        assert agent.uploader.tick() == 2
        assert agent.uploader.tick() == 0
        agent.uploader.cursor_path.write_text(json.dumps({"last_id": 0}))  # re-send everything
        agent.uploader.tick()
        agent.uploader.tick()

        listed = portal.api("GET", f"/devices/{identity.device_id}/results?limit=50")
        assert len(listed) == 5 and len({r["capture_id"] for r in listed}) == 5
        first = listed[0]
        assert {"overlay.jpg", "manifest.jsonl"} <= set(first["files"])
        base = f"{portal.url}/api/v1/usecases/{portal.usecase_id}/devices/{identity.device_id}"
        url = f"{base}/results/{first['id']}"
        overlay = httpx.get(f"{url}/files/overlay.jpg", headers=portal.headers)
        assert overlay.status_code == 200 and overlay.content[:2] == b"\xff\xd8"
        keys = sorted(p.relative_to(portal.data).as_posix() for p in portal.data.rglob("overlay.jpg"))
        assert len(keys) == 5 and all(f"/results/{identity.device_id}/" in k for k in keys)
        assert next(r for r in listed if r["capture_id"] == reviewed_capture)["review"] == review

        # The improvement loop: chosen results become a dataset version (the review is the label).
        ids = [r["id"] for r in listed]
        added = portal.api(
            "POST", "/devices/results/to-dataset", json={"result_ids": ids[:3], "dataset": "line"}
        )
        assert (added["version_number"], added["added"], added["image_count"]) == (1, 3, 3)
        more = portal.api(
            "POST", "/devices/results/to-dataset", json={"result_ids": ids[3:], "dataset": "line"}
        )
        assert (more["version_number"], more["added"], more["image_count"]) == (2, 2, 5)  # v1 + these
        assert added["from_review"] + more["from_review"] == 1
        items = portal.api(
            "GET", f"/datasets/{more['dataset_id']}/versions/{more['version_id']}/items?limit=50"
        )
        assert len(items["items"]) == 5

        def label_of(capture: str) -> int:
            (item,) = [i for i in items["items"] if capture in i["name"]]
            return int(item["label"])

        want = {"normal": 0, "anomaly": 1}
        assert label_of(reviewed_capture) == want[review]
        for result in listed:
            if result["capture_id"] != reviewed_capture:
                assert label_of(result["capture_id"]) == want[result["verdict"]]
        missing = httpx.post(
            f"{portal.url}/api/v1/usecases/{portal.usecase_id}/devices/results/to-dataset",
            json={"result_ids": ["no-such-result"], "dataset": "line"},
            headers=portal.headers,
        )
        assert missing.status_code == 404
    finally:
        agent.teardown()
        station.workflows.shutdown()
        station.store.close()
        station.engine.dispose()


class _Offline:
    def call(self, *args: object, **kwargs: object) -> object:
        from dda.core.errors import Unavailable

        raise Unavailable("the portal is unreachable: ConnectError", hint="the agent retries")
