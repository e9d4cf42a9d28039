"""Send results home (the seed's InferenceUploader): all / anomalies / flagged / a sample, in
batches, under a bandwidth cap. Store-and-forward: results stay in the station's durable store
and a cursor records what the portal has acknowledged, so an offline spell only delays them;
uploads are content-addressed on the portal, so a re-send never makes a duplicate."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from sqlalchemy import select

from dda.core.errors import DDAError
from dda.core.logging import get_logger
from dda.core.settings import ResultUploadSettings
from dda.fleet_protocol import ResultFile, ResultRecord
from dda.station.agent.client import AgentClient, PortalRefused
from dda.station.context import Station
from dda.station.db.models import InferenceResult
from dda.station.services.overlays import overlay_path

log = get_logger(__name__)


class ResultUploader:
    def __init__(
        self, station: Station, client: AgentClient, folder: Path, settings: ResultUploadSettings
    ) -> None:
        self.station = station
        self.client = client
        self.settings = settings
        self.cursor_path = folder / "upload-cursor.json"

    def _cursor(self) -> int:
        try:
            return int(json.loads(self.cursor_path.read_text())["last_id"])
        except (OSError, ValueError, KeyError, TypeError):
            return 0

    def _save_cursor(self, last_id: int) -> None:
        tmp = self.cursor_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"last_id": last_id}))
        os.replace(tmp, self.cursor_path)

    def wanted(self, row: InferenceResult) -> bool:
        mode = self.settings.mode
        if mode == "all":
            return True
        if mode == "anomalies":
            return row.prediction == "anomaly"
        if mode == "flagged":
            return bool(row.flag_for_review)
        if mode == "sampled":  # the same results whatever the timing: a hash of the capture id
            return (
                int(hashlib.sha256(row.capture_id.encode()).hexdigest()[:8], 16)
                < self.settings.sample_rate * 2**32
            )
        return False

    def tick(self) -> int:
        """Upload the next batch; returns how many results were sent. Stops at the first failure
        (the cursor stays before it, so nothing is skipped)."""
        if self.settings.mode == "off":
            return 0
        with self.station.session() as session:
            rows = list(
                session.scalars(
                    select(InferenceResult)
                    .where(InferenceResult.id > self._cursor())
                    .order_by(InferenceResult.id)
                    .limit(self.settings.batch_size)
                )
            )
            session.expunge_all()
        sent = 0
        for row in rows:
            if self.wanted(row):
                try:
                    self._send(row)
                except PortalRefused as exc:
                    if exc.status not in (400, 413, 422):  # a result the portal will never take is skipped
                        return sent
                    log.warning(
                        "result refused by the portal; skipped", capture=row.capture_id, error=exc.message
                    )
                except DDAError:
                    return sent
                sent += 1
            self._save_cursor(row.id)
        return sent

    def _send(self, row: InferenceResult) -> None:
        root = self.station.paths.results
        files: list[ResultFile] = []
        at = int(row.created_at.timestamp())
        if (root / row.input_path).is_file():
            overlay_path(self.station.store, row)  # drawn on first use (not on the capture path)
        for relative in (row.input_path, row.mask_path, row.output_path, getattr(row, "manifest_path", None)):
            if not relative or not (root / relative).is_file():
                continue  # removed by retention: send what is left
            data = (root / relative).read_bytes()
            name = Path(relative).name
            digest = hashlib.sha256(data).hexdigest()
            started = time.monotonic()
            self.client.call(
                "PUT", f"/api/v1/agent/results/{row.capture_id}/{name}?at={at}&sha256={digest}", data
            )
            self._throttle(len(data), time.monotonic() - started)
            files.append(ResultFile(name=name, sha256=digest))
        record = ResultRecord(
            capture_id=row.capture_id,
            captured_at=row.created_at,
            verdict=row.prediction,
            label=row.label[:64],
            anomaly_score=row.anomaly_score,
            workflow=row.workflow_name[:100],
            model=f"{getattr(row, 'model_name', '')}:{getattr(row, 'model_version', '')}"[:200],
            review="anomaly"
            if row.human_classification == "anomaly"
            else "normal"
            if row.human_classification == "normal"
            else None,
            files=files,
        )
        self.client.call("POST", "/api/v1/agent/results", record.model_dump_json().encode())

    def _throttle(self, size: int, spent_s: float) -> None:
        wait = size / self.settings.max_bytes_per_s - spent_s
        if wait > 0:
            time.sleep(wait)
