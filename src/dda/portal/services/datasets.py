"""Datasets: named, versioned; a version is an immutable snapshot of image hashes and labels.

Contract functions other portal areas call (see docs/portal.md):

- :func:`materialize_version` writes a version's images, masks and a DDA manifest with local paths
  under a folder; ``dda.ml`` training and evaluation (and ``dda train``) read that manifest directly.
- :func:`create_version_from_manifest` imports a Ground Truth / DDA manifest with its files (a
  labeling job's output, station results) into a new version of a named dataset.

A version stores its items as rows (hash, mask hash, label, boxes, split), its class names, stats,
a seeded train/val/test split and the validation report, plus a JSON Lines snapshot in the use
case's store (``datasets/<dataset id>/v<N>/manifest.jsonl``).
"""

from __future__ import annotations

import json
import re
import tempfile
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from dda.core.errors import Conflict, InvalidInput, NotFound
from dda.formats.coco import write_coco
from dda.formats.convert import with_boxes_from_masks
from dda.formats.dataset import Box, Dataset, Sample
from dda.formats.loader import load_dataset
from dda.formats.masks import load_class_mask
from dda.formats.writers import write_dda_manifest, write_groundtruth_manifest
from dda.formats.yolo import write_yolo
from dda.portal.context import Portal
from dda.portal.db import DatasetItem, DatasetRow, DatasetVersion
from dda.portal.repositories import data as data_repo
from dda.portal.repositories import datasets as datasets_repo
from dda.portal.repositories import usecases as usecases_repo
from dda.portal.services.data import Ingestor, hash_file, object_key, usecase_store
from dda.portal.services.dataset_labels import LabelsInput, build, report_of

SPLITS = ("train", "val", "test")
_DATASET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}")  # the API's Name rule
MAX_VERSION_ITEMS = 200_000


@dataclass(frozen=True)
class SplitSpec:
    """Fractions of each class that go to train / val / test, drawn with ``seed``."""

    seed: int = 0
    train: float = 0.7
    val: float = 0.15
    test: float = 0.15

    def check(self) -> SplitSpec:
        if min(self.train, self.val, self.test) < 0 or abs(self.train + self.val + self.test - 1) > 1e-6:
            raise InvalidInput("split fractions must be >= 0 and add up to 1", hint="e.g. 0.7 / 0.15 / 0.15")
        return self


def assign_splits(labels: list[int], spec: SplitSpec) -> list[str]:
    """A stratified, seeded split: each class is shuffled and cut by the fractions."""
    rng = np.random.default_rng(spec.seed)
    result = ["train"] * len(labels)
    by_label: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        by_label.setdefault(label, []).append(index)
    for label in sorted(by_label):
        indices = by_label[label]
        order = [indices[i] for i in rng.permutation(len(indices))]
        n_val = round(len(order) * spec.val)
        n_test = round(len(order) * spec.test)
        for index in order[:n_val]:
            result[index] = "val"
        for index in order[n_val : n_val + n_test]:
            result[index] = "test"
    return result


# --------------------------------------------------------------------------- datasets


def get_dataset(session: Session, usecase_id: str, dataset_id: str) -> DatasetRow:
    row = datasets_repo.dataset(session, usecase_id, dataset_id)
    if row is None:
        raise NotFound(f"no dataset {dataset_id!r} in this use case", hint="list them with GET .../datasets")
    return row


def create_dataset(
    session: Session, usecase_id: str, name: str, description: str, actor_id: str | None
) -> DatasetRow:
    if datasets_repo.dataset_by_name(session, usecase_id, name) is not None:
        raise Conflict(f"a dataset named {name!r} exists", hint="add a version to it, or pick another name")
    row = DatasetRow(usecase_id=usecase_id, name=name, description=description, created_by=actor_id)
    session.add(row)
    session.flush()
    return row


def dataset_named(session: Session, usecase_id: str, name: str, actor_id: str | None) -> DatasetRow:
    """The dataset called ``name``, created when missing."""
    if not _DATASET_NAME.fullmatch(name or ""):
        raise InvalidInput(f"{name!r} is not a dataset name", hint="letters, digits, ' ._-', at most 63")
    row = datasets_repo.dataset_by_name(session, usecase_id, name)
    return row or create_dataset(session, usecase_id, name, "", actor_id)


