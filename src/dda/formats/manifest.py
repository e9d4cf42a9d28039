"""A whole manifest parsed: format, jobs, records and class spaces, with every problem found.

This step opens no image; :mod:`dda.formats.checks` does that. Reading, validating,
transforming and loading all start here, so they agree on what a manifest means.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dda.formats.dataset import ANOMALY_CLASS, NORMAL_CLASS
from dda.formats.labels import ClassSpace, ImageClasses, MaskClasses, build_image_classes
from dda.formats.manifest_io import read_manifest_lines
from dda.formats.problems import ProblemList
from dda.formats.records import LabelRecord, ManifestFormat, ManifestJobs, detect_jobs, parse_record


@dataclass
class ParsedManifest:
    path: Path
    format: ManifestFormat
    jobs: ManifestJobs
    records: list[LabelRecord]
    problems: ProblemList
    image_classes: ImageClasses
    mask_classes: MaskClasses
    box_classes: ClassSpace
    line_count: int
    bad_lines: set[int] = field(default_factory=set)  # lines whose record is unusable

    @property
    def labels_from_masks_or_boxes(self) -> bool:
        """True when no classification job exists: the image label comes from the mask or boxes."""
        return self.jobs.classification is None

    @property
    def class_names(self) -> list[str]:
        if self.labels_from_masks_or_boxes:
            return [NORMAL_CLASS, ANOMALY_CLASS]
        return self.image_classes.names

    def label_of(self, record: LabelRecord) -> int | None:
        """The record's image label in our numbering (normal = 0), if the manifest states it."""
        if record.label is None:
            return None
        return self.image_classes.remap.get(record.label)

    def box_class_names(self) -> list[str]:
        ids = self.box_classes.ids()
        return (
            [
                self.box_classes.by_id[i][0] if i in self.box_classes.by_id else f"class_{i}"
                for i in range(max(ids) + 1)
            ]
            if ids
            else []
        )

    def usable_records(self) -> list[LabelRecord]:
        return [r for r in self.records if r.line not in self.bad_lines]


def parse_manifest(
    path: Path, *, jobs: Sequence[str] = (), normal_class: str | None = None
) -> ParsedManifest:
    """Read and check a Ground Truth or DDA manifest without touching the files it names."""
    path = Path(path)
    problems = ProblemList()
    lines = read_manifest_lines(path, problems)
    detected = detect_jobs(lines, problems, select=jobs)
    records: list[LabelRecord] = []
    bad: set[int] = set()
    if detected.all():
        for line in lines:
            record = parse_record(line, detected, problems)
            if record is None:
                bad.add(line.number)
            else:
                records.append(record)
    image_space, box_space, mask_classes = ClassSpace("image class"), ClassSpace("box class"), MaskClasses()
    for record in records:
        if not _observe_classes(record, detected, image_space, box_space, mask_classes, problems):
            bad.add(record.line)
    image_classes = build_image_classes(
        image_space, problems, normal_class=normal_class, zero_is_normal=detected.format == "dda"
    )
    _warn_duplicates(records, problems)
    parsed = ParsedManifest(
        path,
        detected.format,
        detected,
        records,
        problems,
        image_classes,
        mask_classes,
        box_space,
        len(lines),
        bad,
    )
    _check_label_balance(parsed)
    return parsed


def _observe_classes(
    record: LabelRecord,
    jobs: ManifestJobs,
    image_space: ClassSpace,
    box_space: ClassSpace,
    mask_classes: MaskClasses,
    problems: ProblemList,
) -> bool:
    ok = True
    if record.label is not None and record.class_name is not None and jobs.classification is not None:
        ok = image_space.observe(
            record.line, record.label, record.class_name, problems, jobs.classification.metadata_attribute
        )
    for class_id, name in record.box_classes.items():
        ok = box_space.observe(record.line, class_id, name, problems, "class-map") and ok
    errors = len(problems.errors)
    mask_classes.observe(record.line, record.colors, problems)
    return ok and len(problems.errors) == errors


def _warn_duplicates(records: list[LabelRecord], problems: ProblemList) -> None:
    first: dict[str, int] = {}
    for record in records:
        if record.source_ref in first:
            problems.warn(
                record.line,
                f"image {record.source_ref} is also on line {first[record.source_ref]}",
                "keep one line per image; duplicates bias training and leak into validation",
                field_name="source-ref",
            )
        else:
            first[record.source_ref] = record.line


def _check_label_balance(parsed: ParsedManifest) -> None:
    if parsed.labels_from_masks_or_boxes or not parsed.records:
        return
    present = {parsed.label_of(r) for r in parsed.usable_records()}
    if present == {0}:
        parsed.problems.warn(
            0,
            "every image is labeled normal",
            "fine for anomaly detection from normal images; add defect images to "
            "train a classifier or to calibrate the threshold",
        )
    elif 0 not in present and present:
        parsed.problems.warn(
            0, "no image is labeled normal", "add images of good parts: every model type needs them"
        )
