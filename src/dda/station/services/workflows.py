"""Workflows: CRUD, and the manager that starts, stops and runs them.

The row's ``state`` is the desired state: a workflow left running is started again when the
station restarts. What the API shows is the actual state: running, stopped, or error (wanted
running but its start failed; ``error`` says why).
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dda.core.errors import Conflict, DDAError, NotFound
from dda.core.logging import get_logger
from dda.station.context import Station
from dda.station.db.models import InferenceResult, Workflow
from dda.station.imaging import decode_upload
from dda.station.plugins.processing import apply_camera_settings
from dda.station.plugins.sources import Frame
from dda.station.plugins.triggers import TriggerEvent
from dda.station.repositories import workflows as workflows_repo
from dda.station.schemas.results import ResultOut
from dda.station.schemas.workflows import WorkflowIn, WorkflowOut
from dda.station.services import configs
from dda.station.services import sources as sources_service
from dda.station.services.pipeline import WorkflowSpec
from dda.station.services.retention import RetentionClock, StoragePolicy, cutoff
from dda.station.services.runner import WorkflowRunner
from dda.station.services.trace import Recipe

log = get_logger(__name__)


def get(session: Session, workflow_id: int) -> Workflow:
    row = workflows_repo.by_id(session, workflow_id)
    if row is None:
        raise NotFound(f"workflow {workflow_id} does not exist", hint="list them with GET /api/v1/workflows")
    return row


def _check(session: Session, data: WorkflowIn, own_id: int | None) -> None:
    other = workflows_repo.by_name(session, data.name)
    if other is not None and other.id != own_id:
        raise Conflict(f"a workflow named {data.name!r} already exists", hint="choose another name")
    sources_service.get(session, data.source_id)


def _stored_list(items: list[Any], old: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    old = old or []
    return [
        configs.keep_masked_secrets(configs.to_storage(item), old[i] if i < len(old) else None)
        for i, item in enumerate(items)
    ]


def create(station: Station, session: Session, data: WorkflowIn) -> Workflow:
    _check(session, data, None)
    station.registry.package_dir(data.model_name, data.model_version)  # pinned version must exist
    row = Workflow(
        name=data.name,
        source_id=data.source_id,
        model_name=data.model_name,
        model_version=data.model_version,
        triggers=_stored_list(data.triggers, None),
        outputs=_stored_list(data.outputs, None),
        storage=data.storage.model_dump(mode="json"),
        state="stopped",
    )
    session.add(row)
    session.flush()
    return row


def update(station: Station, session: Session, workflow_id: int, data: WorkflowIn) -> Workflow:
    row = get(session, workflow_id)
    _check(session, data, row.id)
    station.registry.package_dir(data.model_name, data.model_version)
    row.name, row.source_id = data.name, data.source_id
    row.model_name, row.model_version = data.model_name, data.model_version
    row.triggers = _stored_list(data.triggers, row.triggers)
    row.outputs = _stored_list(data.outputs, row.outputs)
    row.storage = data.storage.model_dump(mode="json")
    session.flush()
    return row


def latest_result(session: Session, workflow_id: int) -> InferenceResult | None:
    query = (
        select(InferenceResult)
        .where(InferenceResult.workflow_id == workflow_id)
        .order_by(InferenceResult.id.desc())
        .limit(1)
    )
    return session.scalar(query)


def to_out(station: Station, session: Session, row: Workflow) -> WorkflowOut:
    state, error = station.workflows.actual_state(row)
    last = latest_result(session, row.id)
    return WorkflowOut(
        id=row.id,
        name=row.name,
        source_id=row.source_id,
        model_name=row.model_name,
        model_version=row.model_version,
        triggers=[configs.to_public(configs.load_trigger(t)) for t in row.triggers],
        outputs=[configs.to_public(configs.load_output(o)) for o in row.outputs],
        state=state,
        error=error,
        last_result=ResultOut.model_validate(last) if last else None,
        threshold=row.threshold,
        recipes=dict(row.recipes or {}),
        active_recipe=row.active_recipe,
        revision=row.revision,
        storage=StoragePolicy.model_validate(row.storage or {}),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def load_recipes(stored: dict[str, Any] | None) -> dict[int, Recipe]:
    return {int(number): Recipe.model_validate(recipe) for number, recipe in (stored or {}).items()}


def spec_for(session: Session, row: Workflow) -> WorkflowSpec:
    source = sources_service.get(session, row.source_id)
    return WorkflowSpec(
        id=row.id,
        name=row.name,
        source_id=source.id,
        source=configs.load_source(source.config),
        camera=configs.load_camera(source.camera),
        model_name=row.model_name,
        model_version=row.model_version,
        triggers=[configs.load_trigger(t) for t in row.triggers],
        outputs=[configs.load_output(o) for o in row.outputs],
        threshold=row.threshold,
        recipes=load_recipes(row.recipes),
        active_recipe=row.active_recipe,
        storage=StoragePolicy.model_validate(row.storage or {}),
    )


class WorkflowManager:
    def __init__(self, station: Station) -> None:
        self.station = station
        self._runners: dict[int, WorkflowRunner] = {}
        self._errors: dict[int, str] = {}
        self._lock = threading.RLock()
        self._retention = RetentionClock()

    def actual_state(self, row: Workflow) -> tuple[str, str | None]:
        with self._lock:
            if row.id in self._runners:
                return "running", self._runners[row.id].last_error
            if row.state == "running" or row.id in self._errors:
                return "error", self._errors.get(row.id, "not started")
        return "stopped", None

    def _set_desired(self, workflow_id: int, state: str) -> None:
        with self.station.session() as session:
            get(session, workflow_id).state = state

    def _on_result(self, spec: WorkflowSpec, row: InferenceResult) -> None:
        store = self.station.store
        self.station.metrics.storage_bytes.set(store.total_bytes)
        days = spec.storage.retention_days
        if days is not None and spec.id is not None and self._retention.due(spec.id):
            store.enforce_retention(spec.id, cutoff(days))
        if store.over_quota():
            store.enforce_quota()

    def _start_runner(self, workflow_id: int) -> WorkflowRunner:
        with self.station.session() as session:
            spec = spec_for(session, get(session, workflow_id))
        self.station.registry.load(spec.model_name, spec.model_version)  # fail now, not at the first frame
        runner = WorkflowRunner(spec, self.station.inspector, self._on_result, self.station.outbound)
        runner.start()
        return runner

    def start(self, workflow_id: int) -> None:
        with self._lock:
            if workflow_id in self._runners:
                return
            try:
                runner = self._start_runner(workflow_id)
            except DDAError as exc:
                self._errors[workflow_id] = exc.message
                raise
            self._runners[workflow_id] = runner
            self._errors.pop(workflow_id, None)
            self.station.metrics.workflows_running.set(len(self._runners))
        self._set_desired(workflow_id, "running")
        log.info("workflow started", workflow=runner.spec.name)

    def _stop_runner(self, workflow_id: int) -> None:
        with self._lock:
            runner = self._runners.pop(workflow_id, None)
            self._errors.pop(workflow_id, None)
            self.station.metrics.workflows_running.set(len(self._runners))
        if runner is not None:
            runner.stop()
            log.info("workflow stopped", workflow=runner.spec.name)

    def stop(self, workflow_id: int) -> None:
        self._stop_runner(workflow_id)
        self._set_desired(workflow_id, "stopped")

    def restart_if_running(self, workflow_id: int) -> None:
        """After an edit: a running workflow picks up the new config (an inference in flight finishes)."""
        with self._lock:
            if workflow_id not in self._runners:
                return
            self._stop_runner(workflow_id)
            self.start(workflow_id)

    def forget(self, workflow_id: int) -> None:
        self._stop_runner(workflow_id)

    def restore(self) -> None:
        """Start the workflows that were running when the station stopped."""
        with self.station.session() as session:
            wanted = [row.id for row in workflows_repo.with_state(session, "running")]
        for workflow_id in wanted:
            try:
                self.start(workflow_id)
            except DDAError as exc:
                log.warning(
                    "could not restart workflow", workflow_id=workflow_id, error=exc.message, hint=exc.hint
                )

    def shutdown(self) -> None:
        """Stop every runner, keeping the desired states for the next start."""
        with self._lock:
            ids = list(self._runners)
        for workflow_id in ids:
            self._stop_runner(workflow_id)

    def running_on_source(self, source_id: int) -> list[str]:
        with self._lock:
            return [r.spec.name for r in self._runners.values() if r.spec.source_id == source_id]

    def grab_from_running(self, source_id: int) -> Frame | None:
        with self._lock:
            runner = next((r for r in self._runners.values() if r.spec.source_id == source_id), None)
        if runner is None:
            return None
        frame = runner.grab_for_preview()
        image = apply_camera_settings(frame.image, runner.spec.camera, runner.hardware)
        return Frame(image=image, origin=frame.origin, captured_at=frame.captured_at)

    def update_decisions(
        self, workflow_id: int, threshold: float | None, recipes: dict[int, Recipe], active: int | None
    ) -> None:
        with self._lock:
            runner = self._runners.get(workflow_id)
            if runner is not None:  # one assignment: a capture sees the old settings or the new
                runner.spec = replace(runner.spec, threshold=threshold, recipes=recipes, active_recipe=active)

    def run(
        self,
        workflow_id: int,
        upload: bytes | None = None,
        filename: str = "upload",
        detail: dict[str, Any] | None = None,
    ) -> InferenceResult:
        """The Run button: one capture now (or the uploaded image), through the whole workflow.
        ``detail``: the part's part_id / serial / lot / recipe, stored with the result."""
        frame = decode_upload(upload, filename) if upload is not None else None
        event = TriggerEvent("upload" if frame is not None else "manual", dict(detail or {}))
        with self._lock:
            runner = self._runners.get(workflow_id)
        if runner is not None:
            return runner.capture(event, frame)
        with self.station.session() as session:
            spec = spec_for(session, get(session, workflow_id))
        runner = WorkflowRunner(spec, self.station.inspector, self._on_result, self.station.outbound)
        try:
            for output in runner.outputs:
                output.start()
            if frame is None:
                runner.open_source()
            return runner.capture(event, frame)
        finally:
            for output in runner.outputs:
                if output.alive:
                    output.stop()  # delivers the queued result first
            runner.source.close()
