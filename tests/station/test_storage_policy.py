"""A workflow's storage policy: anomalies always stored, a sample of normal parts, retention; the
outputs hear of every result, stored or not (real station store, real ONNX Runtime model)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from dda.core.settings import Settings
from dda.station.context import build_station
from dda.station.db.models import InferenceResult
from dda.station.plugins.gpio import simulated_chip
from dda.station.plugins.outputs.digital_output import DigitalOutputConfig
from dda.station.plugins.processing import CameraSettings
from dda.station.plugins.sources import Frame
from dda.station.plugins.sources.upload import UploadSourceConfig
from dda.station.plugins.triggers import TriggerEvent
from dda.station.services.pipeline import WorkflowSpec
from dda.station.services.result_store import ResultContext
from dda.station.services.retention import StoragePolicy
from dda.station.services.runner import WorkflowRunner
from tests.station.modelkit import solid, write_installed_package


def test_normal_parts_are_sampled_anomalies_kept_and_outputs_hear_of_all(station_settings: Settings) -> None:
    station = build_station(station_settings)
    write_installed_package(station.paths.model_repo, "bright", "1")
    station.store.start()
    chip = f"sp-{uuid.uuid4().hex[:8]}"
    spec = WorkflowSpec(
        id=None,
        name="sampled",
        source_id=None,
        source=UploadSourceConfig(),
        camera=CameraSettings(),
        model_name="bright",
        model_version="1",
        outputs=[DigitalOutputConfig(chip=f"sim:{chip}", line=0, rule="all", pulse_ms=1)],
        storage=StoragePolicy(normal_sample_every=5),
    )
    runner = WorkflowRunner(spec, station.inspector, lambda *_: None)
    runner.start()
    try:
        event = TriggerEvent("timer")
        for index in range(12):  # 10 normal parts, 2 defective ones
            grey = 250 if index in (3, 8) else 5
            runner.run_once(event, Frame(image=solid(grey)), wait=False)
        runner.capture(TriggerEvent("manual"), Frame(image=solid(5)))  # a Run is always stored
    finally:
        runner.stop()
    with station.session() as session:
        query = select(InferenceResult.prediction, func.count()).group_by(InferenceResult.prediction)
        stored = {prediction: count for prediction, count in session.execute(query)}
    assert stored == {"anomaly": 2, "normal": 2 + 1}  # normals 1 and 6 of 10, and the Run
    assert [level for _, level in simulated_chip(chip).history(0)].count(True) == 13  # every result
    station.registry.close()
    station.engine.dispose()


def test_retention_removes_old_results_but_keeps_flagged_unexported_ones(station_settings: Settings) -> None:
    station = build_station(station_settings)
    station.store.start()
    write_installed_package(station.paths.model_repo, "bright", "1")
    from dda.station.db.models import ImageSource, Workflow

    with station.session() as session:
        source = ImageSource(name="s", type="upload", config={"type": "upload"}, camera={})
        session.add(source)
        session.flush()
        workflow = Workflow(name="w", source_id=source.id, model_name="bright", model_version="1")
        session.add(workflow)
        session.flush()
        wid = workflow.id
    ctx = ResultContext("timer", None, wid, "w")
    spec = WorkflowSpec(wid, "w", None, UploadSourceConfig(), CameraSettings(), "bright", "1")
    rows = [
        station.inspector.inspect(Frame(image=solid(5)), spec, "timer", frozenset(), 0.0) for _ in range(3)
    ]
    assert all(r.workflow_id == ctx.workflow_id for r in rows)
    with station.session() as session:
        session.get(InferenceResult, rows[0].id).flag_for_review = True  # type: ignore[union-attr]
    removed = station.store.enforce_retention(wid, datetime.now(UTC) + timedelta(seconds=1))
    assert removed == 2
    with station.session() as session:
        left = list(session.scalars(select(InferenceResult.id)))
    assert left == [rows[0].id]
    assert not station.store.path(rows[1].input_path).exists()
    station.registry.close()
    station.engine.dispose()


def test_output_payloads_carry_part_storage_and_drift_state(station_settings: Settings) -> None:
    """What an MQTT consumer receives (real Mosquitto): the part, whether the result was stored,
    and the drift alarm, for stored and sampled-out results alike."""
    import json
    import queue

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from dda.station.plugins.outputs.mqtt import MqttOutputConfig
    from tests.station.mqtt_util import BROKER, require_broker, unique_topic

    require_broker()
    topic = unique_topic("payload")
    received: queue.Queue[dict] = queue.Queue()
    subscribed: queue.Queue[int] = queue.Queue()
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.on_message = lambda c, u, m: received.put(json.loads(m.payload))
    client.on_subscribe = lambda *a: subscribed.put(1)
    client.connect(*BROKER)
    client.subscribe(topic, qos=1)
    client.loop_start()
    subscribed.get(timeout=10)
    station = build_station(station_settings)
    write_installed_package(station.paths.model_repo, "bright", "1")
    station.store.start()
    spec = WorkflowSpec(
        None, "payloads", None, UploadSourceConfig(), CameraSettings(), "bright", "1",
        outputs=[MqttOutputConfig(topic=topic)], storage=StoragePolicy(normal_sample_every=2),
    )  # fmt: skip
    runner = WorkflowRunner(spec, station.inspector, lambda *_: None)
    runner.start()
    try:
        for grey in (5, 5):  # the first normal part is stored, the second is not
            runner.run_once(
                TriggerEvent("mqtt", {"payload": '{"part_id": "P-7", "lot": "L1"}'}),
                Frame(image=solid(grey)),
                wait=False,
            )
        payloads = [received.get(timeout=10) for _ in range(2)]
    finally:
        runner.stop()
        client.loop_stop()
        client.disconnect()
        station.registry.close()
        station.engine.dispose()
    assert [p["stored"] for p in payloads] == [True, False]
    assert payloads[1]["result_id"] is None
    assert all(p["part_id"] == "P-7" and p["lot"] == "L1" and p["drift_alarm"] == [] for p in payloads)
