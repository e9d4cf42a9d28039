"""A labeling job's output: the accepted annotations as a SageMaker Ground Truth output manifest
(written by :func:`dda.formats.writers.write_groundtruth_manifest`, so the existing transform
applies unchanged) with its images and masks in the use case's ``labels/<job>/output/``, and a
new dataset version; plus model pre-labels offered as editable starting annotations."""

from __future__ import annotations

import base64
import io
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from PIL import Image, ImageDraw
from sqlalchemy import select
from sqlalchemy.orm import Session

from dda.core.errors import Conflict, InvalidInput
from dda.formats.dataset import Box, Dataset, Sample
from dda.formats.masks import save_class_mask
from dda.formats.writers import write_groundtruth_manifest
from dda.portal.context import Portal
from dda.portal.db import LabelingJob, LabelingTask
from dda.portal.services import datasets, labeling, registry, storage
from dda.portal.services import usecases as usecases_service

MANIFEST = "output.manifest"


def _attribute(name: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:40] or "labels"


def _sample(job: LabelingJob, task: LabelingTask, image: Path, masks: Path) -> Sample:
    labels, note = job.labels, task.annotation
    if job.task_type == "classification":
        return Sample(image, labels.index(note["label"]), source_ref=image.name)
    if job.task_type == "bounding_box":
        boxes = tuple(  # class ids are zero-based, as in Ground Truth's class-map
            Box(labels.index(b["label"]), b["left"], b["top"], b["width"], b["height"])
            for b in note["boxes"]
        )
        return Sample(image, int(bool(boxes)), boxes=boxes, source_ref=image.name)
    with Image.open(image) as opened:
        size = opened.size
    if job.task_type == "polygon":
        canvas = Image.new("L", size, 0)
        draw = ImageDraw.Draw(canvas)
        for polygon in note["polygons"]:
            draw.polygon([tuple(p) for p in polygon["points"]], fill=labels.index(polygon["label"]) + 1)
        ids = np.asarray(canvas, dtype=np.uint8)
    else:
        with Image.open(io.BytesIO(base64.b64decode(note["mask_png"]))) as mask:
            if mask.size != size:
                raise InvalidInput(
                    f"the mask of task {task.position} is not the image's size", hint="redraw it"
                )
            ids = np.asarray(mask, dtype=np.uint8)
    mask_path = save_class_mask(ids, masks / f"{image.stem}.png", len(labels) + 1)
    return Sample(image, int(bool(ids.any())), mask_path, source_ref=image.name)


def _dataset(job: LabelingJob, samples: list[Sample]) -> Dataset:
    if job.task_type == "classification":
        return Dataset(samples, list(job.labels), [], name=job.name)
    if job.task_type == "bounding_box":  # without box class names the writer leaves the boxes out
        return Dataset(samples, ["normal", "anomaly"], name=job.name, box_class_names=list(job.labels))
    return Dataset(samples, ["normal", "anomaly"], ["background", *job.labels], name=job.name)


def complete(
    session: Session, portal: Portal, job: LabelingJob, dataset_name: str | None, partial: bool
) -> dict[str, Any]:
    """Write the output manifest and a new dataset version from it."""
    labeling._open(job)
    tasks = list(
        session.scalars(
            select(LabelingTask).where(LabelingTask.job_id == job.id).order_by(LabelingTask.position)
        )
    )
    unfinished = [t for t in tasks if t.status not in labeling.DONE]
    if unfinished and not partial:
        raise Conflict(
            f"{len(unfinished)} images are not labelled and accepted yet", hint="finish them, or pass partial"
        )
    accepted = [t for t in tasks if t.status == "accepted"]
    if not accepted:
        raise Conflict("no accepted annotations to output", hint="label and accept some images first")
    usecase = usecases_service.get(session, job.usecase_id)
    store = storage.store_for(portal, "usecases", usecase, usecase.id)
    prefix = f"labels/{job.id}/output"
    with tempfile.TemporaryDirectory(prefix="dda-labels-") as tmp:
        root = Path(tmp)
        samples = []
        for task in accepted:
            image = store.get_file(
                task.image_key, root / "images" / f"{task.position:06d}-{PurePosixPath(task.image_key).name}"
            )
            samples.append(_sample(job, task, image, root / "masks"))
        manifest = write_groundtruth_manifest(
            _dataset(job, samples), root / MANIFEST, job=_attribute(job.name)
        )
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            store.put_file(f"{prefix}/{path.relative_to(root).as_posix()}", path)
        version_id = _dataset_version(session, portal, job, dataset_name or job.name, manifest)
    job.status = "completed"
    job.completed_at = datetime.now(UTC)
    job.output = {
        "store_prefix": prefix,
        "manifest": MANIFEST,
        "images": len(accepted),
        "dataset_version_id": version_id,
    }
    return job.output


