"""Labeling outputs with real models and data: a registry model pre-labels a bounding-box job (its
predicted defect regions become editable boxes), the labeler corrects one and accepts the rest,
and the output (Ground Truth manifest -> dataset version) exports to COCO and YOLO with the boxes
as labelled; a polygon job's output becomes masks that the same exports turn into regions."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from dda.formats.dataset import Dataset
from dda.ml.artifact import load_artifact
from dda.ml.predict import Predictor
from dda.ml.training import TrainOptions, train_model
from dda.portal.db import DatasetVersion, LabelingTask
from dda.portal.permissions import Role
from dda.portal.repositories import usecases as usecases_repo
from dda.portal.services import registry, storage
from tests.ml.test_train import make_disc_dataset
from tests.portal.conftest import PortalHarness

pytestmark = pytest.mark.slow
SIZE = 80  # the disc images' side, in pixels


def _setup(h: PortalHarness, discs: Dataset) -> tuple[dict[str, str], str]:
    h.make_user("admin", admin=True)
    usecase_id = h.create_usecase(h.login("admin"), "line-1")
    h.make_user("lead", role=Role.DATA_SCIENTIST, usecase_id=usecase_id)
    with h.portal.session() as session:
        row = usecases_repo.by_id(session, usecase_id)
        assert row is not None
        store = storage.store_for(h.portal, "usecases", row, row.id)
    for sample in discs.samples:
        store.put_file(f"datasets/discs/images/{sample.image_path.name}", sample.image_path)
    return h.login("lead"), usecase_id


def _anomaly_model(h: PortalHarness, usecase_id: str, discs: Dataset, work: Path) -> tuple[str, Path]:
    """A PaDiM model of the discs, trained here and registered as a registry version."""
    options = TrainOptions(input_size=(64, 64), method="padim", cv_folds=2, plots=False, num_threads=2)
    artifact = train_model(discs, "anomaly", work / "padim.tar.gz", options=options, progress=False)
    with h.portal.session() as session:
        version = registry.register_version(
            session, h.portal, usecase_id, "discs", artifact.artifact_path, source="trained", lineage={}
        )
        return str(version.id), artifact.artifact_path


def _image_name(h: PortalHarness, task_id: str) -> str:
    with h.portal.session() as session:
        row = session.get(LabelingTask, task_id)
        assert row is not None
        return Path(row.image_key).name


def _check_boxes_outline(boxes: list[dict[str, Any]], mask: np.ndarray) -> None:
    """Boxes outline the predicted mask: together they cover its pixels (specks aside), and each
    is tight (a predicted pixel on every one of its edges)."""
    covered = np.zeros_like(mask, dtype=bool)
    for b in boxes:
        x0, y0, x1, y1 = b["left"], b["top"], b["left"] + b["width"] - 1, b["top"] + b["height"] - 1
        inside = mask[y0 : y1 + 1, x0 : x1 + 1] != 0
        assert inside[0].any() and inside[-1].any() and inside[:, 0].any() and inside[:, -1].any()
        covered[y0 : y1 + 1, x0 : x1 + 1] = True
    assert int(((mask != 0) & ~covered).sum()) <= 3 * 10  # at most a few sub-4-pixel specks


def _run_labeling(
    h: PortalHarness, lead: dict[str, str], usecase_id: str, body: dict[str, Any], edit: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Create the job, claim every task and submit ``edit(task)``; complete; (output, tasks)."""
    base = f"/api/v1/usecases/{usecase_id}/labeling"
    created = h.client.post(base, json=body, headers=lead)
    assert created.status_code == 201, created.text
    job_id = created.json()["id"]
    tasks = []
    while (task := h.client.post(f"{base}/{job_id}/tasks/next", headers=lead).json()) is not None:
        task["name"] = _image_name(h, task["id"])
        tasks.append(task)
        submitted = h.client.post(
            f"{base}/{job_id}/tasks/{task['id']}/submit", json={"annotation": edit(task)}, headers=lead
        )
        assert submitted.status_code == 200, submitted.text
    done = h.client.post(f"{base}/{job_id}/complete", json={}, headers=lead)
    assert done.status_code == 200, done.text
    return done.json()["output"], tasks


