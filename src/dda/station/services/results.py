"""Results: list, detail, human review, images, summary and export (the relabel/retrain loop)."""

from __future__ import annotations

import json
import uuid
import zipfile
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image
from sqlalchemy.orm import Session

from dda.core.errors import InvalidInput, NotFound
from dda.formats.masks import color_map_for, is_background_name
from dda.station.context import Station
from dda.station.db.models import InferenceResult
from dda.station.repositories import results as results_repo
from dda.station.repositories.results import ResultFilter
from dda.station.schemas.results import ResultOut, ResultPage, ResultQuery, ResultReview
from dda.station.services.overlays import overlay_path
from dda.station.services.result_store import (
    CLASSIFICATION_ATTR,
    SEGMENTATION_ATTR,
    mask_class_names,
    palette_mask_png,
)

ImageKind = Literal["input", "overlay", "mask"]
MAX_EXPORT = 10_000


def _filter(query: ResultQuery) -> ResultFilter:
    return ResultFilter(
        query.workflow_id,
        query.prediction,
        query.flagged,
        query.since,
        query.until,
        query.part_id,
        query.serial,
        query.lot,
    )


def rows(session: Session, query: ResultQuery) -> tuple[list[InferenceResult], int]:
    return results_repo.page(session, _filter(query), query.limit, query.offset)


def page(session: Session, query: ResultQuery) -> ResultPage:
    rows, total = results_repo.page(session, _filter(query), query.limit, query.offset)
    return ResultPage(items=[ResultOut.model_validate(r) for r in rows], total=total)


def get(session: Session, result_id: int) -> InferenceResult:
    row = results_repo.by_id(session, result_id)
    if row is None:
        raise NotFound(
            f"result {result_id} does not exist (it may have been cleaned up by the storage quota)",
            hint="list results with GET /api/v1/results",
        )
    return row


def review(session: Session, result_id: int, data: ResultReview) -> InferenceResult:
    row = get(session, result_id)
    changes = data.model_dump(exclude_unset=True)
    if "flag_for_review" in changes:
        if changes["flag_for_review"] is None:
            raise InvalidInput("flag_for_review must be true or false", hint="send a boolean")
        row.flag_for_review = bool(changes["flag_for_review"])
        if row.flag_for_review:
            row.downloaded = False  # flagged again: protect it from clean-up until it is exported
    if "human_classification" in changes:
        row.human_classification = changes["human_classification"]
    if "note" in changes:
        row.note = changes["note"]
    session.flush()
    return row


def image_path(station: Station, session: Session, result_id: int, kind: ImageKind) -> Path:
    row = get(session, result_id)
    if kind == "overlay" and station.store.path(row.input_path).is_file():
        return overlay_path(station.store, row)
    relative = {"input": row.input_path, "overlay": row.output_path, "mask": row.mask_path}[kind]
    if relative is None:
        raise NotFound(
            f"result {result_id} has no {kind} image (the model makes no mask)",
            hint="ask for kind=input or kind=overlay",
        )
    path = station.store.path(relative)
    if not path.is_file():
        raise NotFound(f"the {kind} image of result {result_id} is missing on disk", hint="check the disk")
    return path


def capture_image_path(station: Station, session: Session, capture_id: str) -> Path:
    capture = results_repo.capture_by_id(session, capture_id)
    if capture is None:
        raise NotFound(f"capture {capture_id} does not exist", hint="take one with POST .../capture")
    return station.store.path(capture.input_path)


def summary(session: Session, workflow_id: int | None = None) -> dict[str, Any]:
    if workflow_id is not None:
        rows = [r for r in results_repo.per_workflow(session) if r[0] == workflow_id]
        counts: dict[str, int] = {}
        for _, _, prediction, n in rows:
            counts[prediction] = counts.get(prediction, 0) + n
        flagged = results_repo.page(session, ResultFilter(workflow_id=workflow_id, flagged=True), 1, 0)[1]
    else:
        counts = {str(k): v for k, v in results_repo.counts_by(session, InferenceResult.prediction).items()}
        flagged = results_repo.flagged_count(session)
    per_workflow: dict[str, dict[str, Any]] = {}
    for wid, name, prediction, n in results_repo.per_workflow(session):
        if workflow_id is not None and wid != workflow_id:
            continue
        entry = per_workflow.setdefault(name or "(manual)", {"workflow_id": wid, "total": 0})
        entry[prediction] = entry.get(prediction, 0) + n
        entry["total"] += n
    return {
        "total": sum(counts.values()),
        "normal": counts.get("normal", 0),
        "anomaly": counts.get("anomaly", 0),
        "flagged": flagged,
        "by_prediction": counts,
        "per_workflow": per_workflow,
    }


