"""The in-memory dataset every reader produces and every trainer consumes.

Readers (Ground Truth, DDA manifest, COCO, YOLO, synthetic) turn their files into a
:class:`Dataset`; the ml plane never parses a file format itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

NORMAL_CLASS = "normal"
ANOMALY_CLASS = "anomaly"


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in pixels of the original image."""

    class_id: int
    left: float
    top: float
    width: float
    height: float


@dataclass(frozen=True)
class Sample:
    """One labeled image.

    ``label`` is the image-level class id into :attr:`Dataset.class_names` (0 is always
    ``normal``). ``mask_path`` is a single-channel PNG of class ids (0 = background) of the same
    size as the image, or None when the image has no mask (a normal image, or a
    classification-only dataset). ``source_ref`` keeps the URI the manifest named.
    """

    image_path: Path
    label: int
    mask_path: Path | None = None
    boxes: tuple[Box, ...] = ()
    source_ref: str = ""
    line_number: int = 0


@dataclass
class Dataset:
    """Samples plus the class names they index. ``class_names[0]`` is ``normal``."""

    samples: list[Sample]
    class_names: list[str] = field(default_factory=lambda: [NORMAL_CLASS, ANOMALY_CLASS])
    mask_class_names: list[str] = field(default_factory=lambda: ["background"])
    name: str = "dataset"
    # Names of Box.class_id values (zero-based, as in Ground Truth's class-map); empty without boxes.
    box_class_names: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def has_masks(self) -> bool:
        return any(s.mask_path is not None for s in self.samples)

    @property
    def has_boxes(self) -> bool:
        return any(s.boxes for s in self.samples)

    def count_by_label(self) -> dict[str, int]:
        counts = dict.fromkeys(self.class_names, 0)
        for sample in self.samples:
            counts[self.class_names[sample.label]] += 1
        return counts
