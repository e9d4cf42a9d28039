"""Turning uploaded labels (Ground Truth / DDA manifest, COCO JSON, YOLO labels archive) plus images
already in the use case's data tree into a :class:`~dda.formats.dataset.Dataset`, with the
validation report of :mod:`dda.formats`.

Manifest references are resolved only inside the use case: a ``map`` rewrites URI prefixes
(``s3://bucket/cookies/`` -> ``cookies/``) onto folders of the tree, and relative references are
taken under ``images_folder``. Anything else (another bucket, an absolute server path, ``..``) is a
problem of that line, never a file the server opens. The referenced objects are copied into a
private work folder and the labels rewritten to point there, so :mod:`dda.formats` checks and loads
exactly the use case's own bytes; messages name the original references, never the work folder.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy.orm import Session

from dda.core.errors import DDAError, InvalidInput
from dda.core.safe_archive import extract_archive
from dda.formats.coco import read_coco
from dda.formats.dataset import Dataset
from dda.formats.loader import load_dataset
from dda.formats.manifest import parse_manifest
from dda.formats.manifest_io import read_manifest_lines
from dda.formats.problems import Problem, ProblemList
from dda.formats.records import SOURCE_REF
from dda.formats.uris import is_uri
from dda.formats.validate import ValidationReport, validate_manifest
from dda.formats.yolo import CLASS_FILES, read_yolo
from dda.portal.context import Portal
from dda.portal.db import DataEntry
from dda.portal.repositories import data as data_repo
from dda.portal.repositories import usecases as usecases_repo
from dda.portal.services.data import MB, clean_folder, object_key, split_path, usecase_store

LABEL_FORMATS = ("gt", "dda", "coco", "yolo")
MAX_PROBLEMS_SHOWN = 500
MAX_FOLDER_IMAGES = 100_000


class LabelsRejected(InvalidInput):
    """The labels have errors; ``report`` lists every problem with its fix."""

    code = "invalid_labels"

    def __init__(self, message: str, *, hint: str, report: dict[str, Any]) -> None:
        super().__init__(message, hint=hint)
        self.report = report


@dataclass
class LabelsInput:
    path: Path
    label_format: str
    images_folder: str = ""
    mappings: dict[str, str] = field(default_factory=dict)  # URI prefix -> folder of the tree


def report_of(
    validation: ValidationReport | None, images: int, problems: list[Problem] | None = None, fmt: str = ""
) -> dict[str, Any]:
    items = list(problems or []) + (validation.sorted_problems if validation else [])
    errors = sum(1 for p in items if p.severity.value == "error")
    return {
        "ok": errors == 0,
        "format": validation.parsed.format if validation else fmt,
        "summary": validation.summary() if validation else f"{images} usable image(s)",
        "images": images,
        "errors": errors,
        "warnings": len(items) - errors,
        "label_counts": validation.label_counts() if validation else {},
        "problems": [p.to_dict() for p in items[:MAX_PROBLEMS_SHOWN]],
    }


def _reject(report: dict[str, Any]) -> LabelsRejected:
    first = next((p for p in report["problems"] if p["severity"] == "error"), None)
    return LabelsRejected(
        f"the labels have {report['errors']} error(s)" + (f"; first: {first['message']}" if first else ""),
        hint=(first["fix"] if first else "fix the labels") + "; the report lists every problem",
        report=report,
    )


class _Sanitizer:
    """Replaces work-folder paths in messages by what the user named."""

    def __init__(self, work: Path) -> None:
        self.replacements: dict[str, str] = {}
        self.work = str(work)

    def add(self, local: str, original: str) -> None:
        self.replacements[local] = original

    def text(self, value: str) -> str:
        for local, original in self.replacements.items():
            value = value.replace(local, original)
        return value.replace(self.work + "/", "").replace(self.work, "")

    def problems(self, items: list[Problem]) -> list[Problem]:
        return [Problem(p.line, self.text(p.message), self.text(p.fix), p.severity, p.field) for p in items]


def build(
    session: Session, portal: Portal, usecase_id: str, labels: LabelsInput, work: Path
) -> tuple[Dataset, dict[str, Any]]:
    """The dataset the labels describe, and its validation report; LabelsRejected on errors."""
    if labels.label_format not in LABEL_FORMATS:
        raise InvalidInput(
            f"unknown label format {labels.label_format!r}", hint=f"use one of {LABEL_FORMATS}"
        )
    fetcher = _Fetcher(session, portal, usecase_id, work)
    if labels.label_format in ("gt", "dda"):
        return _from_manifest(fetcher, labels)
    if labels.label_format == "coco":
        return _from_coco(fetcher, labels)
    return _from_yolo(fetcher, labels)


class _Fetcher:
    """Copies objects of the use case's tree into the work folder (each hash once)."""

    def __init__(self, session: Session, portal: Portal, usecase_id: str, work: Path) -> None:
        self.session, self.usecase_id, self.work = session, usecase_id, work
        usecase = usecases_repo.by_id(session, usecase_id)
        assert usecase is not None
        self.store = usecase_store(portal, usecase)
        self.sanitizer = _Sanitizer(work)

    def entries(self, paths: list[tuple[str, str]]) -> dict[tuple[str, str], DataEntry]:
        return data_repo.entries_at(self.session, self.usecase_id, paths)

    def fetch(self, entry: DataEntry, dest: Path) -> Path:
        if not dest.is_file():
            self.store.get_file(object_key(entry.sha256), dest)
        return dest


