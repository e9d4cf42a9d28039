"""COCO instances (boxes + polygon/RLE segmentation) <-> :class:`Dataset`.

Import: each category becomes a box class (zero-based, in category-id order) and a mask class
(1..N); the segmentations of an image are rasterised into one class-id mask; an image with any
annotation is an anomaly. Export: each box becomes an annotation (with the RLE of its class's mask
pixels inside the box); a masked image without boxes gets one annotation per mask class. The
image's class name goes into an extra ``class_name`` field so classification labels survive.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw
from tqdm import tqdm

from dda.core.errors import InvalidInput, NotFound
from dda.core.settings import get_settings
from dda.formats.dataset import ANOMALY_CLASS, NORMAL_CLASS, Box, Dataset, Sample
from dda.formats.export_files import ExportedImages
from dda.formats.loader import cache_class_mask
from dda.formats.masks import BACKGROUND, load_class_mask
from dda.formats.problems import ProblemList
from dda.formats.rle import decode_rle, encode_mask

MAX_COCO_BYTES = 1 << 30


def read_coco(
    annotations: Path | str, images_dir: Path | str | None = None, *, name: str | None = None
) -> Dataset:
    """Read a COCO instances JSON; image ``file_name``s are relative to ``images_dir``
    (default: ``images/`` beside the JSON if it exists, else the JSON's folder).
    Raises InvalidInput listing the problems."""
    path = Path(annotations)
    data = _load_json(path)
    root = Path(images_dir) if images_dir is not None else _default_images_dir(path)
    problems = ProblemList()
    categories = _categories(data.get("categories"), problems)
    cat_ids = sorted(categories)
    box_index = {cat: i for i, cat in enumerate(cat_ids)}
    images = _images(data.get("images"), root, problems)
    by_image: dict[int, list[dict[str, Any]]] = {image_id: [] for image_id in images}
    for number, ann in enumerate(_list(data.get("annotations", []), "annotations", problems), start=1):
        if _check_annotation(ann, number, images, categories, problems):
            by_image[ann["image_id"]].append(ann)
    problems.raise_if_errors(f"COCO file {path.name}", limit=8, validate_hint=False)
    mask_names = [BACKGROUND, *(categories[c] for c in cat_ids)]
    cache = get_settings().data_dir / "cache" / "masks"
    class_names = [NORMAL_CLASS, ANOMALY_CLASS]
    samples: list[Sample] = []
    bar = tqdm(images.items(), desc=f"reading {path.name}", unit="img", disable=None)
    for index, (image_id, (image_path, entry)) in enumerate(bar, start=1):
        anns = by_image[image_id]
        boxes = tuple(_box(ann, box_index) for ann in anns)
        mask = _rasterise(anns, entry, image_path, {c: i + 1 for i, c in enumerate(cat_ids)})
        mask_path = (
            cache_class_mask(mask, cache, len(mask_names)) if mask is not None and mask.any() else None
        )
        label = _label(entry, bool(anns), class_names)
        samples.append(Sample(image_path, label, mask_path, boxes, str(entry["file_name"]), index))
    return Dataset(samples, class_names, mask_names, name or path.stem, [categories[c] for c in cat_ids])


def _default_images_dir(path: Path) -> Path:
    """``images/`` beside the JSON (the layout :func:`write_coco` makes), else the JSON's folder."""
    beside = path.parent / "images"
    return beside if beside.is_dir() else path.parent


def _load_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise NotFound(f"COCO file {path} does not exist", hint="pass the instances_*.json file")
    if path.stat().st_size > MAX_COCO_BYTES:
        raise InvalidInput(f"COCO file {path} is larger than 1 GiB", hint="split it into smaller files")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"COCO file {path.name} is not valid JSON: {exc}", hint="re-export it") from exc
    if not isinstance(data, dict):
        raise InvalidInput(f"COCO file {path.name} is not a JSON object", hint="give a COCO instances file")
    return data


