"""A running workflow: its source, a worker per trigger, a worker per output.

Captures of one workflow are serialised (one at a time, in trigger order). In continuous mode a
live camera is read by its own worker that keeps only the newest frame, so inference always works
on a fresh frame and stale ones are dropped (and counted).
"""

from __future__ import annotations

import functools
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from dda.core.errors import DDAError
from dda.core.logging import get_logger
from dda.station.db.models import InferenceResult
from dda.station.netsafe import OutboundAllowList
from dda.station.plugins.outputs import OutputPlugin, ResultEvent, build_output
from dda.station.plugins.sources import Frame, ImageSourcePlugin, NoFrameYet, build_source
from dda.station.plugins.triggers import ReportsFailures, TriggerEvent, TriggerPlugin, build_trigger
from dda.station.services.pipeline import Inspector, WorkflowSpec
from dda.station.services.result_store import PendingResult
from dda.station.services.retention import NormalSampler
from dda.station.services.trace import trace_from_detail
from dda.station.workers import Worker

log = get_logger(__name__)
GRAB_TIMEOUT_S = 2.0
TRIGGER_POLL_S = 0.5
OUTPUT_QUEUE = 1000
STORE_QUEUE = 4  # inferred results waiting for storage; a full queue slows captures down
STORE_GROUP_MAX = 16

ResultListener = Callable[[WorkflowSpec, InferenceResult], None]
StoreJob = tuple[PendingResult, "Future[InferenceResult | None]"]


def is_live(source: ImageSourcePlugin) -> bool:
    """Live cameras keep producing frames whether read or not; files and generators do not."""
    return bool(getattr(source, "live", False))


class OutputWorker(Worker):
    """Delivers results to one output in order, off the inspection path."""

    def __init__(
        self, spec: WorkflowSpec, index: int, plugin: OutputPlugin, on_failure: Callable[[str], None]
    ):
        super().__init__()
        self.name = f"output-{spec.name}-{index}"
        self.plugin = plugin
        self.queue: queue.Queue[ResultEvent | None] = queue.Queue(maxsize=OUTPUT_QUEUE)
        self._on_failure = on_failure
        self._label = type(plugin).__name__

    def setup(self) -> None:
        self.plugin.setup()

    def submit(self, event: ResultEvent) -> None:
        try:
            self.queue.put_nowait(event)
        except queue.Full:
            self._on_failure(self._label)
            log.warning("output queue full: result not delivered", output=self.name)

    def run_loop(self) -> None:
        while True:
            event = self.queue.get()
            if event is None:
                return
            try:
                self.plugin.emit(event)
            except Exception as exc:
                self._on_failure(self._label)
                log.warning("output failed", output=self.name, error=str(exc))

    def _wake(self) -> None:
        self.queue.put(None)  # after the queued results: delivered before the output stops

    def teardown(self) -> None:
        self.plugin.teardown()


class LatestFrameGrabber(Worker):
    """Reads a live source as fast as it delivers and keeps only the newest frame."""

    def __init__(self, spec: WorkflowSpec, source: ImageSourcePlugin, on_drop: Callable[[], None]) -> None:
        super().__init__()
        self.name = f"grabber-{spec.name}"
        self.source = source
        self._frame: tuple[Frame, float] | None = None
        self._cond = threading.Condition()
        self._on_drop = on_drop

    def run_loop(self) -> None:
        while not self.stop_event.is_set():
            started = time.perf_counter()
            try:
                frame = self.source.grab(GRAB_TIMEOUT_S)
            except NoFrameYet:
                continue
            except DDAError as exc:
                log.warning("camera read failed", worker=self.name, error=exc.message)
                self.stop_event.wait(1.0)
                continue
            with self._cond:
                if self._frame is not None:
                    self._on_drop()
                self._frame = (frame, (time.perf_counter() - started) * 1000)
                self._cond.notify_all()

    def take(self, timeout_s: float) -> tuple[Frame, float]:
        with self._cond:
            if not self._cond.wait_for(lambda: self._frame is not None, timeout=timeout_s):
                raise NoFrameYet("no frame from the camera yet")
            frame, grab_ms = self._frame  # type: ignore[misc]
            self._frame = None
            return frame, grab_ms


