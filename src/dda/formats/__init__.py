"""Dataset and manifest formats: Ground Truth, DDA, COCO, YOLO, synthetic data.

The main entry points, importable from here (loaded on first use):

- :func:`load_dataset` (``dda.formats.loader``): a GT or DDA manifest -> :class:`Dataset`
- :func:`validate_manifest` (``dda.formats.validate``), :func:`transform_gt_to_dda` (``.transform``)
- :func:`write_dda_manifest`, :func:`write_groundtruth_manifest` (``.writers``)
- :func:`read_coco`, :func:`write_coco` (``.coco``); :func:`read_yolo`, :func:`write_yolo` (``.yolo``)
- :func:`generate_synthetic_dataset`, :func:`render_sample`, :class:`SyntheticProduct` (``.synthetic``)
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Box": "dataset",
    "Dataset": "dataset",
    "Sample": "dataset",
    "load_dataset": "loader",
    "validate_manifest": "validate",
    "transform_gt_to_dda": "transform",
    "write_dda_manifest": "writers",
    "write_groundtruth_manifest": "writers",
    "read_coco": "coco",
    "write_coco": "coco",
    "read_yolo": "yolo",
    "write_yolo": "yolo",
    "generate_synthetic_dataset": "synthetic",
    "render_sample": "synthetic",
    "SyntheticProduct": "synthetic",
    "parse_mappings": "uris",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
