"""Stores captures and results durably, and keeps the results folder under its quota.

A group of results is durable once its journal record is (one ``fdatasync``, services/journal.py):
only then is it returned, so whatever a caller or an output was told about survives a crash or a
power cut. Its files and rows are written right after without waiting for the disk (readable at
once) and synced in bulk by a checkpoint (services/journaled.py); at start the journal restores
what an interruption lost. A folder with no row and no journal record (a save interrupted before
its record was durable, never acknowledged) is removed at start. Deleting goes the other way
round (a checkpoint, then rows, then files), so no row points at nothing.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from sqlalchemy.orm import Session, sessionmaker

from dda.core.logging import get_logger
from dda.formats.masks import BACKGROUND, class_color, color_map_for, is_background_name
from dda.runtime.types import Prediction
from dda.station.db.models import Capture, InferenceResult
from dda.station.imaging import encode_jpeg
from dda.station.plugins.sources.base import Frame
from dda.station.repositories import results as results_repo
from dda.station.services.durable import DurableBatch
from dda.station.services.journaled import JournaledWrites, PreparedResult
from dda.station.services.trace import Trace

log = get_logger(__name__)
MANIFEST_NAME = "manifest.jsonl"
OVERLAY_NAME = "overlay.jpg"
CLASSIFICATION_ATTR = "dda-classification"
SEGMENTATION_ATTR = "dda-segmentation-ref"
TRACE_ATTR = "dda-trace"
QUOTA_LOW_WATER = 0.9  # clean up to 90% of the quota so clean-ups are rare


@dataclass(frozen=True)
class ResultContext:
    """Who asked for this result."""

    capture_type: str
    source_id: int | None = None
    workflow_id: int | None = None
    workflow_name: str = ""


@dataclass
class PendingResult:
    """An inference done, waiting to be stored."""

    frame: Frame
    prediction: Prediction
    ctx: ResultContext
    latency_ms: dict[str, float]
    mask_classes: list[str]
    started: float = 0.0  # perf_counter when the capture's processing began (for the total latency)
    trace: Trace = field(default_factory=Trace)
    dataset_version: str | None = None
    stats: tuple[float, float] | None = None  # brightness, sharpness
    drift_reference: dict[str, Any] | None = None  # the package's training statistics, if any
    keep: bool = True  # False: a normal result the storage policy does not sample (not stored)


def palette_mask_png(mask: np.ndarray, class_count: int) -> bytes:
    """Class ids as a palette PNG (Ground Truth colours): ids stay readable, colours show in viewers."""
    image = Image.fromarray(mask.astype(np.uint8), mode="P")
    palette: list[int] = []
    for index in range(max(class_count, int(mask.max(initial=0)) + 1)):
        palette.extend(class_color(index))
    image.putpalette(palette)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def mask_class_names(mask_labels: list[str]) -> list[str]:
    """Class names by mask id, background at 0. A package's ``mask_labels`` already list the
    background first (``["background", "anomaly"]``); older callers passed the defect classes only."""
    if mask_labels and is_background_name(mask_labels[0]):
        return list(mask_labels)
    return [BACKGROUND, *mask_labels]


def trace_metadata(
    trace: Trace, model_name: str, model_version: str, dataset_version: str | None
) -> dict[str, Any]:
    """The ``dda-trace`` object of a manifest line: which part, and which model and data judged it."""
    return {
        "part-id": trace.part_id,
        "serial": trace.serial,
        "lot": trace.lot,
        "recipe": trace.recipe,
        "model-name": model_name,
        "model-version": model_version,
        "dataset-version": dataset_version,
    }


def ground_truth_line(
    input_name: str,
    mask_name: str | None,
    prediction: Prediction,
    mask_classes: list[str],
    job: str,
    created: datetime,
    human_label: str | None = None,
    trace: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One manifest line in the reference's Ground Truth style (classification + optional mask)."""
    label = human_label or prediction.verdict
    stamp = created.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    line: dict[str, Any] = {
        "source-ref": input_name,
        CLASSIFICATION_ATTR: 0 if label == "normal" else 1,
        f"{CLASSIFICATION_ATTR}-metadata": {
            "class-name": label,
            "confidence": round(float(prediction.confidence), 6),
            "job-name": job,
            "human-annotated": "yes" if human_label else "no",
            "creation-date": stamp,
            "type": "groundtruth/image-classification",
        },
    }
    if mask_name is not None:
        line[SEGMENTATION_ATTR] = mask_name
        line[f"{SEGMENTATION_ATTR}-metadata"] = {
            "internal-color-map": color_map_for(mask_class_names(mask_classes)),
            "job-name": job,
            "human-annotated": "no",
            "creation-date": stamp,
            "type": "groundtruth/semantic-segmentation",
        }
    if trace is not None:
        line[TRACE_ATTR] = trace
    return line


