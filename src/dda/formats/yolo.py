"""YOLO detection datasets <-> :class:`Dataset`.

Layout: ``images/**/<name>.<ext>``, ``labels/**/<name>.txt`` (one ``class cx cy w h`` line per box,
normalised to 0..1) and the class names in ``classes.txt`` (or ``obj.names``, or ``names`` in
``data.yaml``). An image without a label file, or with an empty one, is normal. A YOLO-seg line
(``class x1 y1 x2 y2 ...``) is read as the box around its polygon.
"""

from __future__ import annotations

import re
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from dda.core.errors import InvalidInput, NotFound
from dda.formats.dataset import ANOMALY_CLASS, NORMAL_CLASS, Box, Dataset, Sample
from dda.formats.export_files import ExportedImages
from dda.formats.problems import ProblemList

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"})
CLASS_FILES = ("classes.txt", "obj.names")


def read_yolo(root: Path | str, *, name: str | None = None) -> Dataset:
    """Read a YOLO detection dataset folder; raises InvalidInput listing every problem."""
    root = Path(root)
    images_dir, labels_dir = root / "images", root / "labels"
    if not images_dir.is_dir():
        raise NotFound(
            f"{images_dir} does not exist", hint="a YOLO dataset holds images/ and labels/ folders"
        )
    class_names = read_class_names(root)
    problems = ProblemList()
    samples: list[Sample] = []
    images = sorted(p for p in images_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    for index, image_path in enumerate(tqdm(images, desc="reading YOLO", unit="img", disable=None), start=1):
        label_path = (labels_dir / image_path.relative_to(images_dir)).with_suffix(".txt")
        boxes = (
            _read_labels(label_path, image_path, len(class_names), problems) if label_path.is_file() else ()
        )
        samples.append(
            Sample(image_path, 1 if boxes else 0, None, boxes, image_path.relative_to(root).as_posix(), index)
        )
    if not samples:
        problems.add(0, f"no images under {images_dir}", "put the images in images/ (jpg, png, bmp, tif)")
    problems.raise_if_errors(f"YOLO dataset {root}", limit=8, validate_hint=False)
    return Dataset(
        samples, [NORMAL_CLASS, ANOMALY_CLASS], name=name or root.name, box_class_names=class_names
    )


def read_class_names(root: Path) -> list[str]:
    for file_name in CLASS_FILES:
        path = root / file_name
        if path.is_file():
            names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            if names:
                return names
    yaml_path = root / "data.yaml"
    if yaml_path.is_file():
        names = _yaml_names(yaml_path.read_text(encoding="utf-8"))
        if names:
            return names
    raise NotFound(
        f"no class names in {root}",
        hint="write one class name per line in classes.txt (line i = class id i)",
    )


def _yaml_names(text: str) -> list[str]:
    """``names`` from a data.yaml: ``[a, b]``, a ``- a`` block, or an ``0: a`` mapping."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        match = re.match(r"^names\s*:\s*(.*)$", line)
        if not match:
            continue
        inline = match.group(1).strip()
        if inline.startswith("["):
            return [_unquote(v) for v in inline.strip("[]").split(",") if v.strip()]
        block: dict[int, str] = {}
        for item in lines[index + 1 :]:
            if item and not item[0].isspace():
                break
            listed = re.match(r"^\s+-\s*(.+)$", item)
            keyed = re.match(r"^\s+(\d+)\s*:\s*(.+)$", item)
            if listed:
                block[len(block)] = _unquote(listed.group(1))
            elif keyed:
                block[int(keyed.group(1))] = _unquote(keyed.group(2))
        return [block[i] for i in sorted(block)]
    return []


def _unquote(value: str) -> str:
    return value.split("#", 1)[0].strip().strip("'\"")


def _read_labels(
    label_path: Path, image_path: Path, class_count: int, problems: ProblemList
) -> tuple[Box, ...]:
    with Image.open(image_path) as image:
        width, height = image.size
    boxes: list[Box] = []
    for number, line in enumerate(label_path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        box = _parse_line(line, width, height, class_count)
        if isinstance(box, str):
            problems.add(
                number,
                f"{label_path.name}: {box}",
                "write 'class cx cy w h' with class < number of classes and values in 0..1",
                field_name=str(label_path),
            )
        else:
            boxes.append(box)
    return tuple(boxes)


def _parse_line(line: str, width: int, height: int, class_count: int) -> Box | str:
    parts = line.split()
    try:
        class_id, values = int(parts[0]), [float(v) for v in parts[1:]]
    except (ValueError, IndexError):
        return f"{line.strip()!r} is not numbers"
    if not 0 <= class_id < class_count:
        return f"class {class_id} is not in 0..{class_count - 1}"
    if len(values) == 4:
        cx, cy, w, h = values
        x0, y0, x1, y1 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
    elif len(values) >= 6 and len(values) % 2 == 0:  # YOLO-seg polygon
        xs, ys = values[0::2], values[1::2]
        x0, y0, x1, y1 = min(xs), min(ys), max(xs), max(ys)
    else:
        return f"{len(values)} values after the class; expected 4 (cx cy w h)"
    if min(x0, y0) < -0.001 or max(x1, y1) > 1.001 or x1 <= x0 or y1 <= y0:
        return f"box {line.strip()!r} is empty or outside 0..1"
    return Box(class_id, x0 * width, y0 * height, (x1 - x0) * width, (y1 - y0) * height)


def write_yolo(dataset: Dataset, out_dir: Path | str) -> Path:
    """Write ``images/``, ``labels/``, ``classes.txt`` and ``data.yaml``; returns ``out_dir``."""
    if not dataset.box_class_names:
        raise InvalidInput(
            f"dataset {dataset.name} has no boxes to export as YOLO",
            hint="YOLO holds detection labels; export masks with `dda data export coco` instead",
        )
    out = Path(out_dir)
    files = ExportedImages(out / "images")
    labels = out / "labels"
    labels.mkdir(parents=True, exist_ok=True)
    for sample in tqdm(dataset.samples, desc="writing YOLO", unit="img", disable=None):
        file_name = files.add(Path(sample.image_path))
        with Image.open(sample.image_path) as image:
            width, height = image.size
        lines = [
            f"{b.class_id} {(b.left + b.width / 2) / width:.6f} {(b.top + b.height / 2) / height:.6f} "
            f"{b.width / width:.6f} {b.height / height:.6f}"
            for b in sample.boxes
        ]
        (labels / Path(file_name).with_suffix(".txt")).write_text(
            "".join(f"{x}\n" for x in lines), encoding="utf-8"
        )
    (out / "classes.txt").write_text("".join(f"{n}\n" for n in dataset.box_class_names), encoding="utf-8")
    names = ", ".join(f"'{n}'" for n in dataset.box_class_names)
    (out / "data.yaml").write_text(
        f"path: {out.resolve().as_posix()}\ntrain: images\nval: images\nnc: {len(dataset.box_class_names)}\n"
        f"names: [{names}]\n",
        encoding="utf-8",
    )
    return out