def get_version(
    session: Session, usecase_id: str, version_id: str, dataset_id: str | None = None
) -> DatasetVersion:
    row = datasets_repo.version(session, usecase_id, version_id)
    if row is None or (dataset_id is not None and row.dataset_id != dataset_id):
        raise NotFound(
            f"no dataset version {version_id!r} in this use case", hint="list the dataset's versions"
        )
    return row


# --------------------------------------------------------------------------- building a version


@dataclass
class NewVersion:
    """What a version is made of before it is stored."""

    dataset: Dataset
    source: str
    label_format: str
    report: dict[str, Any]
    split: SplitSpec


def store_version(
    session: Session,
    portal: Portal,
    usecase_id: str,
    dataset_row: DatasetRow,
    new: NewVersion,
    actor_id: str | None,
) -> DatasetVersion:
    """Store images and masks content-addressed and write the version's rows and snapshot."""
    samples = new.dataset.samples
    if not samples:
        raise InvalidInput("the labels name no usable image", hint="check the validation report")
    if len(samples) > MAX_VERSION_ITEMS:
        raise InvalidInput(f"a version holds at most {MAX_VERSION_ITEMS} images", hint="split the dataset")
    ingestor = Ingestor(portal, usecase_id, actor_id)
    version = DatasetVersion(
        dataset_id=dataset_row.id,
        usecase_id=usecase_id,
        number=datasets_repo.latest_number(session, dataset_row.id) + 1,
        source=new.source[:128],
        label_format=new.label_format,
        image_count=len(samples),
        classes={
            "class_names": list(new.dataset.class_names),
            "mask_class_names": list(new.dataset.mask_class_names),
            "box_class_names": list(new.dataset.box_class_names),
        },
        report=new.report,
        created_by=actor_id,
    )
    session.add(version)
    session.flush()
    splits = assign_splits([s.label for s in samples], new.split.check())
    items = _items(session, ingestor, version, samples, splits)
    session.add_all(items)
    version.split = {
        "seed": new.split.seed,
        "fractions": _fractions(new.split),
        "counts": dict(Counter(splits)),
    }
    version.stats = compute_stats(session, portal, usecase_id, version, items)
    version.manifest_key = f"datasets/{dataset_row.id}/v{version.number}/manifest.jsonl"
    _write_snapshot(ingestor, version, items)
    session.flush()
    return version


def _items(
    session: Session, ingestor: Ingestor, version: DatasetVersion, samples: list[Sample], splits: list[str]
) -> list[DatasetItem]:
    """One row per sample; its image and mask are stored content-addressed first."""
    items: list[DatasetItem] = []
    names = _unique_names(samples)
    for position, (sample, split, name) in enumerate(zip(samples, splits, names, strict=True)):
        image_sha = ingestor.add_blob(session, Path(sample.image_path), "image")
        mask_sha = ingestor.add_blob(session, Path(sample.mask_path), "mask") if sample.mask_path else None
        items.append(
            DatasetItem(
                version_id=version.id,
                usecase_id=version.usecase_id,
                position=position,
                name=name,
                sha256=image_sha,
                mask_sha256=mask_sha,
                label=sample.label,
                boxes=[_box_dict(b) for b in sample.boxes],
                split=split,
                source_ref=sample.source_ref[:1024],
            )
        )
    return items


def _fractions(spec: SplitSpec) -> dict[str, float]:
    return {"train": spec.train, "val": spec.val, "test": spec.test}


def _unique_names(samples: list[Sample]) -> list[str]:
    seen: set[str] = set()
    names: list[str] = []
    for index, sample in enumerate(samples):
        name = Path(sample.source_ref or str(sample.image_path)).name or Path(sample.image_path).name
        name = name[:200]
        if name in seen:
            stem, suffix = Path(name).stem, Path(name).suffix
            name = f"{stem}-{index}{suffix}"
        seen.add(name)
        names.append(name)
    return names


def _box_dict(box: Box) -> dict[str, float]:
    return {
        "class_id": box.class_id,
        "left": box.left,
        "top": box.top,
        "width": box.width,
        "height": box.height,
    }


def _write_snapshot(ingestor: Ingestor, version: DatasetVersion, items: list[DatasetItem]) -> None:
    lines = [json.dumps({"dda-version": version.id, **version.classes})]
    for item in items:
        record: dict[str, Any] = {
            "name": item.name,
            "image": object_key(item.sha256),
            "sha256": item.sha256,
            "label": item.label,
            "split": item.split,
        }
        if item.mask_sha256:
            record["mask"] = object_key(item.mask_sha256)
        if item.boxes:
            record["boxes"] = item.boxes
        lines.append(json.dumps(record))
    ingestor.store.put_bytes(version.manifest_key, ("\n".join(lines) + "\n").encode(), "application/x-ndjson")