def _dataset_version(session: Session, portal: Portal, job: LabelingJob, name: str, manifest: Path) -> str:
    version = datasets.create_version_from_manifest(
        session, portal, job.usecase_id, name, manifest, source=f"labeling:{job.id}"
    )
    return str(version.id)


def prelabel_tasks(session: Session, portal: Portal, job: LabelingJob) -> int:
    """Run the job's pre-label model on each image; its guess becomes the task's prelabel."""
    from dda.ml.artifact import load_artifact
    from dda.ml.data import load_rgb
    from dda.ml.predict import Predictor

    usecase = usecases_service.get(session, job.usecase_id)
    store = storage.store_for(portal, "usecases", usecase, usecase.id)
    with tempfile.TemporaryDirectory(prefix="dda-prelabel-") as tmp:
        predictor = Predictor(load_artifact(_model_file(session, portal, job, store, Path(tmp))))
        count = 0
        for task in session.scalars(select(LabelingTask).where(LabelingTask.job_id == job.id)):
            image = store.get_file(task.image_key, Path(tmp) / "image")
            task.prelabel = _guess(job, predictor.predict(load_rgb(image)))
            count += 1
    return count


def _model_file(session: Session, portal: Portal, job: LabelingJob, store: Any, tmp: Path) -> Path:
    ref = job.prelabel_model
    if ref.get("artifact_key"):
        if not store.exists(ref["artifact_key"]):
            raise InvalidInput(
                "the pre-label model is not in the use case's store", hint="check the reference"
            )
        return Path(store.get_file(ref["artifact_key"], tmp / "model.tar.gz"))
    path: Path = registry.fetch_artifact(session, portal, job.usecase_id, str(ref.get("version_id")), tmp)
    return path


def _guess(job: LabelingJob, prediction: Any) -> dict[str, Any]:
    labels = job.labels
    if job.task_type == "classification":
        guess = (
            prediction.label
            if prediction.label in labels
            else labels[0 if prediction.verdict == "normal" else -1]
        )
        return {"label": guess}
    if job.task_type in ("bounding_box", "polygon") and prediction.mask is not None:
        return _region_guess(job, prediction.mask)
    if job.task_type == "mask" and prediction.mask is not None:
        ids = np.clip(prediction.mask, 0, len(labels)).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(ids, mode="L").save(buffer, format="PNG")
        return {"mask_png": base64.b64encode(buffer.getvalue()).decode()}
    return {}


MIN_REGION_PIXELS = 4  # smaller predicted specks are noise, not a starting annotation
MAX_PRELABEL_REGIONS = 100


def _region_guess(job: LabelingJob, mask: np.ndarray) -> dict[str, Any]:
    """One box (or a rectangle polygon, to be refined by the labeler) around each connected region
    of the model's predicted defect mask. A mask class id i names the job's label i (1-based);
    ids beyond the job's labels take its first label."""
    from dda.formats.convert import connected_regions

    labels = job.labels
    boxes: list[dict[str, Any]] = []
    for class_id in sorted(int(c) for c in np.unique(mask) if c):
        label = labels[class_id - 1] if class_id <= len(labels) else labels[0]
        for (x0, y0, x1, y1), count in connected_regions(mask == class_id):
            if count >= MIN_REGION_PIXELS:
                boxes.append(
                    {"label": label, "left": x0, "top": y0, "width": x1 - x0 + 1, "height": y1 - y0 + 1}
                )
    boxes = boxes[:MAX_PRELABEL_REGIONS]
    if job.task_type == "bounding_box":
        return {"boxes": boxes}
    polygons = [
        {
            "label": b["label"],
            "points": [
                [b["left"], b["top"]],
                [b["left"] + b["width"] - 1, b["top"]],
                [b["left"] + b["width"] - 1, b["top"] + b["height"] - 1],
                [b["left"], b["top"] + b["height"] - 1],
            ],
        }
        for b in boxes
    ]
    return {"polygons": polygons}