def _list(value: Any, key: str, problems: ProblemList) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        problems.add(0, f"'{key}' is missing or not a list of objects", f"write '{key}': [{{...}}, ...]")
        return []
    return value


def _categories(value: Any, problems: ProblemList) -> dict[int, str]:
    categories: dict[int, str] = {}
    for cat in _list(value, "categories", problems):
        cat_id, name = cat.get("id"), cat.get("name")
        if not isinstance(cat_id, int) or not isinstance(name, str) or not name.strip():
            problems.add(0, f"category {cat!r} needs an integer 'id' and a 'name'", "fix the categories list")
        elif cat_id in categories or name in categories.values():
            problems.add(0, f"category id {cat_id} / name {name!r} appears twice", "list each category once")
        else:
            categories[cat_id] = name.strip()
    return categories


def _images(value: Any, root: Path, problems: ProblemList) -> dict[int, tuple[Path, dict[str, Any]]]:
    images: dict[int, tuple[Path, dict[str, Any]]] = {}
    for entry in _list(value, "images", problems):
        image_id, file_name = entry.get("id"), entry.get("file_name")
        if not isinstance(image_id, int) or not isinstance(file_name, str) or image_id in images:
            problems.add(
                0, f"image {entry!r} needs a unique integer 'id' and a 'file_name'", "fix the images list"
            )
            continue
        relative = PurePosixPath(file_name.replace("\\", "/"))
        if relative.is_absolute() or ".." in relative.parts:
            problems.add(
                0,
                f"image {image_id}: file_name {file_name!r} leaves the images folder",
                "use file names relative to the images folder",
            )
            continue
        image_path = root / relative
        if not image_path.is_file():
            problems.add(
                0,
                f"image {image_id}: {image_path} does not exist",
                "pass --images pointing at the folder that holds the images",
            )
            continue
        images[image_id] = (image_path, entry)
    return images


def _check_annotation(
    ann: dict[str, Any],
    number: int,
    images: dict[int, Any],
    categories: dict[int, str],
    problems: ProblemList,
) -> bool:
    ident = f"annotation {ann.get('id', f'#{number}')}"
    if ann.get("image_id") not in images:
        problems.add(
            0, f"{ident}: image_id {ann.get('image_id')!r} is not a usable image", "fix its image_id"
        )
        return False
    if ann.get("category_id") not in categories:
        problems.add(
            0,
            f"{ident}: category_id {ann.get('category_id')!r} is not a category",
            "add the category or fix category_id",
        )
        return False
    bbox = ann.get("bbox")
    if not (
        isinstance(bbox, list)
        and len(bbox) == 4
        and all(isinstance(v, int | float) for v in bbox)
        and bbox[2] > 0
        and bbox[3] > 0
    ):
        problems.add(0, f"{ident}: bbox {bbox!r} is not [x, y, width>0, height>0]", "fix the bbox")
        return False
    seg = ann.get("segmentation")
    if seg not in (None, []) and not isinstance(seg, dict | list):
        problems.add(0, f"{ident}: segmentation is neither polygons nor RLE", "fix the segmentation")
        return False
    return True


def _box(ann: dict[str, Any], box_index: dict[int, int]) -> Box:
    x, y, w, h = (float(v) for v in ann["bbox"])
    return Box(box_index[ann["category_id"]], x, y, w, h)


def _label(entry: dict[str, Any], annotated: bool, class_names: list[str]) -> int:
    name = entry.get("class_name")
    if isinstance(name, str) and name:
        if name not in class_names:
            class_names.append(name)
        return 0 if name == NORMAL_CLASS else class_names.index(name)
    return 1 if annotated else 0


