"""Opening the files a manifest names: image readable, sizes valid, masks matching their image.

Normal images in real manifests often point at one shared dummy mask (the cookie set uses a
16x16 white PNG for all of them). A mask without a single defect pixel says "no defect" whatever
its size, so it is accepted and treated as no mask at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from dda.core.errors import DDAError
from dda.core.safe_image import decode_image, probe_image
from dda.formats.manifest import ParsedManifest
from dda.formats.masks import MaskConversion, colored_mask_to_ids
from dda.formats.problems import ProblemList
from dda.formats.records import LabelRecord
from dda.formats.uris import UriResolver

MIN_IMAGE_SIDE = 32
MAX_IMAGE_SIDE = 16_384
UNKNOWN_COLOR_WARN_FRACTION = 0.005
BOX_TOLERANCE_PX = 1.0


@dataclass(frozen=True)
class FileInfo:
    """What the files of one record turned out to be."""

    image_path: Path
    size: tuple[int, int]  # (width, height)
    mask: MaskConversion | None  # None: no mask, or a mask without any defect pixel
    mask_source: Path | None
    label: int  # image label in our numbering: stated by the manifest or derived from mask/boxes


def inspect_record(
    record: LabelRecord,
    parsed: ParsedManifest,
    resolver: UriResolver,
    problems: ProblemList,
    *,
    decode: bool = True,
) -> FileInfo | None:
    """Resolve and open the record's image and mask, adding a problem for each thing wrong."""
    errors_before = len(problems.errors)
    image_path, size = _open_image(record, resolver, problems, decode=decode)
    if image_path is None or size is None:
        return None
    _check_boxes(record, size, problems)
    mask, mask_source = _open_mask(record, parsed, resolver, size, problems)
    if len(problems.errors) != errors_before:
        return None  # label checks after a broken file would only repeat the same problem
    label = _label(record, parsed, mask, problems)
    if len(problems.errors) != errors_before or label is None:
        return None
    return FileInfo(image_path, size, mask, mask_source, label)


def _fetch(
    uri: str, what: str, line: int, resolver: UriResolver, problems: ProblemList, field: str
) -> Path | None:
    try:
        return resolver.resolve(uri)
    except DDAError as exc:
        problems.add(line, f"{what} {exc.message}", exc.hint or "check the path", field_name=field)
        return None


def _open_image(
    record: LabelRecord, resolver: UriResolver, problems: ProblemList, *, decode: bool
) -> tuple[Path | None, tuple[int, int] | None]:
    path = _fetch(record.source_ref, "image", record.line, resolver, problems, "source-ref")
    if path is None:
        return None, None
    try:
        # The same gates as training and the station: allowed formats, pixel limit, EXIF orientation.
        if decode:
            height, width = decode_image(path).shape[:2]  # a truncated file fails here, not mid-training
        else:
            width, height = probe_image(path).oriented_size
    except DDAError as exc:
        problems.add(
            record.line,
            f"image {record.source_ref} is not usable: {exc.message}",
            exc.hint or "replace the file with a valid JPEG or PNG",
            field_name="source-ref",
        )
        return None, None
    if min(width, height) < MIN_IMAGE_SIDE or max(width, height) > MAX_IMAGE_SIDE:
        problems.add(
            record.line,
            f"image {record.source_ref} is {width}x{height} pixels",
            f"use images between {MIN_IMAGE_SIDE} and {MAX_IMAGE_SIDE} pixels a side",
            field_name="source-ref",
        )
        return None, None
    return path, (width, height)


def _check_boxes(record: LabelRecord, size: tuple[int, int], problems: ProblemList) -> None:
    width, height = size
    if record.image_size is not None and record.image_size != size:
        problems.add(
            record.line,
            f"image_size says {record.image_size[0]}x{record.image_size[1]} "
            f"but the image is {width}x{height}",
            "label the image that is really at source-ref, or fix image_size",
            field_name="image_size",
        )
    for index, box in enumerate(record.boxes):
        if (
            box.left < -BOX_TOLERANCE_PX
            or box.top < -BOX_TOLERANCE_PX
            or box.left + box.width > width + BOX_TOLERANCE_PX
            or box.top + box.height > height + BOX_TOLERANCE_PX
        ):
            problems.add(
                record.line,
                f"box {index} ({box.left:g},{box.top:g} {box.width:g}x{box.height:g}) "
                f"leaves the {width}x{height} image",
                "keep boxes inside the image",
                field_name="annotations",
            )


def _open_mask(
    record: LabelRecord,
    parsed: ParsedManifest,
    resolver: UriResolver,
    size: tuple[int, int],
    problems: ProblemList,
) -> tuple[MaskConversion | None, Path | None]:
    if record.mask_ref is None:
        return None, None
    path = _fetch(record.mask_ref, "mask", record.line, resolver, problems, "mask")
    if path is None:
        return None, None
    try:
        probe_image(path)  # allowed format and pixel limit, from the header, before decoding
        with Image.open(path) as image:
            mask = colored_mask_to_ids(image, record.colors, parsed.mask_classes.name_to_id())
    except DDAError as exc:
        problems.add(
            record.line,
            f"mask {record.mask_ref} is not usable: {exc.message}",
            exc.hint or "replace the mask with the PNG the labeling job wrote",
            field_name="mask",
        )
        return None, None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        problems.add(
            record.line,
            f"mask {record.mask_ref} is not a readable image ({exc})",
            "replace the mask with the PNG the labeling job wrote",
            field_name="mask",
        )
        return None, None
    if mask.defect_pixels == 0:
        return None, path  # an empty (e.g. shared dummy) mask: no defect, whatever its size
    if mask.size != size:
        problems.add(
            record.line,
            f"mask {record.mask_ref} is {mask.size[0]}x{mask.size[1]} but the image is {size[0]}x{size[1]}",
            "export the mask at the image's size (masks are per-pixel labels)",
            field_name="mask",
        )
        return None, path
    if mask.unknown_pixels > UNKNOWN_COLOR_WARN_FRACTION * size[0] * size[1]:
        problems.warn(
            record.line,
            f"{mask.unknown_pixels} mask pixels have colours not in the internal-color-map "
            "(read as background)",
            "list every class colour in the internal-color-map",
            field_name="mask",
        )
    return mask, path


def _label(
    record: LabelRecord, parsed: ParsedManifest, mask: MaskConversion | None, problems: ProblemList
) -> int | None:
    has_defect = mask is not None or bool(record.boxes)
    if parsed.labels_from_masks_or_boxes:
        return 1 if has_defect else 0
    label = parsed.label_of(record)
    if label is None:
        return None
    if label == 0 and mask is not None:
        problems.add(
            record.line,
            f"the image is labeled {record.class_name!r} (normal) but its mask marks "
            f"{mask.defect_pixels} defect pixels",
            "relabel the image as a defect, or clear its mask",
            field_name="mask",
        )
    elif label != 0 and parsed.jobs.segmentation is not None and mask is None:
        problems.warn(
            record.line,
            f"the image is labeled {record.class_name!r} but has no defect pixels in a mask",
            "draw the defect in the segmentation job; until then it trains classification only",
            field_name="mask",
        )
    return label