def _export(h: PortalHarness, headers: dict[str, str], usecase_id: str, version_id: str, fmt: str) -> Any:
    with h.portal.session() as session:
        version = session.get(DatasetVersion, version_id)
        assert version is not None
        dataset_id = version.dataset_id
    url = f"/api/v1/usecases/{usecase_id}/datasets/{dataset_id}/versions/{version_id}/export"
    response = h.client.get(url, params={"format": fmt}, headers=headers)
    assert response.status_code == 200, response.text
    return zipfile.ZipFile(io.BytesIO(response.content))


def _yolo_line(box: tuple[int, int, int, int], class_id: int = 0) -> str:
    left, top, width, height = box
    return (
        f"{class_id} {(left + width / 2) / SIZE:.6f} {(top + height / 2) / SIZE:.6f} "
        f"{width / SIZE:.6f} {height / SIZE:.6f}"
    )


def test_prelabelled_boxes_export_to_gt_coco_and_yolo(sqlite_portal: PortalHarness, tmp_path: Path) -> None:
    h = sqlite_portal
    discs = make_disc_dataset(tmp_path / "discs", n_per_class=6, size=SIZE)
    lead, usecase_id = _setup(h, discs)
    version_id, artifact = _anomaly_model(h, usecase_id, discs, tmp_path)
    predictor = Predictor(load_artifact(artifact))
    truth = {s.image_path.name: s for s in discs.samples}
    fixed = (5, 6, 10, 12)  # the labeler's own box on the first image

    def edit(task: dict[str, Any]) -> dict[str, Any]:
        assert task["annotation"] == task["prelabel"]  # the pre-label is the starting annotation
        if not edit.done:  # type: ignore[attr-defined]
            edit.done = True  # type: ignore[attr-defined]
            left, top, width, height = fixed
            return {"boxes": [{"label": "crack", "left": left, "top": top, "width": width, "height": height}]}
        return dict(task["prelabel"])

    edit.done = False  # type: ignore[attr-defined]
    body = {
        "name": "discs-boxes",
        "task_type": "bounding_box",
        "labels": ["crack"],
        "source": {"store_prefix": "datasets/discs/images"},
        "labelers": ["lead"],
        "prelabel_model": {"version_id": version_id},
    }
    output, tasks = _run_labeling(h, lead, usecase_id, body, edit)
    assert len(tasks) == 12 and output["images"] == 12 and output["dataset_version_id"]

    # Pre-labels are the model's predicted regions, and on the cracked discs they find the crack.
    found = 0
    for task in tasks:
        sample = truth[task["name"]]
        image = np.asarray(Image.open(sample.image_path).convert("RGB"))
        mask = predictor.predict(image).mask
        assert mask is not None
        boxes = task["prelabel"]["boxes"]
        _check_boxes_outline(boxes, mask)
        assert all(b["label"] == "crack" for b in boxes)
        if sample.label and sample.mask_path is not None:
            crack = np.asarray(Image.open(sample.mask_path)) != 0
            hits = [
                crack[b["top"] : b["top"] + b["height"], b["left"] : b["left"] + b["width"]] for b in boxes
            ]
            found += any(hit.any() for hit in hits)
    assert found >= 4, f"pre-label boxes touched the crack on only {found} of 6 cracked discs"

    # The output as labelled: Ground Truth boxes, COCO and YOLO with the same boxes.
    first, expected = tasks[0], {t["name"]: t["prelabel"]["boxes"] for t in tasks[1:]}
    expected[first["name"]] = [{"left": fixed[0], "top": fixed[1], "width": fixed[2], "height": fixed[3]}]
    gt = _export(h, lead, usecase_id, output["dataset_version_id"], "gt")
    records = [json.loads(line) for line in gt.read("output.manifest").decode().splitlines()]
    assert len(records) == 12
    boxes_attr = next(k for k in records[0] if k.endswith("-metadata") and "class-map" in records[0][k])
    assert records[0][boxes_attr]["class-map"] == {"0": "crack"}
    coco = _export(h, lead, usecase_id, output["dataset_version_id"], "coco")
    data = json.loads(coco.read(next(n for n in coco.namelist() if n.endswith(".json"))))
    assert [c["name"] for c in data["categories"]] == ["crack"]
    by_image = {i["id"]: i["file_name"] for i in data["images"]}
    coco_boxes: dict[str, list[list[float]]] = {}
    for annotation in data["annotations"]:
        coco_boxes.setdefault(Path(by_image[annotation["image_id"]]).name, []).append(annotation["bbox"])
    yolo = _export(h, lead, usecase_id, output["dataset_version_id"], "yolo")
    assert yolo.read("classes.txt").decode() == "crack\n"
    for name, boxes in expected.items():
        want = sorted([b["left"], b["top"], b["width"], b["height"]] for b in boxes)
        coco_name = next((n for n in coco_boxes if n.endswith(name)), None)
        assert sorted(coco_boxes.get(coco_name or "", [])) == want, name
        label_file = next(n for n in yolo.namelist() if n.startswith("labels/") and name[:-4] in n)
        lines = yolo.read(label_file).decode().splitlines()
        assert sorted(lines) == sorted(_yolo_line((b[0], b[1], b[2], b[3])) for b in want), name