def _rounded(latency: dict[str, float]) -> dict[str, float]:
    return {k: round(float(v), 3) for k, v in latency.items()}


class ResultStore:
    def __init__(
        self,
        results_dir: Path,
        sessions: sessionmaker[Session],
        quota_bytes: int,
        writes: JournaledWrites,
    ) -> None:
        self.root = results_dir
        self.sessions = sessions
        self.quota_bytes = quota_bytes
        self.writes = writes
        self._lock = threading.Lock()
        self._total_bytes = 0

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.writes.recover()  # before the sweep: a restored folder has its row again
        self.sweep_orphans()
        with self.sessions() as session:
            self._total_bytes = results_repo.total_capture_bytes(session)
        self.writes.start()

    def close(self) -> None:
        """Sync what the journal covers and stop its checkpoints (at shutdown)."""
        self.writes.close()

    @property
    def total_bytes(self) -> int:
        return self._total_bytes

    def path(self, relative: str) -> Path:
        return self.root / relative

    def _new_folder(self, created: datetime, batch: DurableBatch) -> tuple[str, str, Path]:
        capture_id = str(uuid.uuid4())
        day = self.root / f"{created:%Y-%m-%d}"
        if not day.is_dir():
            with contextlib.suppress(FileExistsError):  # another workflow made it a moment ago (and syncs it)
                batch.mkdir(day)
        relative = f"{day.name}/{capture_id}"
        folder = self.root / relative
        batch.mkdir(folder)
        return capture_id, relative, folder

    @staticmethod
    def _input_bytes(frame: Frame) -> tuple[str, bytes]:
        if frame.encoded is not None and frame.encoded_format in ("jpeg", "png"):
            return ("input.jpg" if frame.encoded_format == "jpeg" else "input.png"), frame.encoded
        return "input.jpg", encode_jpeg(frame.image, quality=95)

    def save_capture(self, frame: Frame, ctx: ResultContext) -> Capture:
        """Store a bare capture (no inference): the image and its row."""
        with DurableBatch() as batch:
            capture_id, relative, folder = self._new_folder(frame.captured_at, batch)
            input_name, data = self._input_bytes(frame)
            batch.write(folder / input_name, data)
            batch.sync()
        size = batch.bytes_written
        capture = self._capture_row(capture_id, relative, input_name, frame, ctx, size)
        with self.sessions() as session, session.begin():
            session.add(capture)
        self._account(size)
        return capture

    def _capture_row(
        self, capture_id: str, relative: str, input_name: str, frame: Frame, ctx: ResultContext, size: int
    ) -> Capture:
        height, width = frame.image.shape[:2]
        return Capture(
            id=capture_id,
            source_id=ctx.source_id,
            capture_type=ctx.capture_type,
            folder=relative,
            input_path=f"{relative}/{input_name}",
            width=width,
            height=height,
            size_bytes=size,
            created_at=frame.captured_at,
        )

    def _prepare(self, item: PendingResult) -> PreparedResult:
        """One result's rows and files (nothing written yet)."""
        frame, prediction, ctx = item.frame, item.prediction, item.ctx
        created = datetime.now(UTC)
        capture_id = str(uuid.uuid4())
        relative = f"{created:%Y-%m-%d}/{capture_id}"
        input_name, data = self._input_bytes(frame)
        files = {f"{relative}/{input_name}": data}
        mask_name = None
        if prediction.mask is not None:
            mask_name = "mask.png"
            classes = len(mask_class_names(item.mask_classes))
            files[f"{relative}/{mask_name}"] = palette_mask_png(prediction.mask, classes)
        # The overlay is derived (input + mask + verdict): drawn on first view, not on the latency
        # path (services/overlays.py). Its size is estimated as the input's for the quota.
        job = f"dda-station-{ctx.workflow_name or 'manual'}"
        trace = trace_metadata(
            item.trace, prediction.model_name, prediction.model_version, item.dataset_version
        )
        line = ground_truth_line(
            input_name, mask_name, prediction, item.mask_classes, job, created, trace=trace
        )
        files[f"{relative}/{MANIFEST_NAME}"] = (json.dumps(line) + "\n").encode()
        size = sum(len(b) for b in files.values()) + len(data)
        capture = self._capture_row(capture_id, relative, input_name, frame, ctx, size)
        row = InferenceResult(
            capture_id=capture_id,
            capture_type=ctx.capture_type,
            workflow_id=ctx.workflow_id,
            workflow_name=ctx.workflow_name,
            created_at=created,
            prediction=prediction.verdict,
            label=prediction.label,
            confidence=float(prediction.confidence),
            anomaly_score=float(prediction.anomaly_score),
            threshold=float(prediction.threshold),
            labels={k: float(v) for k, v in prediction.class_areas.items()},
            mask_path=f"{relative}/{mask_name}" if mask_name else None,
            input_path=f"{relative}/{input_name}",
            output_path=f"{relative}/{OVERLAY_NAME}",
            manifest_path=f"{relative}/{MANIFEST_NAME}",
            model_name=prediction.model_name,
            model_version=prediction.model_version,
            part_id=item.trace.part_id,
            serial=item.trace.serial,
            lot=item.trace.lot,
            recipe=item.trace.recipe,
            dataset_version=item.dataset_version,
            brightness=item.stats[0] if item.stats else None,
            sharpness=item.stats[1] if item.stats else None,
            flag_for_review=False,
            downloaded=False,
        )
        return PreparedResult(capture, row, files)

    def save_results(self, items: list[PendingResult]) -> list[InferenceResult]:
        """Store a group of results with one durable journal write (group commit). Returns the
        rows in order; nothing is returned before the group is durable."""
        started = time.perf_counter()
        prepared = [self._prepare(item) for item in items]
        for item, ready in zip(items, prepared, strict=True):
            ready.row.latency_ms = _rounded(item.latency_ms)

        def durable() -> None:
            # "store": rows and files prepared and the journal record synced; the rows then
            # committed carry it (a row restored from the journal does not).
            store_ms = (time.perf_counter() - started) * 1000
            for item, ready in zip(items, prepared, strict=True):
                item.latency_ms["store"] = store_ms
                latency = dict(item.latency_ms)
                latency["total"] = sum(
                    latency.get(k, 0.0) for k in ("acquire", "preprocess", "inference", "store")
                )
                ready.row.latency_ms = _rounded(latency)

        self.writes.save(prepared, durable)
        self._account(sum(ready.capture.size_bytes for ready in prepared))
        return [ready.row for ready in prepared]

    def save_result(
        self,
        frame: Frame,
        prediction: Prediction,
        ctx: ResultContext,
        latency_ms: dict[str, float],
        mask_classes: list[str],
    ) -> InferenceResult:
        """Store input, mask, overlay and manifest line, then the rows; return the committed result."""
        return self.save_results([PendingResult(frame, prediction, ctx, latency_ms, mask_classes)])[0]

    def _account(self, size: int) -> None:
        with self._lock:
            self._total_bytes += size

    def over_quota(self) -> bool:
        return self._total_bytes > self.quota_bytes

    def enforce_quota(self, batch: int = 200) -> int:
        """Delete the oldest deletable captures until under 90% of the quota. Returns how many."""
        removed = 0
        self.writes.checkpoint()  # no journal record may bring back what is deleted now
        with self._lock:
            target = int(self.quota_bytes * QUOTA_LOW_WATER)
            while self._total_bytes > target:
                with self.sessions() as session, session.begin():
                    victims = results_repo.oldest_deletable_captures(session, batch)
                    if not victims:
                        log.warning(
                            "storage quota exceeded but every stored result is protected",
                            total_bytes=self._total_bytes,
                            quota_bytes=self.quota_bytes,
                        )
                        break
                    chosen: list[tuple[str, int]] = []
                    for capture in victims:
                        if self._total_bytes <= target:
                            break
                        chosen.append((capture.folder, capture.size_bytes))
                        self._total_bytes -= capture.size_bytes
                        session.delete(capture)
                for folder, _ in chosen:  # rows are gone (committed): now the files
                    shutil.rmtree(self.root / folder, ignore_errors=True)
                removed += len(chosen)
        if removed:
            log.info("storage quota clean-up", removed=removed, total_bytes=self._total_bytes)
        return removed

    def enforce_retention(self, workflow_id: int, before: datetime, batch: int = 500) -> int:
        """Delete a workflow's captures older than ``before`` (rows first, then files)."""
        removed = 0
        self.writes.checkpoint()  # no journal record may bring back what is deleted now
        while True:
            with self._lock, self.sessions() as session, session.begin():
                victims = results_repo.expired_captures(session, workflow_id, before, batch)
                chosen = [(c.folder, c.size_bytes) for c in victims]
                for capture in victims:
                    session.delete(capture)
                self._total_bytes -= sum(size for _, size in chosen)
            for folder, _ in chosen:
                shutil.rmtree(self.root / folder, ignore_errors=True)
            removed += len(chosen)
            if len(chosen) < batch:
                break
        if removed:
            log.info("retention clean-up", workflow_id=workflow_id, removed=removed)
        return removed

    def sweep_orphans(self) -> int:
        """Remove capture folders with no row: left by a crash between the files and the commit."""
        with self.sessions() as session:
            known = results_repo.capture_folders(session)
        removed = 0
        for day in sorted(p for p in self.root.iterdir() if p.is_dir()):
            for folder in day.iterdir():
                if folder.is_dir() and f"{day.name}/{folder.name}" not in known:
                    shutil.rmtree(folder, ignore_errors=True)
                    removed += 1
        if removed:
            log.info("removed capture folders left by an interrupted save", count=removed)
        return removed