def repair_color_map(color_map: dict[str, Any]) -> dict[str, Any]:
    """Lines stored before the fix listed the background twice (ids 0 and 1), so every defect id
    was named one class too low and id 1 (the first defect) read as background. Shift the names
    back onto their ids; a correct map is returned unchanged."""
    names = [color_map[k].get("class-name", "") for k in sorted(color_map, key=int)]
    if len(names) < 3 or not is_background_name(names[1]):
        return color_map
    fixed = color_map_for(mask_class_names(names[1:]))
    return {k: {**color_map[k], "class-name": fixed[k]["class-name"]} for k in fixed}


def _export_line(
    station: Station, row: InferenceResult, image_name: str, mask_name: str | None
) -> dict[str, Any]:
    line: dict[str, Any] = json.loads(station.store.path(row.manifest_path).read_text().splitlines()[0])
    line["source-ref"] = image_name
    meta = line[f"{CLASSIFICATION_ATTR}-metadata"]
    meta["dda-result-id"] = row.id
    if row.human_classification:
        line[CLASSIFICATION_ATTR] = 0 if row.human_classification == "normal" else 1
        meta["class-name"] = row.human_classification
        meta["human-annotated"] = "yes"
    if mask_name is not None:
        line[SEGMENTATION_ATTR] = mask_name
        seg_meta = line[f"{SEGMENTATION_ATTR}-metadata"]
        seg_meta["internal-color-map"] = repair_color_map(seg_meta["internal-color-map"])
        if row.human_classification == "normal":
            seg_meta["human-annotated"] = "yes"  # a person said: no defect (the mask is empty)
    else:
        line.pop(SEGMENTATION_ATTR, None)
        line.pop(f"{SEGMENTATION_ATTR}-metadata", None)
    return line


def export(station: Station, query: ResultQuery) -> Path:
    """A zip of images, masks and a Ground Truth style manifest.jsonl; marks the results exported."""
    station.paths.exports.mkdir(parents=True, exist_ok=True)
    target = station.paths.exports / f"dda-results-{uuid.uuid4().hex[:12]}.zip"
    with station.session() as session:
        rows = results_repo.all_matching(session, _filter(query), MAX_EXPORT + 1)
        if len(rows) > MAX_EXPORT:
            raise InvalidInput(f"more than {MAX_EXPORT} results match", hint="narrow the filter (time range)")
        try:
            _write_zip(station, rows, target)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        for row in rows:
            row.downloaded = True  # flagged results become deletable by the quota once exported
    return target


def _empty_mask_like(path: Path) -> bytes:
    with Image.open(path) as mask:
        width, height = mask.size
        classes = max(2, len(mask.getpalette() or []) // 3)
    return palette_mask_png(np.zeros((height, width), dtype=np.uint8), classes)


def _write_zip(station: Station, rows: list[InferenceResult], target: Path) -> None:
    lines = []
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as archive:
        for row in rows:
            image_name = f"images/{row.capture_id}{Path(row.input_path).suffix}"
            archive.write(station.store.path(row.input_path), image_name)
            mask_name = None
            if row.mask_path is not None:
                mask_name = f"masks/{row.capture_id}.png"
                if row.human_classification == "normal":  # relabelled good: the predicted defect is not one
                    archive.writestr(mask_name, _empty_mask_like(station.store.path(row.mask_path)))
                else:
                    archive.write(station.store.path(row.mask_path), mask_name)
            lines.append(json.dumps(_export_line(station, row, image_name, mask_name)))
        archive.writestr(
            "manifest.jsonl", "\n".join(lines) + ("\n" if lines else ""), compress_type=zipfile.ZIP_DEFLATED
        )