class StoreStage(Worker):
    """Stores inferred results in order and in groups, while the next captures are being inferred.

    Group commit: whatever is queued when the stage gets to it is stored with one parallel fsync
    and one DB commit. Outputs and waiting callers hear of a result only after that.
    """

    def __init__(self, runner: WorkflowRunner) -> None:
        super().__init__()
        self.name = f"store-{runner.spec.name}"
        self.runner = runner
        self.queue: queue.Queue[StoreJob | None] = queue.Queue(STORE_QUEUE)

    def submit(self, pending: PendingResult) -> Future[InferenceResult | None]:
        done: Future[InferenceResult | None] = Future()
        self.queue.put((pending, done))  # blocks when storage falls behind: back-pressure on captures
        return done

    def _take_group(self, first: StoreJob) -> tuple[list[StoreJob], bool]:
        group, stopping = [first], False
        while len(group) < STORE_GROUP_MAX:
            try:
                job = self.queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                stopping = True
                break
            group.append(job)
        return group, stopping

    def run_loop(self) -> None:
        while True:
            first = self.queue.get()
            if first is None:
                return
            group, stopping = self._take_group(first)
            try:
                rows = iter(self.runner.inspector.store([pending for pending, _ in group if pending.keep]))
            except Exception as exc:
                self.runner.last_error = str(exc)
                log.warning("storing results failed", workflow=self.runner.spec.name, error=str(exc))
                for _, done in group:
                    done.set_exception(exc)
            else:
                for pending, done in group:  # in capture order, stored or not
                    if pending.keep:
                        row = next(rows)
                        self.runner.dispatch(row)
                        done.set_result(row)
                    else:
                        self.runner.dispatch_unstored(pending)
                        done.set_result(None)
            if stopping:
                return

    def _wake(self) -> None:
        self.queue.put(None)  # after the queued results: all of them are stored before the stage stops


