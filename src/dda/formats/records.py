"""Parsing manifest lines (Ground Truth or DDA) into label records.

A Ground Truth output manifest names its attributes after the labeling job (``<job>``,
``<job>-metadata``; segmentation jobs ``<job>-ref``, ``<job>-ref-metadata``). Which attribute is
which job is read from the ``type`` field of each ``*-metadata`` object, never from the name. A
DDA manifest uses fixed names: ``anomaly-label``, ``anomaly-mask-ref`` (+ ``-metadata``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from dda.formats.dataset import Box
from dda.formats.manifest_io import ManifestLine
from dda.formats.masks import ColorClass, parse_hex_color
from dda.formats.problems import ProblemList

SOURCE_REF = "source-ref"
DDA_LABEL = "anomaly-label"
DDA_LABEL_METADATA = "anomaly-label-metadata"
DDA_MASK = "anomaly-mask-ref"
DDA_MASK_METADATA = "anomaly-mask-ref-metadata"
DDA_BOXES = "bounding-box"
COLOR_MAP = "internal-color-map"


class JobKind(StrEnum):
    CLASSIFICATION = "groundtruth/image-classification"
    SEGMENTATION = "groundtruth/semantic-segmentation"
    DETECTION = "groundtruth/object-detection"


ManifestFormat = Literal["groundtruth", "dda"]


@dataclass(frozen=True)
class Job:
    """A label attribute and its kind; ``names`` are the job names its metadata gave."""

    kind: JobKind
    attribute: str
    names: frozenset[str] = frozenset()

    @property
    def metadata_attribute(self) -> str:
        return f"{self.attribute}-metadata"

    def matches(self, wanted: str) -> bool:
        wanted = wanted.strip()
        candidates = {self.attribute, self.attribute.removesuffix("-ref"), *self.names}
        candidates |= {n.rsplit("/", 1)[-1] for n in self.names}
        return wanted in candidates


@dataclass(frozen=True)
class ManifestJobs:
    format: ManifestFormat
    classification: Job | None = None
    segmentation: Job | None = None
    detection: Job | None = None

    def all(self) -> list[Job]:
        return [j for j in (self.classification, self.segmentation, self.detection) if j is not None]

    def describe(self) -> str:
        return ", ".join(f"{j.kind.value.split('/')[-1]}={j.attribute!r}" for j in self.all()) or "none"


@dataclass
class LabelRecord:
    """What one manifest line says about one image, before any file is opened."""

    line: int
    source_ref: str
    label: int | None = None  # manifest class id (image level); None: derive from mask/boxes
    class_name: str | None = None
    mask_ref: str | None = None
    colors: list[ColorClass] = field(default_factory=list)
    boxes: list[Box] = field(default_factory=list)
    box_classes: dict[int, str] = field(default_factory=dict)
    image_size: tuple[int, int] | None = None  # (width, height) the labeling job saw
    data: dict[str, Any] = field(default_factory=dict)


# --- job detection --------------------------------------------------------------------------


def detect_jobs(
    lines: Sequence[ManifestLine], problems: ProblemList, *, select: Sequence[str] = ()
) -> ManifestJobs:
    """Find the label attributes of a manifest from the ``type`` of its ``*-metadata`` objects."""
    if any(DDA_LABEL in line.data for line in lines):
        return _dda_jobs(lines, problems)
    found: dict[JobKind, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for line in lines:
        for attribute, kind, job_name in _typed_attributes(line.data):
            found[kind][attribute].add(job_name)
    jobs = {kind: _choose(kind, found.get(kind, {}), select, problems) for kind in JobKind}
    _check_selection(select, [j for j in jobs.values() if j is not None], found, problems)
    result = ManifestJobs(
        "groundtruth", jobs[JobKind.CLASSIFICATION], jobs[JobKind.SEGMENTATION], jobs[JobKind.DETECTION]
    )
    if not result.all() and lines:
        problems.add(
            0,
            "no label attributes found: no '<job>-metadata' object has a 'type' of "
            + ", ".join(k.value for k in JobKind),
            "give the output.manifest of a Ground Truth job, or a DDA manifest (with 'anomaly-label')",
        )
    return result


def _typed_attributes(data: dict[str, Any]) -> list[tuple[str, JobKind, str]]:
    typed: list[tuple[str, JobKind, str]] = []
    for key, value in data.items():
        if not key.endswith("-metadata") or not isinstance(value, dict):
            continue
        kind_text = value.get("type")
        try:
            kind = JobKind(str(kind_text))
        except ValueError:
            continue
        job_name = value.get("job-name")
        typed.append((key.removesuffix("-metadata"), kind, job_name if isinstance(job_name, str) else ""))
    return typed


def _choose(
    kind: JobKind, attributes: dict[str, set[str]], select: Sequence[str], problems: ProblemList
) -> Job | None:
    jobs = [Job(kind, attr, frozenset(n for n in names if n)) for attr, names in attributes.items()]
    if len(jobs) <= 1:
        return jobs[0] if jobs else None
    chosen = [job for job in jobs if any(job.matches(s) for s in select)]
    if len(chosen) == 1:
        return chosen[0]
    names = ", ".join(repr(j.attribute) for j in jobs)
    problems.add(
        0,
        f"the manifest holds {len(jobs)} {kind.value.split('/')[-1]} jobs ({names})",
        "choose one with --job NAME",
    )
    return None


def _check_selection(
    select: Sequence[str], jobs: list[Job], found: dict[JobKind, dict[str, set[str]]], problems: ProblemList
) -> None:
    every = [
        Job(kind, attr, frozenset(names)) for kind, attrs in found.items() for attr, names in attrs.items()
    ]
    for wanted in select:
        if not any(job.matches(wanted) for job in every):
            known = ", ".join(repr(j.attribute) for j in every) or "none"
            problems.add(
                0,
                f"--job {wanted!r} is not a job of this manifest (found: {known})",
                "pass one of the job names listed",
            )


def _dda_jobs(lines: Sequence[ManifestLine], problems: ProblemList) -> ManifestJobs:
    has_mask = any(DDA_MASK in line.data for line in lines)
    detection = None
    for line in lines:
        for attribute, kind, _ in _typed_attributes(line.data):
            if kind is JobKind.DETECTION:
                detection = Job(kind, attribute)
    return ManifestJobs(
        "dda",
        Job(JobKind.CLASSIFICATION, DDA_LABEL),
        Job(JobKind.SEGMENTATION, DDA_MASK) if has_mask else None,
        detection,
    )


# --- line parsing ---------------------------------------------------------------------------


def parse_record(line: ManifestLine, jobs: ManifestJobs, problems: ProblemList) -> LabelRecord | None:
    """One line -> a record; every problem found on the line is added. None if unusable."""
    data, number = line.data, line.number
    source = data.get(SOURCE_REF)
    if not isinstance(source, str) or not source.strip():
        problems.add(
            number,
            f"'{SOURCE_REF}' is missing or not a string",
            f'add "{SOURCE_REF}": "s3://bucket/key.jpg" (or a path) naming the image',
            field_name=SOURCE_REF,
        )
        return None
    record = LabelRecord(number, source.strip(), data=data)
    errors_before = len(problems.errors)
    if jobs.classification is not None:
        _parse_classification(record, jobs.classification, jobs.format, problems)
    if jobs.segmentation is not None:
        _parse_segmentation(record, jobs.segmentation, problems)
    if jobs.detection is not None:
        _parse_detection(record, jobs.detection, problems)
    return record if len(problems.errors) == errors_before else None


def _parse_classification(record: LabelRecord, job: Job, fmt: ManifestFormat, problems: ProblemList) -> None:
    attr, meta_attr, number = job.attribute, job.metadata_attribute, record.line
    value = record.data.get(attr)
    if value is None:
        problems.add(
            number,
            f"'{attr}' is missing",
            f'add "{attr}": <class id> (0 = normal) or drop the line',
            field_name=attr,
        )
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        problems.add(
            number,
            f"'{attr}' is {value!r}, not a class id",
            f'write "{attr}" as an integer >= 0',
            field_name=attr,
        )
        return
    record.label = value
    meta = record.data.get(meta_attr)
    if not isinstance(meta, dict):
        problems.add(
            number,
            f"'{meta_attr}' is missing or not an object",
            f'add "{meta_attr}": {{"class-name": "...", ...}}',
            field_name=meta_attr,
        )
        return
    name = meta.get("class-name")
    if not isinstance(name, str) or not name.strip():
        problems.add(
            number,
            f"'{meta_attr}' has no 'class-name'",
            f'add "class-name": "<name of class {value}>" to {meta_attr}',
            field_name=meta_attr,
        )
        return
    record.class_name = name.strip()
    if fmt == "dda":
        missing = [k for k in ("job-name", "human-annotated", "creation-date", "type") if k not in meta]
        if missing:
            problems.warn(
                number,
                f"'{meta_attr}' lacks {', '.join(missing)}",
                "re-run `dda data transform` on the Ground Truth manifest",
                field_name=meta_attr,
            )


def _parse_segmentation(record: LabelRecord, job: Job, problems: ProblemList) -> None:
    attr, meta_attr, number = job.attribute, job.metadata_attribute, record.line
    ref = record.data.get(attr)
    if ref is None:
        return  # an image without a mask: fine for normal images; checked later against the label
    if not isinstance(ref, str) or not ref.strip():
        problems.add(
            number, f"'{attr}' is not a mask path or URI", f"point '{attr}' at the mask PNG", field_name=attr
        )
        return
    meta = record.data.get(meta_attr)
    color_map = meta.get(COLOR_MAP) if isinstance(meta, dict) else None
    if not isinstance(color_map, dict) or not color_map:
        problems.add(
            number,
            f"'{meta_attr}' has no '{COLOR_MAP}'",
            f'add "{COLOR_MAP}": {{"0": {{"class-name": "BACKGROUND", "hex-color": "#ffffff"}}, ...}}',
            field_name=meta_attr,
        )
        return
    colors = _parse_color_map(number, color_map, meta_attr, problems)
    if colors is not None:
        record.mask_ref, record.colors = ref.strip(), colors


def _parse_color_map(
    number: int, color_map: dict[str, Any], meta_attr: str, problems: ProblemList
) -> list[ColorClass] | None:
    colors: list[ColorClass] = []
    ok = True
    for key, entry in color_map.items():
        name = entry.get("class-name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name.strip():
            problems.add(
                number,
                f"{COLOR_MAP} entry {key!r} has no class-name",
                f'write {key!r}: {{"class-name": "...", "hex-color": "#rrggbb"}}',
                field_name=meta_attr,
            )
            ok = False
            continue
        raw_color = entry.get("hex-color")
        color = parse_hex_color(raw_color)
        if raw_color is not None and color is None:
            problems.add(
                number,
                f"{COLOR_MAP} entry {key!r} has hex-color {raw_color!r}",
                "write colours as '#rrggbb'",
                field_name=meta_attr,
            )
            ok = False
            continue
        colors.append(ColorClass(str(key), name.strip(), color))
    return colors if ok else None


def _parse_detection(record: LabelRecord, job: Job, problems: ProblemList) -> None:
    attr, meta_attr, number = job.attribute, job.metadata_attribute, record.line
    value, meta = record.data.get(attr), record.data.get(meta_attr)
    if value is None:
        return
    if not isinstance(value, dict) or not isinstance(value.get("annotations"), list):
        problems.add(
            number,
            f"'{attr}' has no 'annotations' list",
            f'write "{attr}": {{"annotations": [...]}}',
            field_name=attr,
        )
        return
    class_map = meta.get("class-map") if isinstance(meta, dict) else None
    if not isinstance(class_map, dict):
        problems.add(
            number,
            f"'{meta_attr}' has no 'class-map'",
            'add "class-map": {"0": "<class name>"}',
            field_name=meta_attr,
        )
        return
    record.box_classes = {int(k): str(v) for k, v in class_map.items() if str(k).isdigit()}
    record.image_size = _image_size(value.get("image_size"))
    for index, box in enumerate(value["annotations"]):
        parsed = _parse_box(box, record.box_classes)
        if isinstance(parsed, str):
            problems.add(
                number,
                f"box {index} of '{attr}': {parsed}",
                "each box needs class_id (in class-map), left, top, width > 0, height > 0",
                field_name=attr,
            )
        else:
            record.boxes.append(parsed)


def _image_size(value: Any) -> tuple[int, int] | None:
    if isinstance(value, list) and value and isinstance(value[0], dict):
        width, height = value[0].get("width"), value[0].get("height")
        if isinstance(width, int) and isinstance(height, int):
            return width, height
    return None


def _parse_box(box: Any, class_map: dict[int, str]) -> Box | str:
    if not isinstance(box, dict):
        return "not an object"
    class_id = box.get("class_id")
    if isinstance(class_id, bool) or not isinstance(class_id, int) or class_id not in class_map:
        return f"class_id {class_id!r} is not in the class-map"
    numbers = [box.get(k) for k in ("left", "top", "width", "height")]
    if not all(isinstance(n, int | float) and not isinstance(n, bool) for n in numbers):
        return "left/top/width/height must be numbers"
    left, top, width, height = (float(n) for n in numbers)  # type: ignore[arg-type]
    if width <= 0 or height <= 0:
        return f"width {width:g} x height {height:g} is empty"
    return Box(class_id, left, top, width, height)


def job_type_counts(lines: Sequence[ManifestLine]) -> Counter[str]:
    """How many lines carry each label type (for `dda data info`)."""
    counts: Counter[str] = Counter()
    for line in lines:
        for _, kind, _ in _typed_attributes(line.data):
            counts[kind.value] += 1
    return counts