def _tree_ref(ref: Any, labels: LabelsInput, mappings: list[tuple[str, str]]) -> tuple[str, str]:
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidInput("empty image or mask reference", hint="give every line a source-ref")
    for prefix, folder in mappings:
        if ref.startswith(prefix):
            rest = ref[len(prefix) :].lstrip("/")
            return split_path(f"{folder}/{rest}" if folder else rest)
    if is_uri(ref) or ref.startswith("/") or "\\" in ref:
        raise InvalidInput(
            f"{ref[:300]} is not in this use case's data",
            hint="upload the files, then map the reference's prefix onto their folder (map: PREFIX=FOLDER)",
        )
    base = labels.images_folder
    return split_path(f"{base}/{ref}" if base else ref)


def _from_manifest(fetcher: _Fetcher, labels: LabelsInput) -> tuple[Dataset, dict[str, Any]]:
    parsed = parse_manifest(labels.path)
    if not parsed.problems.ok:
        raise _reject(report_of(None, 0, fetcher.sanitizer.problems(parsed.problems.sorted()), parsed.format))
    mappings = sorted(
        ((p, clean_folder(f)) for p, f in labels.mappings.items()), key=lambda kv: len(kv[0]), reverse=True
    )
    ref_fields = [SOURCE_REF] + ([parsed.jobs.segmentation.attribute] if parsed.jobs.segmentation else [])
    lines = read_manifest_lines(labels.path, ProblemList())
    wanted: dict[tuple[int, str], tuple[str, str]] = {}
    mine = ProblemList()
    for line in lines:
        for name in ref_fields:
            if name not in line.data:
                continue
            try:
                wanted[(line.number, name)] = _tree_ref(line.data[name], labels, mappings)
            except DDAError as exc:
                mine.add(line.number, exc.message, exc.hint or "", field_name=name)
    found = fetcher.entries(list(set(wanted.values())))
    originals = {line.number: line.data for line in lines}
    rewritten: dict[int, dict[str, Any]] = {line.number: dict(line.data) for line in lines}
    for (number, name), tree_path in wanted.items():
        entry = found.get(tree_path)
        original = str(originals[number][name])
        if entry is None:
            shown = "/".join(p for p in tree_path if p)
            mine.add(
                number,
                f"{original[:300]} (folder path {shown}) is not in this use case's data",
                "upload it first, or fix the map",
                field_name=name,
            )
            continue
        local = f"objects/{entry.sha256}{PurePosixPath(entry.name).suffix.lower()}"
        fetcher.fetch(entry, fetcher.work / local)
        if number in rewritten:
            rewritten[number][name] = local
        fetcher.sanitizer.add(local, original)
    bad_lines = mine.lines_with_errors()
    manifest = _write_numbered(
        fetcher.work / "labels.manifest", rewritten, bad_lines, max(rewritten, default=0)
    )
    validation = validate_manifest(manifest, progress=False)
    report = report_of(validation, len(validation.infos), fetcher.sanitizer.problems(mine.sorted()))
    report["problems"] = [
        {
            **p,
            "message": fetcher.sanitizer.text(str(p["message"])),
            "fix": fetcher.sanitizer.text(str(p["fix"])),
        }
        for p in report["problems"]
    ]
    if not report["ok"]:
        raise _reject(report)
    dataset = load_dataset(manifest, progress=False)
    return _with_original_refs(dataset, fetcher.sanitizer), report