def compute_stats(
    session: Session, portal: Portal, usecase_id: str, version: DatasetVersion, items: list[DatasetItem]
) -> dict[str, Any]:
    """Class counts (overall and per split), image sizes, masks (images, pixels per class), boxes."""
    class_names: list[str] = version.classes["class_names"]
    mask_names: list[str] = version.classes["mask_class_names"]
    box_names: list[str] = version.classes["box_class_names"]
    classes: Counter[str] = Counter()
    per_split: dict[str, Counter[str]] = {s: Counter() for s in SPLITS}
    sizes: Counter[tuple[int, int]] = Counter()
    boxes: Counter[str] = Counter()
    for item in items:
        name = class_names[item.label] if item.label < len(class_names) else str(item.label)
        classes[name] += 1
        per_split[item.split][name] += 1
        obj = data_repo.get_object(session, usecase_id, item.sha256)
        if obj is not None:
            sizes[(obj.width, obj.height)] += 1
        for box in item.boxes:
            cid = int(box["class_id"])
            boxes[box_names[cid] if cid < len(box_names) else str(cid)] += 1
    widths = [w for w, _ in sizes.elements()]
    heights = [h for _, h in sizes.elements()]
    return {
        "images": len(items),
        "classes": dict(classes),
        "splits": {s: dict(c) for s, c in per_split.items()},
        "sizes": {
            "min_width": min(widths, default=0),
            "max_width": max(widths, default=0),
            "min_height": min(heights, default=0),
            "max_height": max(heights, default=0),
            "common": [{"width": w, "height": h, "images": n} for (w, h), n in sizes.most_common(5)],
        },
        "masks": _mask_stats(portal, usecase_id, items, mask_names),
        "boxes": {"total": sum(boxes.values()), "per_class": dict(boxes)},
    }


def _mask_stats(
    portal: Portal, usecase_id: str, items: list[DatasetItem], mask_names: list[str]
) -> dict[str, Any]:
    with_mask = [i for i in items if i.mask_sha256]
    pixels = np.zeros(max(len(mask_names), 1), dtype=np.int64)
    if with_mask:
        with portal.session() as session:
            usecase = usecases_repo.by_id(session, usecase_id)
            assert usecase is not None
            store = usecase_store(portal, usecase)
        with tempfile.TemporaryDirectory() as work:
            for sha in {i.mask_sha256 for i in with_mask if i.mask_sha256}:
                path = store.get_file(object_key(sha), Path(work) / f"{sha}.png")
                counts = np.bincount(load_class_mask(path).ravel(), minlength=len(pixels))
                pixels[: len(counts)] += counts[: len(pixels)]
    return {
        "images_with_mask": len(with_mask),
        "classes": list(mask_names),
        "pixels_per_class": {n: int(pixels[i]) for i, n in enumerate(mask_names) if i < len(pixels)},
    }


def create_version_from_labels(
    session: Session,
    portal: Portal,
    usecase_id: str,
    dataset_id: str,
    labels: LabelsInput,
    split: SplitSpec,
    work: Path,
    actor_id: str | None = None,
) -> DatasetVersion:
    """A new version from uploaded labels and images already in the use case's data tree.
    Raises LabelsRejected (with the validation report) when the labels have errors."""
    row = get_dataset(session, usecase_id, dataset_id)
    dataset, report = build(session, portal, usecase_id, labels, work)
    new = NewVersion(dataset, "upload", labels.label_format, report, split)
    return store_version(session, portal, usecase_id, row, new, actor_id)


# --------------------------------------------------------------------------- contract functions


def create_version_from_manifest(
    session: Session,
    portal: Portal,
    usecase_id: str,
    dataset_name: str,
    manifest_path: Path,
    *,
    source: str,
    map_prefix: dict[str, str] | None = None,
    split: SplitSpec | None = None,
    actor_id: str | None = None,
) -> DatasetVersion:
    """Import a Ground Truth or DDA manifest and the files it names (local paths, or URIs mapped
    by ``map_prefix``) into a new version of the dataset ``dataset_name`` (created if missing).

    Server-side callers only (labeling jobs, station results): the manifest is trusted to name
    files this process may read. Raises InvalidInput listing the manifest's problems.
    """
    if usecases_repo.by_id(session, usecase_id) is None:
        raise NotFound(f"no use case {usecase_id!r}", hint="check the id")
    dataset = load_dataset(Path(manifest_path), mappings=map_prefix or {}, progress=False)
    row = dataset_named(session, usecase_id, dataset_name, actor_id)
    new = NewVersion(dataset, source, "manifest", report_of(None, len(dataset.samples)), split or SplitSpec())
    return store_version(session, portal, usecase_id, row, new, actor_id)


