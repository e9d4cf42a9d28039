"""The workflow runtime: model leases across version switches, stale-frame dropping, triggers
driving outputs end to end, and running workflows coming back after a restart.

GPIO lines are simulated chips (``sim:<name>``) behind the libgpiod line interface; MQTT is the
real local Mosquitto; the webhook receiver is a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt
import paho.mqtt.publish as mqtt_publish
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion

from dda.core.errors import Unavailable
from dda.core.settings import Settings
from dda.runtime.predictor import load_predictor
from dda.station.app import create_app
from dda.station.plugins.gpio import simulated_chip
from dda.station.plugins.processing import CameraSettings
from dda.station.plugins.sources import NoFrameYet, build_source
from dda.station.plugins.sources.synthetic import SyntheticSourceConfig
from dda.station.services.metrics import StationMetrics
from dda.station.services.model_registry import ModelRegistry
from dda.station.services.pipeline import WorkflowSpec
from dda.station.services.runner import LatestFrameGrabber
from tests.station.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.station.http_util import Recorder, recording_server
from tests.station.modelkit import solid, write_installed_package
from tests.station.mqtt_util import BROKER, require_broker, unique_topic


class GatedPredictor:
    """The real predictor, held at a gate mid-inference so a test can act while it is in flight."""

    def __init__(self, inner: Any, gate: threading.Event, entered: threading.Event) -> None:
        self.inner, self.gate, self.entered, self.closed = inner, gate, entered, False

    @property
    def manifest(self) -> Any:
        return self.inner.manifest

    def predict(self, image: np.ndarray, draw_overlay: bool = True) -> Any:
        self.entered.set()
        assert self.gate.wait(30)
        assert not self.closed, "closed while an inference was running"
        return self.inner.predict(image, draw_overlay=draw_overlay)

    def forward(self, image: np.ndarray) -> Any:
        return self.inner.forward(image)

    def close(self) -> None:
        self.closed = True
        self.inner.close()


def test_unloading_or_switching_a_version_never_breaks_an_inference_in_flight(tmp_path: Path) -> None:
    write_installed_package(tmp_path, "bright", "1")
    write_installed_package(tmp_path, "bright", "2")
    gate, entered = threading.Event(), threading.Event()
    made: list[GatedPredictor] = []

    def loader(package_dir: Path) -> GatedPredictor:
        made.append(GatedPredictor(load_predictor(package_dir), gate, entered))
        return made[-1]

    registry = ModelRegistry(tmp_path, loader)
    outcome: dict[str, Any] = {}

    def infer() -> None:
        with registry.lease("bright", "1") as model:
            outcome["prediction"] = model.predict(solid(250))

    worker = threading.Thread(target=infer)
    worker.start()
    assert entered.wait(10)
    assert registry.unload("bright", "1")  # the operator unloads / switches while it runs
    registry.load("bright", "2")
    assert not made[0].closed  # retired, but still in use
    gate.set()
    worker.join(10)
    assert outcome["prediction"].verdict == "anomaly" and outcome["prediction"].model_version == "1"
    assert made[0].closed  # closed once its last lease ended
    with registry.lease("bright", "1") as model:  # a new lease loads a fresh predictor
        assert model.predict(solid(5)).verdict == "normal"
    assert len(made) == 3 and not made[2].closed
    registry.close()
    assert all(p.closed for p in made)


class GatedCamera:
    """A live camera stream whose frames the test releases one by one (the real synthetic source
    renders them). A physical camera's timing is what cannot run here: this gate replaces it, so
    the test does not depend on how many frames a loaded machine happens to produce in a sleep."""

    live = True

    def __init__(self) -> None:
        self.source = build_source(SyntheticSourceConfig(width=32, height=32, fps=0, seed=0))
        self._released = threading.Semaphore(0)
        self._calls = threading.Condition()
        self._closed = threading.Event()
        self.grab_calls = 0

    def release(self, frames: int) -> None:
        for _ in range(frames):
            self._released.release()

    def wait_for_grab_calls(self, calls: int, timeout_s: float = 30) -> None:
        with self._calls:
            assert self._calls.wait_for(lambda: self.grab_calls >= calls, timeout_s)

    def grab(self, timeout_s: float) -> Any:
        with self._calls:
            self.grab_calls += 1
            self._calls.notify_all()
        if not self._released.acquire(timeout=timeout_s):
            raise NoFrameYet("no frame released")
        if self._closed.is_set():
            raise Unavailable("the camera was closed")
        return self.source.grab(timeout_s)

    def close(self) -> None:
        """As a runner stops a live source: unblocks a grab in progress."""
        self._closed.set()
        self._released.release()


def test_continuous_mode_drops_stale_frames_of_a_live_camera() -> None:
    camera = GatedCamera()
    camera.source.open()
    metrics = StationMetrics()
    spec = WorkflowSpec(None, "wf", None, SyntheticSourceConfig(), CameraSettings(), "m", "1")
    grabber = LatestFrameGrabber(spec, camera, lambda: metrics.dropped.labels("wf").inc())  # type: ignore[arg-type]
    grabber.start()
    try:
        camera.release(1)
        first, _ = grabber.take(30)
        # A slow inference: meanwhile the camera delivers 8 more frames, and the grabber has put
        # the last one in place once it is back waiting for a 10th.
        camera.release(8)
        camera.wait_for_grab_calls(10)
        newest, _ = grabber.take(30)
    finally:
        camera.close()
        grabber.stop()
        camera.source.close()
    assert first.metadata["frame"] == 1
    assert newest.metadata["frame"] == 9  # the newest frame, not the next queued one
    assert metrics.dropped.labels("wf")._value.get() == 7  # frames 2..8 were dropped, and counted


def _login(client: TestClient) -> dict[str, str]:
    client.post("/api/v1/auth/setup", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD})
    token = client.post(
        "/api/v1/auth/login", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD}
    ).json()
    return {"Authorization": f"Bearer {token['access_token']}"}


def _wait(predicate: Callable[[], bool], timeout_s: float = 30) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _synthetic_source(client: TestClient, auth: dict[str, str]) -> int:
    body = {
        "name": f"cam-{uuid.uuid4().hex[:6]}",
        "config": {"type": "synthetic", "width": 96, "height": 64, "seed": 2},
    }
    response = client.post("/api/v1/image-sources", json=body, headers=auth)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_gpio_trigger_drives_io_pulse_webhook_and_mqtt(
    client: TestClient, auth: dict[str, str], installed_model: tuple[str, str]
) -> None:
    require_broker()
    chip = f"io-{uuid.uuid4().hex[:6]}"
    topic = unique_topic("results")
    received: queue.Queue[bytes] = queue.Queue()
    subscribed: queue.Queue[int] = queue.Queue()
    subscriber = mqtt.Client(CallbackAPIVersion.VERSION2)
    subscriber.on_message = lambda c, u, m: received.put(m.payload)
    subscriber.on_subscribe = lambda *a: subscribed.put(1)
    subscriber.connect(*BROKER)
    subscriber.subscribe(topic, qos=1)
    subscriber.loop_start()
    subscribed.get(timeout=10)
    recorder = Recorder()
    # The receiver runs on loopback: the admin puts it on the outbound allow-list.
    client.put("/api/v1/settings", json={"outbound_allow": ["127.0.0.1"]}, headers=auth)
    try:
        with recording_server(recorder) as base:
            workflow = client.post(
                "/api/v1/workflows",
                headers=auth,
                json={
                    "name": "line-1",
                    "source_id": _synthetic_source(client, auth),
                    "model_name": "bright",
                    "model_version": "1",
                    "triggers": [
                        {"type": "digital_input", "chip": f"sim:{chip}", "line": 0, "debounce_ms": 0}
                    ],
                    "outputs": [
                        {
                            "type": "digital_output",
                            "chip": f"sim:{chip}",
                            "line": 1,
                            "rule": "all",
                            "pulse_ms": 5,
                        },
                        {"type": "webhook", "url": f"{base}/hook"},
                        {"type": "mqtt", "topic": topic},
                    ],
                },
            ).json()
            assert (
                client.post(f"/api/v1/workflows/{workflow['id']}/start", headers=auth).json()["state"]
                == "running"
            )
            simulated_chip(chip).pulse(0)  # the PLC says: part in position
            assert recorder.received.wait(30)
            message = json.loads(received.get(timeout=30))
            assert _wait(lambda: [v for _, v in simulated_chip(chip).history(1)].count(True) == 1)
            client.post(f"/api/v1/workflows/{workflow['id']}/stop", headers=auth)
    finally:
        subscriber.loop_stop()
        subscriber.disconnect()
    results = client.get("/api/v1/results", params={"workflow_id": workflow["id"]}, headers=auth).json()
    assert results["total"] == 1 and results["items"][0]["capture_type"] == "digital_input"
    webhook = json.loads(recorder.requests[0][3])
    assert (
        webhook["result_id"] == message["result_id"] == results["items"][0]["id"]
    )  # outputs saw the stored row


def test_mqtt_trigger_and_restart_restores_running_workflows(
    station_settings: Settings, installed_model: tuple[str, str]
) -> None:
    require_broker()
    topic = unique_topic("trigger")
    with TestClient(
        create_app(station_settings, web_dist=None, configure_logs=False), client=("127.0.0.1", 50000)
    ) as client:
        auth = _login(client)
        workflow = client.post(
            "/api/v1/workflows",
            headers=auth,
            json={
                "name": "mq",
                "source_id": _synthetic_source(client, auth),
                "model_name": "bright",
                "model_version": "1",
                "triggers": [{"type": "mqtt", "topic": topic}],
            },
        ).json()
        client.post(f"/api/v1/workflows/{workflow['id']}/start", headers=auth)
    with TestClient(
        create_app(station_settings, web_dist=None, configure_logs=False), client=("127.0.0.1", 50000)
    ) as client:
        auth = _login(client)
        shown = client.get(f"/api/v1/workflows/{workflow['id']}", headers=auth).json()
        assert shown["state"] == "running"  # started again by the new process

        def count() -> int:
            params = {"workflow_id": workflow["id"]}
            return int(client.get("/api/v1/results", params=params, headers=auth).json()["total"])

        mqtt_publish.single(topic, b"go", qos=1, hostname=BROKER[0], port=BROKER[1])
        assert _wait(lambda: count() == 1)
        result = client.get("/api/v1/results", headers=auth).json()["items"][0]
        assert result["capture_type"] == "mqtt"
        health = client.get("/api/v1/health", headers=auth).json()
        assert health["workflows"][0]["state"] == "running" and health["latency_ms"]["total"]["count"] == 1


def test_editing_a_running_workflow_switches_the_model_version(
    client: TestClient, auth: dict[str, str], installed_model: tuple[str, str]
) -> None:
    station = client.app.state.station  # type: ignore[attr-defined]
    write_installed_package(station.paths.model_repo, "bright", "2")
    body = {
        "name": "cont",
        "source_id": _synthetic_source(client, auth),
        "model_name": "bright",
        "model_version": "1",
        "triggers": [{"type": "continuous"}],
    }
    workflow = client.post("/api/v1/workflows", json=body, headers=auth).json()
    client.post(f"/api/v1/workflows/{workflow['id']}/start", headers=auth)

    def versions() -> set[str]:
        items = client.get("/api/v1/results", params={"limit": 1000}, headers=auth).json()["items"]
        return {item["model_version"] for item in items}

    assert _wait(lambda: versions() == {"1"})
    switched = client.put(
        f"/api/v1/workflows/{workflow['id']}", json={**body, "model_version": "2"}, headers=auth
    )
    assert switched.status_code == 200 and switched.json()["state"] == "running"
    assert _wait(lambda: versions() == {"1", "2"})
    client.post(f"/api/v1/workflows/{workflow['id']}/stop", headers=auth)
    errors = station.metrics.errors.collect()[0].samples
    assert [s for s in errors if s.value > 0] == []
