"""``dda data info``: what a manifest holds, from the manifest alone (no file is opened)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dda.formats.manifest import parse_manifest


def manifest_info(
    path: Path | str, *, jobs: Sequence[str] = (), normal_class: str | None = None
) -> dict[str, Any]:
    """Format, jobs, images per class, masks, boxes and problem counts of a manifest."""
    parsed = parse_manifest(Path(path), jobs=jobs, normal_class=normal_class)
    records = parsed.usable_records()
    per_class = dict.fromkeys(parsed.class_names, 0)
    unknown = 0
    for record in records:
        label = parsed.label_of(record)
        if label is None:
            unknown += 1
        else:
            per_class[parsed.class_names[label]] += 1
    if unknown:
        per_class["(from mask or boxes)"] = unknown
    return {
        "manifest": str(parsed.path),
        "format": parsed.format,
        "lines": parsed.line_count,
        "usable_lines": len(records),
        "jobs": parsed.jobs.describe(),
        "images_per_class": per_class,
        "lines_with_mask": sum(1 for r in records if r.mask_ref is not None),
        "distinct_masks": len({r.mask_ref for r in records if r.mask_ref is not None}),
        "mask_classes": parsed.mask_classes.names(),
        "boxes": sum(len(r.boxes) for r in records),
        "lines_with_boxes": sum(1 for r in records if r.boxes),
        "box_classes": parsed.box_class_names(),
        "errors": len(parsed.problems.errors),
        "warnings": len(parsed.problems.warnings),
    }