class WorkflowRunner:
    """Everything a started workflow runs. ``run_once`` is also the manual Run of a running workflow."""

    def __init__(
        self,
        spec: WorkflowSpec,
        inspector: Inspector,
        on_result: ResultListener,
        outbound: OutboundAllowList | None = None,
    ) -> None:
        self.spec = spec
        self.inspector = inspector
        self.on_result = on_result
        self.source: ImageSourcePlugin = build_source(spec.source)
        self.hardware: frozenset[str] = frozenset()
        self.triggers: list[TriggerPlugin] = [build_trigger(c) for c in spec.triggers]
        self.outputs = [
            OutputWorker(spec, i, build_output(c, outbound), self._output_failed)
            for i, c in enumerate(spec.outputs)
        ]
        self._trigger_workers: list[Worker] = []
        self._grabber: LatestFrameGrabber | None = None
        self._store_stage: StoreStage | None = None
        self._capture_lock = threading.Lock()
        self.last_error: str | None = None
        self.sampler = NormalSampler(spec.storage.normal_sample_every)

    def _output_failed(self, output: str) -> None:
        self.inspector.metrics.output_failures.labels(self.spec.name, output).inc()

    def _dropped(self) -> None:
        self.inspector.metrics.dropped.labels(self.spec.name).inc()

    def open_source(self) -> None:
        self.source.open()
        try:
            self.hardware = self.source.configure(self.spec.camera)
        except Exception:
            self.source.close()
            raise

    def start(self) -> None:
        """Open the source, start outputs, then triggers; undo what started if a step fails."""
        started: list[Worker] = []
        self.open_source()
        try:
            for output in self.outputs:
                output.start()
                started.append(output)
            self._store_stage = StoreStage(self)
            self._store_stage.start()
            started.append(self._store_stage)
            if any(t.latest_frame_only for t in self.triggers) and is_live(self.source):
                self._grabber = LatestFrameGrabber(self.spec, self.source, self._dropped)
                self._grabber.start()
                started.append(self._grabber)
            for index, trigger in enumerate(self.triggers):
                worker = _TriggerWorker(self, trigger, index)
                worker.start()
                started.append(worker)
                self._trigger_workers.append(worker)
        except Exception:
            for started_worker in reversed(started):
                started_worker.stop()
            self.source.close()
            raise

    def stop(self) -> None:
        for worker in self._trigger_workers:
            worker.stop()
        if self._grabber is not None:
            self.source.close()  # unblocks a grab in progress
            self._grabber.stop()
        with self._capture_lock:  # let a capture in progress finish its inference
            pass
        if self._store_stage is not None:
            self._store_stage.stop(timeout_s=60)  # stores what is queued, then stops
        for output in self.outputs:
            output.stop()
        self.source.close()

    def acquire(self, latest_only: bool) -> tuple[Frame, float]:
        if latest_only and self._grabber is not None:
            return self._grabber.take(GRAB_TIMEOUT_S)
        started = time.perf_counter()
        frame = self.source.grab(GRAB_TIMEOUT_S)
        return frame, (time.perf_counter() - started) * 1000

    def run_once(
        self,
        event: TriggerEvent,
        frame: Frame | None = None,
        latest_only: bool = False,
        wait: bool = True,
        on_store_failure: Callable[[BaseException], None] | None = None,
    ) -> InferenceResult | None:
        """Capture (unless a frame is given) and infer; the result is stored and handed to the outputs.

        ``wait``: return the committed row (the API's Run). Trigger loops pass False and go on to the
        next capture while this one is being stored (None is returned); ``on_store_failure`` then
        hears if storing it fails later (on the store stage's thread).
        """
        with self._capture_lock:
            grab_ms = 0.0
            if frame is None:
                frame, grab_ms = self.acquire(latest_only)
            trace = trace_from_detail(event.detail)
            pending = self.inspector.infer(
                frame, self.spec, event.capture_type, self.hardware, grab_ms, trace
            )
            pending.keep = wait or self.sampler.keep(pending.prediction.verdict)  # a Run is always stored
            stage = self._store_stage
            if stage is None or not stage.alive:  # not started (a Run of a stopped workflow): store here
                row = self.inspector.store([pending])[0]
                self.dispatch(row)
                return row
            done = stage.submit(pending)
        if wait:
            return done.result()
        if on_store_failure is not None:
            done.add_done_callback(_calling_on_exception(on_store_failure))
        return None

    def dispatch_unstored(self, pending: PendingResult) -> None:
        """A result the storage policy did not keep: outputs still hear of it (no result id)."""
        self.inspector.discard(pending)
        payload = pending_event_payload(self.spec, pending)
        payload["drift_alarm"] = self.inspector.drift.alarm(self.spec.name)
        for output in self.outputs:
            output.submit(ResultEvent(payload))

    def grab_for_preview(self) -> Frame:
        """A frame from the open source, between two captures (a source serves one reader at a time)."""
        with self._capture_lock:
            frame, _ = self.acquire(latest_only=True)
        return frame

    def capture(self, event: TriggerEvent, frame: Frame | None = None) -> InferenceResult:
        """One capture, returning its committed row (for the API's Run button)."""
        row = self.run_once(event, frame, wait=True)
        assert row is not None
        return row

    def dispatch(self, row: InferenceResult) -> None:
        """The row is committed: tell listeners and outputs."""
        self.on_result(self.spec, row)
        payload = result_event_payload(self.spec, row)
        payload["drift_alarm"] = self.inspector.drift.alarm(self.spec.name)
        for output in self.outputs:
            output.submit(ResultEvent(payload))