def test_polygon_output_becomes_masks_and_regions(sqlite_portal: PortalHarness, tmp_path: Path) -> None:
    h = sqlite_portal
    discs = make_disc_dataset(tmp_path / "discs", n_per_class=2, size=SIZE)
    lead, usecase_id = _setup(h, discs)
    square = [[10, 10], [30, 10], [30, 20], [10, 20]]  # PIL fills edges too: 21 x 11 pixels

    def edit(task: dict[str, Any]) -> dict[str, Any]:
        return {"polygons": [{"label": "crack", "points": square}] if task["name"] == "img001.png" else []}

    body = {
        "name": "discs-polygons",
        "task_type": "polygon",
        "labels": ["crack", "dent"],
        "source": {"store_prefix": "datasets/discs/images"},
        "labelers": ["lead"],
    }
    output, tasks = _run_labeling(h, lead, usecase_id, body, edit)
    assert len(tasks) == 4 and output["images"] == 4
    gt = _export(h, lead, usecase_id, output["dataset_version_id"], "gt")
    records = {
        Path(r["source-ref"]).name: r
        for r in (json.loads(line) for line in gt.read("output.manifest").decode().splitlines())
    }
    masked = [n for n, r in records.items() if any(k.endswith("-ref") and k != "source-ref" for k in r)]
    assert [n[-10:] for n in masked] == ["img001.png"]  # images without polygons are normal, no mask
    polygon_record = next(r for n, r in records.items() if n.endswith("img001.png"))
    mask_key = next(k for k in polygon_record if k.endswith("-ref") and k != "source-ref")
    mask_name = polygon_record[mask_key]
    with Image.open(io.BytesIO(gt.read(mask_name))) as mask_image:
        mask = np.asarray(mask_image.convert("RGB"))
    colored = (mask != mask[0, 0]).any(axis=2)
    assert int(colored.sum()) == 21 * 11
    ys, xs = np.nonzero(colored)
    assert (xs.min(), ys.min(), xs.max(), ys.max()) == (10, 10, 30, 20)
    yolo = _export(h, lead, usecase_id, output["dataset_version_id"], "yolo")
    label_file = next(n for n in yolo.namelist() if n.startswith("labels/") and "img001" in n)
    assert yolo.read(label_file).decode().splitlines() == [_yolo_line((10, 10, 21, 11))]
    assert yolo.read("classes.txt").decode().splitlines()[0] == "crack"
