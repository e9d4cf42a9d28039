"""What a job handler gets: its parameters, a work folder, the use case's store, a stop signal,
and calls that record logs, progress and live metrics (each in its own short transaction)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dda.core.storage import ObjectStore
from dda.ml.training.signals import GracefulStop
from dda.portal.context import Portal
from dda.portal.jobs import service
from dda.portal.jobs.models import JobCancelled
from dda.portal.repositories import usecases as usecases_repo
from dda.portal.services import storage


@dataclass
class JobContext:
    portal: Portal
    job_id: str
    usecase_id: str
    job_type: str
    parameters: dict[str, Any]
    parent_id: str | None
    created_by: str | None
    workdir: Path
    stop: GracefulStop

    def log(self, message: str, level: str = "info") -> None:
        with self.portal.session() as session:
            service.add_event(session, self.job_id, "log", message, level=level)

    def progress(self, percent: float | None = None, step: str | None = None) -> None:
        with self.portal.session() as session:
            service.set_progress(session, self.job_id, percent, step)

    def metric(self, data: dict[str, Any]) -> None:
        with self.portal.session() as session:
            service.add_event(session, self.job_id, "metric", data=data)

    def store(self) -> ObjectStore:
        with self.portal.session() as session:
            row = usecases_repo.by_id(session, self.usecase_id)
            if row is None:
                raise JobCancelled("the use case was deleted")
            return storage.store_for(self.portal, "usecases", row, row.id)

    def check_stop(self) -> None:
        if self.stop.requested:
            raise JobCancelled(self.stop.reason)