def _rasterise(
    anns: list[dict[str, Any]], entry: dict[str, Any], image_path: Path, mask_ids: dict[int, int]
) -> NDArray[np.uint8] | None:
    segs = [a for a in anns if a.get("segmentation")]
    if not segs:
        return None
    width, height = entry.get("width"), entry.get("height")
    if not isinstance(width, int) or not isinstance(height, int):
        with Image.open(image_path) as image:
            width, height = image.size
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    mask = np.zeros((height, width), dtype=np.uint8)
    for ann in segs:
        class_id = mask_ids[ann["category_id"]]
        seg = ann["segmentation"]
        if isinstance(seg, dict):
            region = decode_rle(seg)
            if region.shape != mask.shape:
                raise InvalidInput(
                    f"annotation {ann.get('id')}: RLE size {list(region.shape)} is not the "
                    f"image's {height}x{width}",
                    hint="fix the segmentation's size",
                )
            mask[region] = class_id
        else:
            for polygon in seg:
                if isinstance(polygon, list) and len(polygon) >= 6 and len(polygon) % 2 == 0:
                    draw.polygon([float(v) for v in polygon], fill=class_id)
    drawn = np.asarray(canvas)
    mask = np.where(drawn > 0, drawn, mask).astype(np.uint8)
    return mask


def write_coco(dataset: Dataset, out_dir: Path | str) -> Path:
    """Write ``out_dir/annotations.json`` and ``out_dir/images/`` (files linked or copied)."""
    out = Path(out_dir)
    files = ExportedImages(out / "images")
    names = list(dataset.box_class_names) or list(dataset.mask_class_names[1:])
    names += [n for n in dataset.mask_class_names[1:] if n not in names]
    categories = [{"id": i + 1, "name": n, "supercategory": "defect"} for i, n in enumerate(names)]
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    bar = tqdm(dataset.samples, desc="writing COCO", unit="img", disable=None)
    for image_id, sample in enumerate(bar, start=1):
        file_name = files.add(Path(sample.image_path))
        with Image.open(sample.image_path) as image:
            width, height = image.size
        images.append(
            {
                "id": image_id,
                "file_name": file_name,
                "width": width,
                "height": height,
                "class_name": dataset.class_names[sample.label],
            }
        )
        for ann in _sample_annotations(sample, dataset, names):
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, **ann})
    document = {
        "info": {"description": f"exported by dda from {dataset.name}"},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": categories,
    }
    path = out / "annotations.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _sample_annotations(sample: Sample, dataset: Dataset, names: list[str]) -> list[dict[str, Any]]:
    mask = load_class_mask(Path(sample.mask_path)) if sample.mask_path is not None else None
    result: list[dict[str, Any]] = []
    for box in sample.boxes:
        name = dataset.box_class_names[box.class_id]
        region = None
        if mask is not None and name in dataset.mask_class_names:
            region = np.zeros(mask.shape, dtype=bool)
            x0, y0 = max(0, int(box.left)), max(0, int(box.top))
            x1, y1 = int(np.ceil(box.left + box.width)), int(np.ceil(box.top + box.height))
            region[y0:y1, x0:x1] = mask[y0:y1, x0:x1] == dataset.mask_class_names.index(name)
        result.append(_annotation(names.index(name) + 1, [box.left, box.top, box.width, box.height], region))
    if not sample.boxes and mask is not None:
        for class_id in sorted(int(c) for c in np.unique(mask) if c):
            region = mask == class_id
            ys, xs = np.nonzero(region)
            bbox = [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]
            result.append(_annotation(names.index(dataset.mask_class_names[class_id]) + 1, bbox, region))
    return result


def _annotation(category_id: int, bbox: Sequence[float], region: NDArray[np.bool_] | None) -> dict[str, Any]:
    has_region = region is not None and bool(region.any())
    area = int(region.sum()) if has_region and region is not None else float(bbox[2] * bbox[3])
    return {
        "category_id": category_id,
        "bbox": [round(float(v), 3) for v in bbox],
        "area": area,
        "iscrowd": 0,
        "segmentation": encode_mask(region) if has_region and region is not None else [],
    }
