"""Load a Ground Truth or DDA manifest into a :class:`~dda.formats.dataset.Dataset`.

Images are resolved to local files (``--map`` prefixes, then the object store for ``s3://``).
Colour masks are converted to class-id PNGs once and kept, content-addressed, under
``<data_dir>/cache/masks`` so every trainer reads plain class ids.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from dda.core.logging import get_logger
from dda.core.settings import get_settings
from dda.formats.checks import inspect_record
from dda.formats.dataset import Dataset, Sample
from dda.formats.manifest import ParsedManifest, parse_manifest
from dda.formats.masks import BACKGROUND, save_class_mask
from dda.formats.problems import ProblemList
from dda.formats.uris import FileSource, UriResolver, unmatched_mappings

log = get_logger(__name__)


def load_dataset(
    manifest_path: Path | str,
    *,
    mappings: Mapping[str, str] | None = None,
    store: FileSource | None = None,
    jobs: Sequence[str] = (),
    normal_class: str | None = None,
    name: str | None = None,
    progress: bool | None = None,
    decode: bool = False,
) -> Dataset:
    """Read a manifest and its files into a Dataset; raises InvalidInput listing the problems.

    ``mappings`` rewrites URI prefixes (``{"s3://bucket/cookies/": "/data/cookies/"}``); ``store``
    fetches what is still ``s3://`` (default: ``dda.core.storage.open_store("s3://<bucket>")``).
    ``jobs`` picks among several jobs of one kind; ``normal_class`` names the "no defect" class
    of a Ground Truth classification job when its name does not say so. ``decode`` opens every
    image fully, as ``dda data validate`` does, so a corrupt file is named before training starts.
    A ``--map`` prefix that matches no reference is warned about, with the likely prefix.
    """
    path = Path(manifest_path)
    parsed = parse_manifest(path, jobs=jobs, normal_class=normal_class)
    parsed.problems.raise_if_errors(f"manifest {path.name}")
    resolver = UriResolver(mappings, base_dir=path.parent, store=store)
    records = parsed.usable_records()
    for prefix, suggestion in unmatched_mappings(mappings or {}, [r.source_ref for r in records]):
        hint = f"; the manifest's files start with {suggestion!r}" if suggestion else ""
        warnings.warn(f"--map prefix {prefix!r} matches no file of {path.name}{hint}", stacklevel=2)
        log.warning("map prefix matches nothing", prefix=prefix, suggestion=suggestion)
    problems = ProblemList()
    samples: list[Sample] = []
    cache = Path(get_settings().data_dir) / "cache" / "masks"
    for record in tqdm(records, desc=f"loading {path.name}", unit="img", disable=_quiet(progress)):
        info = inspect_record(record, parsed, resolver, problems, decode=decode)
        if info is None:
            continue
        mask_path = None
        if info.mask is not None:
            mask_path = cache_class_mask(info.mask.ids, cache, len(parsed.mask_classes.names()))
        samples.append(
            Sample(
                info.image_path, info.label, mask_path, tuple(record.boxes), record.source_ref, record.line
            )
        )
    problems.raise_if_errors(f"the files of manifest {path.name}")
    return _dataset(parsed, samples, name or path.stem)


def _dataset(parsed: ParsedManifest, samples: list[Sample], name: str) -> Dataset:
    mask_names = parsed.mask_classes.names() if parsed.jobs.segmentation is not None else [BACKGROUND]
    return Dataset(
        samples=samples,
        class_names=list(parsed.class_names),
        mask_class_names=mask_names,
        name=name,
        box_class_names=parsed.box_class_names(),
    )


def cache_class_mask(ids: NDArray[np.uint8], cache_dir: Path, class_count: int) -> Path:
    """Store class ids as a palette PNG named by its content; the same mask is written once."""
    digest = hashlib.sha256(f"{ids.shape}".encode() + ids.tobytes()).hexdigest()
    path = cache_dir / digest[:2] / f"{digest}.png"
    if not path.is_file():
        tmp = path.with_name(f".{path.name}.tmp.png")
        save_class_mask(ids, tmp, class_count)
        tmp.replace(path)
    return path


def _quiet(progress: bool | None) -> bool | None:
    """tqdm's ``disable``: None hides the bar when stderr is not a terminal."""
    return None if progress is None else not progress