def version_dataset(
    session: Session,
    portal: Portal,
    usecase_id: str,
    version: DatasetVersion,
    dest: Path,
    *,
    split: str | None = None,
) -> Dataset:
    """The version as a :class:`Dataset` whose images and masks are files under ``dest``."""
    if split is not None and split not in SPLITS:
        raise InvalidInput(f"unknown split {split!r}", hint="use train, val or test")
    usecase = usecases_repo.by_id(session, usecase_id)
    assert usecase is not None
    store = usecase_store(portal, usecase)
    images, masks = dest / "images", dest / "masks"
    images.mkdir(parents=True, exist_ok=True)
    masks.mkdir(parents=True, exist_ok=True)
    samples: list[Sample] = []
    for item in datasets_repo.items(session, version.id, split=split):
        image = images / item.name
        if not image.is_file() or hash_file(image)[0] != item.sha256:
            store.get_file(object_key(item.sha256), image)
        mask = None
        if item.mask_sha256:
            mask = masks / f"{item.mask_sha256}.png"
            if not mask.is_file():
                store.get_file(object_key(item.mask_sha256), mask)
        boxes = tuple(
            Box(int(b["class_id"]), b["left"], b["top"], b["width"], b["height"]) for b in item.boxes
        )
        samples.append(Sample(image, item.label, mask, boxes, item.name, item.position + 1))
    classes = version.classes
    return Dataset(
        samples=samples,
        class_names=list(classes["class_names"]),
        mask_class_names=list(classes["mask_class_names"]),
        name=f"v{version.number}",
        box_class_names=list(classes["box_class_names"]),
    )


def materialize_version(
    session: Session,
    portal: Portal,
    usecase_id: str,
    version_id: str,
    dest: Path,
    *,
    split: str | None = None,
) -> Path:
    """Write the version's images (``dest/images``), masks (``dest/masks``) and a DDA manifest with
    paths relative to it; return the manifest's path (``dest/manifest.jsonl``, or
    ``dest/<split>.manifest`` for one split). ``dda.ml`` and ``dda train`` read it directly."""
    version = get_version(session, usecase_id, version_id)
    dest = Path(dest)
    dataset = version_dataset(session, portal, usecase_id, version, dest, split=split)
    name = f"{split}.manifest" if split else "manifest.jsonl"
    return write_dda_manifest(dataset, dest / name, refs="relative")


# --------------------------------------------------------------------------- export

EXPORT_FORMATS = ("gt", "dda", "coco", "yolo")


def export_version(
    session: Session, portal: Portal, usecase_id: str, version: DatasetVersion, fmt: str, work: Path
) -> Path:
    """A zip of the version as a Ground Truth manifest, DDA manifest, COCO or YOLO dataset."""
    if fmt not in EXPORT_FORMATS:
        raise InvalidInput(f"unknown export format {fmt!r}", hint=f"use one of {', '.join(EXPORT_FORMATS)}")
    out = work / "export"
    if fmt in ("gt", "dda"):
        dataset = version_dataset(session, portal, usecase_id, version, out)
        if fmt == "gt":
            write_groundtruth_manifest(dataset, out / "output.manifest", refs="relative")
        else:
            write_dda_manifest(dataset, out / "manifest.jsonl", refs="relative")
    else:
        dataset = version_dataset(session, portal, usecase_id, version, work / "data")
        if fmt == "coco":
            write_coco(dataset, out)
        else:
            if not dataset.box_class_names and dataset.has_masks:
                dataset = with_boxes_from_masks(dataset)
            write_yolo(dataset, out)
    archive = work / f"v{version.number}-{fmt}.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in sorted(p for p in out.rglob("*") if p.is_file()):
            compress = (
                zipfile.ZIP_STORED
                if path.suffix.lower() in (".jpg", ".jpeg", ".png")
                else zipfile.ZIP_DEFLATED
            )
            bundle.write(path, path.relative_to(out).as_posix(), compress_type=compress)
    return archive
