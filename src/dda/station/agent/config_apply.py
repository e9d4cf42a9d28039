"""Apply a station configuration document from the portal (a configuration deployment or the
"update station configuration" operation): validate every part with the station's own schemas
first, snapshot what it replaces, write it in one transaction, start its workflows, and put the
snapshot back when a workflow does not run on it. A crash in between is undone at the next start
(the snapshot is on disk before anything changes)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from dda.core.errors import DDAError
from dda.core.logging import get_logger
from dda.fleet_protocol import StationConfig
from dda.station.context import Station
from dda.station.db.models import ImageSource, Workflow
from dda.station.schemas.sources import ImageSourceIn
from dda.station.schemas.workflows import WorkflowIn
from dda.station.services import decisions
from dda.station.services import sources as sources_service
from dda.station.services import workflows as workflows_service

log = get_logger(__name__)
SNAPSHOT_FILE = "config-previous.json"
SOURCE_FIELDS = ("name", "type", "config", "camera")
WORKFLOW_FIELDS = (
    "name",
    "source_id",
    "model_name",
    "model_version",
    "triggers",
    "outputs",
    "storage",
    "threshold",
)


class ConfigRejected(Exception):
    """The document does not fit this station (nothing was changed)."""


class ConfigFailed(Exception):
    """The document was applied but did not run; the previous configuration is back."""


@dataclass
class Checked:
    sources: list[ImageSourceIn]
    workflows: list[tuple[str, WorkflowIn, float | None, bool]]  # (source name, data, threshold, running)


@dataclass
class Snapshot:
    """The rows a document touches, as they were (secrets included: the file is 0600)."""

    sources: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> fields; {} = did not exist
    workflows: dict[str, dict[str, Any]] = field(default_factory=dict)
    running: list[str] = field(default_factory=list)  # workflow names running before


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])


class ConfigApplier:
    def __init__(self, station: Station, folder: Path) -> None:
        self.station = station
        self.snapshot_path = folder / SNAPSHOT_FILE

    # Validation --------------------------------------------------------------------------------
    def check(self, document: StationConfig | dict[str, Any]) -> Checked:
        try:
            doc = document if isinstance(document, StationConfig) else StationConfig.model_validate(document)
            sources = [
                ImageSourceIn.model_validate({"name": s.name, "config": s.config, "camera": s.camera})
                for s in doc.sources
            ]
        except ValidationError as exc:
            raise ConfigRejected(f"the configuration is not valid here: {_problems(exc)}") from exc
        workflows = []
        for w in doc.workflows:
            data = {
                "name": w.name,
                "source_id": 1,
                "model_name": w.model_name,
                "model_version": w.model_version,
                "triggers": w.triggers,
                "outputs": w.outputs,
                "storage": w.storage,
            }
            try:
                checked = WorkflowIn.model_validate(data)
            except ValidationError as exc:
                raise ConfigRejected(f"workflow {w.name!r} is not valid here: {_problems(exc)}") from exc
            try:
                self.station.registry.package_dir(w.model_name, w.model_version)
            except DDAError as exc:
                raise ConfigRejected(f"workflow {w.name!r}: {exc.message}") from exc
            workflows.append((w.source, checked, w.threshold, w.running))
        return Checked(sources=sources, workflows=workflows)

    # Snapshot ----------------------------------------------------------------------------------
    def _take_snapshot(self, checked: Checked) -> Snapshot:
        snapshot = Snapshot()
        with self.station.session() as session:
            for source in checked.sources:
                found = session.scalar(select(ImageSource).where(ImageSource.name == source.name))
                snapshot.sources[source.name] = {f: getattr(found, f) for f in SOURCE_FIELDS} if found else {}
            for _, data, _, _ in checked.workflows:
                flow = session.scalar(select(Workflow).where(Workflow.name == data.name))
                snapshot.workflows[data.name] = {f: getattr(flow, f) for f in WORKFLOW_FIELDS} if flow else {}
            touched = {s.name for s in checked.sources}
            for row in session.scalars(select(Workflow)):
                used = session.get(ImageSource, row.source_id)
                uses_touched = used is not None and used.name in touched
                if (row.name in snapshot.workflows or uses_touched) and self._running(row):
                    snapshot.running.append(row.name)
        return snapshot

    def _running(self, row: Workflow) -> bool:
        return self.station.workflows.actual_state(row)[0] == "running"

    def _save(self, snapshot: Snapshot) -> None:
        self.snapshot_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.snapshot_path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(snapshot.__dict__, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.snapshot_path)

    def load_snapshot(self) -> Snapshot | None:
        try:
            return Snapshot(**json.loads(self.snapshot_path.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    # Applying ----------------------------------------------------------------------------------
    def apply(self, document: StationConfig | dict[str, Any], *, version: str) -> None:
        """ConfigRejected: nothing changed. ConfigFailed: changed, did not run, restored."""
        checked = self.check(document)
        snapshot = self._take_snapshot(checked)
        self._save(snapshot)  # from here on, a crash means "restore the snapshot" (see recover)
        self._stop(snapshot.running)
        try:
            with self.station.session() as session:
                self._write(session, checked, version)
            self._start(checked, snapshot)
        except (DDAError, ConfigFailed) as exc:
            reason = exc.message if isinstance(exc, DDAError) else str(exc)
            self.restore(snapshot)
            raise ConfigFailed(f"configuration {version} did not apply: {reason}") from exc
        self.snapshot_path.unlink(missing_ok=True)
        log.info("station configuration applied", version=version)

    def _stop(self, names: list[str]) -> None:
        with self.station.session() as session:
            ids = [row.id for row in session.scalars(select(Workflow).where(Workflow.name.in_(names)))]
        for workflow_id in ids:
            self.station.workflows.stop(workflow_id)

    def _write(self, session: Session, checked: Checked, version: str) -> None:
        source_ids: dict[str, int] = {}
        for source in checked.sources:
            found = session.scalar(select(ImageSource).where(ImageSource.name == source.name))
            stored = (
                sources_service.update(self.station, session, found.id, source)
                if found is not None
                else sources_service.create(session, source)
            )
            source_ids[source.name] = stored.id
        for source_name, data, threshold, _ in checked.workflows:
            data = data.model_copy(update={"source_id": source_ids[source_name]})
            row = session.scalar(select(Workflow).where(Workflow.name == data.name))
            if row is None:
                row = workflows_service.create(self.station, session, data)
            else:
                row = workflows_service.update(self.station, session, row.id, data)
            if row.threshold != threshold:
                decisions.change(
                    self.station,
                    session,
                    row.id,
                    username="portal",
                    action="threshold",
                    reason=f"station configuration {version}",
                    threshold=threshold,
                )

    def _start(self, checked: Checked, snapshot: Snapshot) -> None:
        wanted = {data.name for _, data, _, running in checked.workflows if running}
        wanted |= {name for name in snapshot.running if name not in snapshot.workflows}
        with self.station.session() as session:
            rows = list(session.scalars(select(Workflow).where(Workflow.name.in_(sorted(wanted)))))
        for row in rows:
            self.station.workflows.start(row.id)
            with self.station.session() as session:
                state, error = self.station.workflows.actual_state(workflows_service.get(session, row.id))
            if state != "running":
                raise ConfigFailed(f"workflow {row.name!r} does not run: {error}")

    def restore(self, snapshot: Snapshot) -> None:
        """Put the snapshot's rows back (rows it did not have are removed) and restart what ran."""
        names = list(snapshot.workflows) + [n for n in snapshot.running if n not in snapshot.workflows]
        self._stop(names)
        with self.station.session() as session:
            for name, fields in snapshot.workflows.items():
                row = session.scalar(select(Workflow).where(Workflow.name == name))
                if row is not None and not fields:
                    session.delete(row)
                elif row is not None:
                    for key, value in fields.items():
                        setattr(row, key, value)
            session.flush()
            for name, fields in snapshot.sources.items():
                found = session.scalar(select(ImageSource).where(ImageSource.name == name))
                if found is not None and not fields:
                    session.delete(found)
                elif found is not None:
                    for key, value in fields.items():
                        setattr(found, key, value)
        with self.station.session() as session:
            ids = [r.id for r in session.scalars(select(Workflow).where(Workflow.name.in_(snapshot.running)))]
        for workflow_id in ids:
            try:
                self.station.workflows.start(workflow_id)
            except DDAError as exc:
                log.warning("a workflow did not restart after the rollback", error=exc.message)
        self.snapshot_path.unlink(missing_ok=True)