def _write_numbered(path: Path, rows: dict[int, dict[str, Any]], skip: set[int], last: int) -> Path:
    """A manifest whose line numbers are the uploaded file's (skipped lines left blank)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for number in range(1, last + 1):
            row = rows.get(number)
            handle.write(json.dumps(row) + "\n" if row is not None and number not in skip else "\n")
    return path


def _with_original_refs(dataset: Dataset, sanitizer: _Sanitizer) -> Dataset:
    from dataclasses import replace

    samples = [replace(s, source_ref=sanitizer.text(s.source_ref)) for s in dataset.samples]
    return replace(dataset, samples=samples)


def _from_coco(fetcher: _Fetcher, labels: LabelsInput) -> tuple[Dataset, dict[str, Any]]:
    try:
        data = json.loads(labels.path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"the COCO file is not JSON ({exc})", hint="upload the instances JSON") from exc
    images = data.get("images") if isinstance(data, dict) else None
    if not isinstance(images, list):
        raise InvalidInput("the COCO file has no 'images' list", hint="upload a COCO instances JSON")
    root = fetcher.work / "coco_images"
    base = labels.images_folder
    fetcher.sanitizer.add(str(root) + "/", f"{base}/" if base else "")
    problems = ProblemList()
    paths: dict[str, tuple[str, str]] = {}
    for image in images:
        file_name = image.get("file_name") if isinstance(image, dict) else None
        try:
            paths[str(file_name)] = _tree_ref(file_name, labels, [])
        except DDAError as exc:
            problems.add(0, f"image {str(file_name)[:200]}: {exc.message}", exc.hint or "")
    found = fetcher.entries(list(set(paths.values())))
    for file_name, tree_path in paths.items():
        if tree_path in found:
            fetcher.fetch(found[tree_path], root / file_name)
    if problems.errors:
        raise _reject(report_of(None, 0, fetcher.sanitizer.problems(problems.sorted()), "coco"))
    try:
        dataset = read_coco(labels.path, root)
    except DDAError as exc:
        problems.add(0, fetcher.sanitizer.text(exc.message), fetcher.sanitizer.text(exc.hint or ""))
        raise _reject(report_of(None, 0, problems.sorted(), "coco")) from exc
    return _with_original_refs(dataset, fetcher.sanitizer), report_of(None, len(dataset.samples), [], "coco")


def _from_yolo(fetcher: _Fetcher, labels: LabelsInput) -> tuple[Dataset, dict[str, Any]]:
    unpacked = fetcher.work / "yolo_labels"
    extract_archive(labels.path, unpacked, max_entries=MAX_FOLDER_IMAGES + 10, max_total_bytes=512 * MB)
    label_root = unpacked / "labels" if (unpacked / "labels").is_dir() else unpacked
    root = fetcher.work / "yolo"
    shutil.copytree(label_root, root / "labels", ignore=shutil.ignore_patterns(*CLASS_FILES, "*.yaml"))
    for candidate in (unpacked, label_root):
        for name in (*CLASS_FILES, "data.yaml"):
            if (candidate / name).is_file() and not (root / name).exists():
                shutil.copy(candidate / name, root / name)
    folder = clean_folder(labels.images_folder)
    entries = data_repo.entries_under(fetcher.session, fetcher.usecase_id, folder, limit=MAX_FOLDER_IMAGES)
    for entry in entries:
        relative = entry.folder[len(folder) :].lstrip("/") if folder else entry.folder
        fetcher.fetch(entry, root / "images" / relative / entry.name)
    fetcher.sanitizer.add(str(root / "images") + "/", f"{folder}/" if folder else "")
    try:
        dataset = read_yolo(root)
    except DDAError as exc:
        problems = ProblemList()
        problems.add(0, fetcher.sanitizer.text(exc.message), fetcher.sanitizer.text(exc.hint or ""))
        raise _reject(report_of(None, 0, problems.sorted(), "yolo")) from exc
    return _with_original_refs(dataset, fetcher.sanitizer), report_of(None, len(dataset.samples), [], "yolo")
