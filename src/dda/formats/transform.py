"""STEP 2 of the workflow: a Ground Truth output manifest -> a DDA manifest, validated.

The job-named attributes become the fixed DDA names (``anomaly-label``, ``anomaly-mask-ref``,
``bounding-box`` and their ``-metadata``), the image label is renumbered so that 0 is the normal
class, and the result is validated (fields, class consistency, images readable and of valid size,
mask size = image size) before it is written. Problems are reported by the line of the input.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dda.core.errors import InvalidInput
from dda.formats.manifest_io import write_manifest
from dda.formats.records import (
    COLOR_MAP,
    DDA_BOXES,
    DDA_LABEL,
    DDA_LABEL_METADATA,
    DDA_MASK,
    DDA_MASK_METADATA,
    SOURCE_REF,
    JobKind,
    LabelRecord,
)
from dda.formats.uris import FileSource, UriResolver, is_uri
from dda.formats.validate import ValidationReport, validate_manifest


@dataclass
class TransformResult:
    """What the transform did. ``output`` is None when errors stopped it from writing."""

    report: ValidationReport
    output: Path | None
    written: int
    skipped_lines: list[int]

    @property
    def ok(self) -> bool:
        return self.report.ok

    def raise_if_failed(self) -> None:
        self.report.problems.raise_if_errors(f"manifest {self.report.manifest.name}")


def transform_gt_to_dda(
    gt_manifest: Path | str,
    output: Path | str,
    *,
    mappings: Mapping[str, str] | None = None,
    store: FileSource | None = None,
    jobs: Sequence[str] = (),
    normal_class: str | None = None,
    check_files: bool = True,
    force: bool = False,
    progress: bool | None = None,
) -> TransformResult:
    """Transform and validate; write ``output`` unless there are errors (``force``: skip bad lines).

    ``check_files=False`` skips opening images and masks (for manifests whose files are not
    reachable from here); labels then cannot be derived from masks.
    """
    report = validate_manifest(
        gt_manifest,
        mappings=mappings,
        store=store,
        jobs=jobs,
        normal_class=normal_class,
        check_files=check_files,
        progress=progress,
    )
    parsed = report.parsed
    resolver = UriResolver(mappings) if mappings else None
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    out_records: list[dict[str, Any]] = []
    skipped: list[int] = []
    bad_lines = report.problems.lines_with_errors() | parsed.bad_lines
    for record in parsed.records:
        info = report.infos.get(record.line)
        label = info.label if info is not None else parsed.label_of(record)
        if record.line in bad_lines or (check_files and info is None):
            skipped.append(record.line)
            continue
        if label is None:
            report.problems.add(
                record.line,
                "the image label comes from the mask, which was not read",
                "run without --no-check-files so masks can be read",
            )
            skipped.append(record.line)
            continue
        dda_record = _apply_mappings(to_dda_record(record, report, label, now), resolver)
        out_records.append(_rebase(dda_record, report.manifest, Path(output)))
    skipped.extend(line for line in report.problems.lines_with_errors() | parsed.bad_lines if line)
    if (not report.ok and not force) or not out_records:
        return TransformResult(report, None, 0, sorted(set(skipped)))
    path = write_manifest(Path(output), out_records)
    return TransformResult(report, path, len(out_records), sorted(set(skipped)))


def _apply_mappings(record: dict[str, Any], resolver: UriResolver | None) -> dict[str, Any]:
    """Write the ``--map``ped locations (the files the transform validated), not the original URIs."""
    if resolver is None:
        return record
    for key in (SOURCE_REF, DDA_MASK):
        ref = record.get(key)
        if isinstance(ref, str):
            mapped = resolver.rewrite(ref)
            if mapped != ref and not is_uri(mapped):  # a local folder: as the resolver reads it
                mapped = str((resolver.base_dir / Path(mapped).expanduser()).resolve())
            record[key] = mapped
    return record


def _rebase(record: dict[str, Any], source: Path, output: Path) -> dict[str, Any]:
    """Keep relative file references pointing at the same files from the output's folder."""
    for key in (SOURCE_REF, DDA_MASK):
        ref = record.get(key)
        if isinstance(ref, str) and not is_uri(ref) and not Path(ref).is_absolute():
            target = (source.parent / ref).resolve()
            record[key] = Path(os.path.relpath(target, output.parent.resolve())).as_posix()
    return record


def to_dda_record(record: LabelRecord, report: ValidationReport, label: int, now: str) -> dict[str, Any]:
    """The DDA manifest line for one Ground Truth record whose image label is ``label``."""
    parsed = report.parsed
    jobs = parsed.jobs
    out: dict[str, Any] = {SOURCE_REF: record.source_ref, DDA_LABEL: label}
    if jobs.classification is not None:
        source_meta = record.data.get(jobs.classification.metadata_attribute)
        class_name = parsed.image_classes.original_names[label]
    else:
        source_meta, class_name = None, parsed.class_names[label]
    out[DDA_LABEL_METADATA] = _metadata(
        source_meta, DDA_LABEL, JobKind.CLASSIFICATION, now, {"class-name": class_name}
    )
    if jobs.segmentation is not None and record.mask_ref is not None:
        source_meta = record.data.get(jobs.segmentation.metadata_attribute)
        color_map = source_meta.get(COLOR_MAP) if isinstance(source_meta, dict) else None
        out[DDA_MASK] = record.mask_ref
        out[DDA_MASK_METADATA] = _metadata(
            source_meta, DDA_MASK, JobKind.SEGMENTATION, now, {COLOR_MAP: color_map}
        )
    if jobs.detection is not None and jobs.detection.attribute in record.data:
        out[DDA_BOXES] = record.data[jobs.detection.attribute]
        source_meta = record.data.get(jobs.detection.metadata_attribute)
        out[f"{DDA_BOXES}-metadata"] = _metadata(source_meta, DDA_BOXES, JobKind.DETECTION, now, {})
    return out


def _metadata(
    source: object, attribute: str, kind: JobKind, now: str, overrides: dict[str, Any]
) -> dict[str, Any]:
    """Keep what the labeling job recorded (confidence, dates, ...) under the DDA attribute name."""
    meta: dict[str, Any] = dict(source) if isinstance(source, dict) else {}
    source_job = meta.get("job-name")
    if source_job and source_job != attribute:
        meta["source-job-name"] = source_job
    meta["job-name"] = attribute
    meta.setdefault("human-annotated", "yes")
    meta.setdefault("creation-date", now)
    meta["type"] = kind.value
    meta.update(overrides)
    return meta


def require_distinct(gt_manifest: Path, output: Path) -> None:
    """Refuse to overwrite the input with its own transform."""
    if Path(gt_manifest).resolve() == Path(output).resolve():
        raise InvalidInput(
            f"the output {output} is the input manifest",
            hint="write the DDA manifest to another file, e.g. dda-<job>.manifest",
        )
