"""From a :class:`dda.formats.dataset.Dataset` to tensors a model trains on.

Images are decoded once, resized to the model input size exactly as the deployed model resizes
them (bilinear, ``align_corners=False``, on float pixels; see :mod:`dda.ml.deploy`) and kept in a
process-wide memory cache, so repeated epochs, evaluation and plots never decode a file twice.
Masks become class-id maps at the same size; a resized pixel is a defect when at least
``MASK_FOREGROUND_FRACTION`` of its source area is, which keeps hair-thin cracks visible after
down-scaling.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset as TorchDataset
from tqdm.auto import tqdm

from dda.core.errors import DDAError, InvalidInput, NotFound
from dda.core.safe_image import decode_image, probe_image
from dda.formats.dataset import Dataset, Sample
from dda.ml.augment import AugmentConfig, augment_batch

IGNORE_INDEX = 255  # mask value of pixels whose class is unknown (a defect image without a mask)
MASK_FOREGROUND_FRACTION = 0.25
CACHE_LIMIT_BYTES = 1 << 30  # decoded, resized images kept in memory

Size = tuple[int, int]  # (height, width)


def load_rgb(path: Path) -> np.ndarray:
    """Decode an image file to uint8 RGB [H, W, 3] through the safe decoder (size limits, allow-list,
    EXIF orientation applied)."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"image {path} does not exist", hint="check the manifest paths or the --map option")
    return decode_image(path, mode="RGB")


def load_mask(path: Path, num_classes: int, expected_hw: Size | None = None) -> np.ndarray:
    """A single-channel class-id PNG as uint8 [H, W]; ids must be below ``num_classes``."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"mask {path} does not exist", hint="check the manifest's mask references")
    probe_image(path)  # format allow-list and pixel limit, from the header only
    with Image.open(path) as img:
        if img.mode not in ("L", "P", "I", "I;16"):
            raise InvalidInput(
                f"mask {path.name} is a {img.mode} image, not a class-id map",
                hint="convert Ground Truth colour masks with `dda data transform` first",
            )
        mask = np.asarray(img)
    if expected_hw is not None and mask.shape != expected_hw:
        raise InvalidInput(
            f"mask {path.name} is {mask.shape[1]}x{mask.shape[0]} but its image is "
            f"{expected_hw[1]}x{expected_hw[0]}",
            hint="a mask must have exactly the size of its image; run `dda data validate`",
        )
    if mask.size and int(mask.max()) >= num_classes:
        raise InvalidInput(
            f"mask {path.name} holds class id {int(mask.max())} "
            f"but the dataset has {num_classes} mask classes",
            hint="check the manifest's colour map / mask class names",
        )
    return mask.astype(np.uint8)


def resize_image(image: np.ndarray | Tensor, size: Size) -> Tensor:
    """uint8 [H, W, 3] -> float [3, h, w] in 0..1, the same arithmetic as the deploy wrapper."""
    tensor = torch.as_tensor(image)
    x = tensor.to(torch.float32).permute(2, 0, 1).unsqueeze(0)
    x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    return (x / 255.0)[0]


def resize_mask(mask: np.ndarray, size: Size, num_classes: int) -> Tensor:
    """Class ids [H, W] -> long [h, w]; a pixel is the defect class covering most of its source area
    when that class covers at least ``MASK_FOREGROUND_FRACTION`` of it, else background."""
    ids = torch.as_tensor(mask, dtype=torch.long)
    if tuple(ids.shape) == tuple(size):
        return ids
    onehot = F.one_hot(ids, num_classes).permute(2, 0, 1).unsqueeze(0).to(torch.float32)
    fractions = F.interpolate(onehot, size=size, mode="area")[0]
    if num_classes == 1:
        return torch.zeros(size, dtype=torch.long)
    fg_fraction, fg_class = fractions[1:].max(dim=0)
    return torch.where(fg_fraction >= MASK_FOREGROUND_FRACTION, fg_class + 1, 0)


class _ImageCache:
    """Thread-safe LRU of resized images, keyed by path, file identity and size."""

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self._items: OrderedDict[tuple[str, int, int, Size], Tensor] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, path: Path, size: Size) -> Tensor:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, size)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        try:
            tensor = resize_image(load_rgb(path), size)
        except (
            InvalidInput,
            OSError,
        ) as exc:  # name the file: a corrupt photo among hundreds is hard to find
            message = exc.message if isinstance(exc, InvalidInput) else type(exc).__name__
            raise InvalidInput(
                f"image {path.name} cannot be read: {message}",
                hint="replace or remove it; `dda data validate` checks every image",
            ) from exc
        with self._lock:
            self._items[key] = tensor
            self._bytes += tensor.numel() * tensor.element_size()
            while self._bytes > self.limit_bytes and len(self._items) > 1:
                _, old = self._items.popitem(last=False)
                self._bytes -= old.numel() * old.element_size()
        return tensor

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


IMAGE_CACHE = _ImageCache(CACHE_LIMIT_BYTES)


def image_size_of(path: Path) -> Size:
    """(height, width) as decoded (EXIF orientation applied), from the file header only."""
    width, height = probe_image(Path(path)).oriented_size
    return height, width


def default_input_size(dataset: Dataset, base: int = 224, multiple: int = 32) -> Size:
    """An input size with about ``base``² pixels and the dataset's typical aspect ratio."""
    ratios = []
    for sample in dataset.samples[:50]:
        try:
            height, width = image_size_of(sample.image_path)
        except (OSError, DDAError):
            continue
        ratios.append(height / width)
    ratio = float(np.median(ratios)) if ratios else 1.0
    ratio = min(max(ratio, 0.5), 2.0)
    height = max(multiple, round(base * math.sqrt(ratio) / multiple) * multiple)
    width = max(multiple, round(base / math.sqrt(ratio) / multiple) * multiple)
    return int(height), int(width)


