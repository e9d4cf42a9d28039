"""Write a :class:`Dataset` as a Ground Truth output manifest or a DDA manifest.

Masks are written as palette PNGs whose indices are class ids and whose colours are those of
the ``internal-color-map`` written beside them, so a Ground Truth reader (colours) and a class-id
reader (indices) see the same labels. A sample's mask that is already such a PNG is referenced
as it is; any other class-id mask is re-encoded into ``masks_dir``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from PIL import Image

from dda.formats.dataset import Box, Dataset, Sample
from dda.formats.manifest_io import write_manifest
from dda.formats.masks import class_color, color_map_for, load_class_mask, save_class_mask
from dda.formats.records import (
    COLOR_MAP,
    DDA_BOXES,
    DDA_LABEL,
    DDA_MASK,
    SOURCE_REF,
    JobKind,
)

RefStyle = Literal["relative", "absolute", "source"]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Refs:
    """How file references are written: relative to the manifest, absolute, or as read."""

    def __init__(self, manifest: Path, style: RefStyle) -> None:
        self.folder = manifest.parent.resolve()
        self.style = style

    def image(self, sample: Sample) -> str:
        if self.style == "source" and sample.source_ref:
            return sample.source_ref
        return self.path(Path(sample.image_path))

    def path(self, path: Path) -> str:
        path = path.resolve()
        if self.style == "relative":
            return Path(os.path.relpath(path, self.folder)).as_posix()
        return path.as_posix()


def _mask_for_manifest(sample: Sample, dataset: Dataset, masks_dir: Path, own_masks: bool) -> Path | None:
    """A palette PNG of ``sample``'s mask whose colours match :func:`color_map_for`.

    With ``own_masks`` every mask is written into ``masks_dir`` so the output folder is complete.
    """
    if sample.mask_path is None:
        return None
    count = len(dataset.mask_class_names)
    source = Path(sample.mask_path)
    with Image.open(source) as image:
        palette = image.getpalette() if image.mode == "P" else None
    expected = [channel for index in range(count) for channel in class_color(index)]
    if not own_masks and palette is not None and palette[: len(expected)] == expected:
        return source
    target = masks_dir / f"{Path(sample.image_path).stem}-{sample.line_number}.png"
    return save_class_mask(load_class_mask(source), target, count)


def _image_size(path: Path) -> dict[str, int]:
    with Image.open(path) as image:
        return {"width": image.size[0], "height": image.size[1], "depth": len(image.getbands())}


def _boxes_value(sample: Sample) -> dict[str, Any]:
    return {
        "annotations": [_box_dict(box) for box in sample.boxes],
        "image_size": [_image_size(Path(sample.image_path))],
    }


def _box_dict(box: Box) -> dict[str, Any]:
    def number(value: float) -> float | int:
        return int(value) if float(value).is_integer() else round(float(value), 3)

    return {
        "class_id": box.class_id,
        "left": number(box.left),
        "top": number(box.top),
        "width": number(box.width),
        "height": number(box.height),
    }


def _metadata(job_name: str, kind: JobKind, now: str, **extra: Any) -> dict[str, Any]:
    return {"job-name": job_name, **extra, "human-annotated": "yes", "creation-date": now, "type": kind.value}


@dataclass(frozen=True)
class _Target:
    path: Path
    masks_dir: Path | None
    refs: RefStyle
    own_masks: bool


def _write(
    dataset: Dataset, target: _Target, attrs: tuple[str, str, str], job_names: tuple[str, str, str]
) -> Path:
    path = target.path
    label_attr, mask_attr, box_attr = attrs
    label_job, mask_job, box_job = job_names
    masks_dir = target.masks_dir or path.parent / "masks"
    ref = _Refs(path, target.refs)
    now = _now()
    color_map = color_map_for(dataset.mask_class_names)
    class_map = {str(i): name for i, name in enumerate(dataset.box_class_names)}
    records: list[dict[str, Any]] = []
    for sample in dataset.samples:
        record: dict[str, Any] = {SOURCE_REF: ref.image(sample), label_attr: sample.label}
        record[f"{label_attr}-metadata"] = _metadata(
            label_job, JobKind.CLASSIFICATION, now, **{"class-name": dataset.class_names[sample.label]}
        )
        mask = _mask_for_manifest(sample, dataset, masks_dir, target.own_masks)
        if mask is not None:
            record[mask_attr] = ref.path(mask)
            record[f"{mask_attr}-metadata"] = _metadata(
                mask_job, JobKind.SEGMENTATION, now, **{COLOR_MAP: color_map}
            )
        if dataset.box_class_names:
            record[box_attr] = _boxes_value(sample)
            record[f"{box_attr}-metadata"] = _metadata(
                box_job, JobKind.DETECTION, now, **{"class-map": class_map}
            )
        records.append(record)
    return write_manifest(path, records)


def write_dda_manifest(
    dataset: Dataset,
    path: Path | str,
    *,
    masks_dir: Path | None = None,
    refs: RefStyle = "relative",
    own_masks: bool = False,
) -> Path:
    """Write the DDA manifest (``anomaly-label``, ``anomaly-mask-ref``, ``bounding-box``).

    ``refs``: image and mask paths relative to the manifest, absolute, or (``"source"``) the image
    URIs the dataset was read from. ``own_masks``: copy every mask into ``masks_dir`` (default
    ``<manifest folder>/masks``) instead of referencing suitable ones where they are.
    """
    target = _Target(Path(path), masks_dir, refs, own_masks)
    return _write(dataset, target, (DDA_LABEL, DDA_MASK, DDA_BOXES), (DDA_LABEL, DDA_MASK, DDA_BOXES))


def write_groundtruth_manifest(
    dataset: Dataset,
    path: Path | str,
    *,
    job: str = "dda",
    masks_dir: Path | None = None,
    refs: RefStyle = "relative",
    own_masks: bool = False,
) -> Path:
    """Write a Ground Truth output manifest with jobs ``<job>-classification``,
    ``<job>-segmentation`` (attribute ``<job>-segmentation-ref``) and ``<job>-detection``."""
    attrs = (f"{job}-classification", f"{job}-segmentation-ref", f"{job}-detection")
    names = (
        f"labeling-job/{job}-classification",
        f"labeling-job/{job}-segmentation",
        f"labeling-job/{job}-detection",
    )
    return _write(dataset, _Target(Path(path), masks_dir, refs, own_masks), attrs, names)