def _calling_on_exception(report: Callable[[BaseException], None]) -> Callable[[Future[Any]], None]:
    def callback(future: Future[Any]) -> None:
        exc = future.exception()
        if exc is not None:
            report(exc)

    return callback


def result_event_payload(spec: WorkflowSpec, row: InferenceResult) -> dict[str, object]:
    return {
        "result_id": row.id,
        "capture_id": row.capture_id,
        "stored": True,
        "capture_type": row.capture_type,
        "workflow_id": spec.id,
        "workflow": spec.name,
        "created_at": row.created_at.isoformat(),
        "prediction": row.prediction,
        "label": row.label,
        "confidence": row.confidence,
        "anomaly_score": row.anomaly_score,
        "threshold": row.threshold,
        "labels": row.labels,
        "model_name": row.model_name,
        "model_version": row.model_version,
        "dataset_version": row.dataset_version,
        "part_id": row.part_id,
        "serial": row.serial,
        "lot": row.lot,
        "recipe": row.recipe,
    }


def pending_event_payload(spec: WorkflowSpec, pending: PendingResult) -> dict[str, object]:
    """The output payload of a result that was not stored (same keys, no ids, ``stored`` false)."""
    prediction, trace = pending.prediction, pending.trace
    return {
        "result_id": None,
        "capture_id": None,
        "stored": False,
        "capture_type": pending.ctx.capture_type,
        "workflow_id": spec.id,
        "workflow": spec.name,
        "created_at": pending.frame.captured_at.isoformat(),
        "prediction": prediction.verdict,
        "label": prediction.label,
        "confidence": float(prediction.confidence),
        "anomaly_score": float(prediction.anomaly_score),
        "threshold": float(prediction.threshold),
        "labels": {k: float(v) for k, v in prediction.class_areas.items()},
        "model_name": prediction.model_name,
        "model_version": prediction.model_version,
        "dataset_version": pending.dataset_version,
        **trace.as_dict(),
    }


class _TriggerWorker(Worker):
    def __init__(self, runner: WorkflowRunner, trigger: TriggerPlugin, index: int) -> None:
        super().__init__()
        self.name = f"trigger-{runner.spec.name}-{index}"
        self.runner = runner
        self.trigger = trigger

    def setup(self) -> None:
        self.trigger.setup()

    def run_loop(self) -> None:
        while not self.stop_event.is_set():
            event = self.trigger.wait(self.stop_event, TRIGGER_POLL_S)
            if event is None or self.stop_event.is_set():
                continue
            try:
                self.runner.run_once(
                    event,
                    latest_only=self.trigger.latest_frame_only,
                    wait=False,
                    on_store_failure=functools.partial(self._store_failed, event),
                )
                self.runner.last_error = None
            except NoFrameYet as exc:
                self._report(event, exc.message)
                continue
            except DDAError as exc:
                self._report(event, exc.message)
                self.runner.last_error = exc.message
                log.warning(
                    "capture failed", workflow=self.runner.spec.name, error=exc.message, hint=exc.hint
                )
                self.stop_event.wait(0.5)  # a broken camera should not spin the CPU
            except Exception as exc:
                self._report(event, str(exc))
                self.runner.last_error = str(exc)
                log.exception("capture failed", workflow=self.runner.spec.name)
                self.stop_event.wait(0.5)

    def _store_failed(self, event: TriggerEvent, exc: BaseException) -> None:
        self._report(event, f"storing the result failed: {exc}")

    def _report(self, event: TriggerEvent, message: str) -> None:
        """A trigger that waits for an answer (a PLC) hears of the failure now, not by its timeout."""
        if isinstance(self.trigger, ReportsFailures):
            try:
                self.trigger.capture_failed(event, message)
            except Exception as exc:
                log.warning("could not report a failed capture", worker=self.name, error=str(exc))

    def teardown(self) -> None:
        self.trigger.teardown()


__all__ = ["OutputWorker", "WorkflowRunner", "result_event_payload"]