def stratified_split(labels: Sequence[int], val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Seeded split keeping each label's share: (train indices, val indices), both sorted.

    Every label with at least two images gets at least one in each part.
    """
    if not 0.0 < val_fraction < 1.0:
        raise InvalidInput(f"val_fraction {val_fraction} is outside (0, 1)", hint="use e.g. 0.2")
    rng = np.random.default_rng(seed)
    train: list[int] = []
    val: list[int] = []
    for label in sorted(set(labels)):
        members = [i for i, value in enumerate(labels) if value == label]
        rng.shuffle(members)
        n_val = round(len(members) * val_fraction)
        n_val = min(max(n_val, 1), len(members) - 1) if len(members) >= 2 else 0
        val += members[:n_val]
        train += members[n_val:]
    return sorted(train), sorted(val)


def normalize(images: Tensor, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    mean_t = images.new_tensor(mean).view(1, 3, 1, 1)
    std_t = images.new_tensor(std).view(1, 3, 1, 1)
    return (images - mean_t) / std_t


class DefectImageDataset(TorchDataset[tuple[Tensor, int, Tensor]]):
    """The chosen samples of a dataset, decoded and resized into memory.

    ``images``: float [N, 3, h, w] in 0..1; ``labels``: long [N]; ``masks``: long [N, h, w] of class
    ids (``IGNORE_INDEX`` where a defect image has no mask; zeros for normal images without one).
    ``__getitem__`` returns one normalised image, its label and its mask.
    """

    def __init__(
        self,
        dataset: Dataset,
        input_size: Size,
        mean: Sequence[float],
        std: Sequence[float],
        indices: Sequence[int] | None = None,
        with_masks: bool = False,
        progress: bool = False,
    ) -> None:
        self.dataset = dataset
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.mean, self.std = tuple(mean), tuple(std)
        self.indices = list(range(len(dataset))) if indices is None else list(indices)
        self.samples: list[Sample] = [dataset.samples[i] for i in self.indices]
        if not self.samples:
            raise InvalidInput("no images to load", hint="the dataset or the chosen split is empty")
        self.labels = torch.tensor([s.label for s in self.samples], dtype=torch.long)
        images = []
        masks = []
        bar = tqdm(self.samples, desc="loading images", unit="img", disable=not progress, leave=False)
        for sample in bar:
            images.append(IMAGE_CACHE.get(Path(sample.image_path), self.input_size))
            if with_masks:
                masks.append(self._mask_for(sample))
        self.images = torch.stack(images)
        self.masks: Tensor | None = torch.stack(masks) if with_masks else None

    def _mask_for(self, sample: Sample) -> Tensor:
        num_classes = max(1, len(self.dataset.mask_class_names))
        if sample.mask_path is None:
            fill = 0 if sample.label == 0 else IGNORE_INDEX
            return torch.full(self.input_size, fill, dtype=torch.long)
        mask = load_mask(Path(sample.mask_path), num_classes, image_size_of(Path(sample.image_path)))
        return resize_mask(mask, self.input_size, num_classes)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Tensor, int, Tensor]:
        image = normalize(self.images[index : index + 1], self.mean, self.std)[0]
        mask = self.masks[index] if self.masks is not None else torch.zeros(0, dtype=torch.long)
        return image, int(self.labels[index]), mask

    def batches(
        self,
        batch_size: int,
        *,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
        augment: AugmentConfig | None = None,
    ) -> Iterator[tuple[Tensor, Tensor, Tensor | None]]:
        """Yield (normalised images, labels, masks) batches; augmentation needs a ``generator``."""
        order = torch.randperm(len(self), generator=generator) if shuffle else torch.arange(len(self))
        for start in range(0, len(self), batch_size):
            idx = order[start : start + batch_size]
            images = self.images[idx]
            masks = self.masks[idx] if self.masks is not None else None
            if augment is not None:
                if generator is None:
                    raise ValueError("augmentation needs a seeded generator")
                images, masks = augment_batch(images, masks, generator, augment)
            yield normalize(images, self.mean, self.std), self.labels[idx], masks
