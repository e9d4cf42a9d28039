"""Result overlays (the input with the defect tinted and a verdict-coloured border), drawn when
first asked for and kept next to the result.

An overlay is derived data: input + mask + verdict. Drawing and JPEG-encoding it for every capture
cost several milliseconds on the latency path and a file to fsync, for images most of which nobody
looks at. A missing (or empty, after a power cut) overlay is simply drawn again.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np
from PIL import Image

from dda.runtime.postprocess import render_overlay
from dda.station.db.models import InferenceResult
from dda.station.imaging import decode_file, encode_jpeg
from dda.station.services.result_store import ResultStore

QUALITY = 85


def draw_overlay(store: ResultStore, row: InferenceResult) -> bytes:
    image = decode_file(store.path(row.input_path)).image
    mask = None
    if row.mask_path is not None and store.path(row.mask_path).is_file():
        with Image.open(store.path(row.mask_path)) as png:
            mask = np.asarray(png)  # palette indices are the class ids
        if mask.shape != image.shape[:2]:
            mask = None
    return encode_jpeg(render_overlay(image, mask, row.prediction == "anomaly"), quality=QUALITY)


def overlay_path(store: ResultStore, row: InferenceResult) -> Path:
    """The overlay file of ``row``, drawn now if it is not there yet."""
    path = store.path(row.output_path)
    if path.is_file() and path.stat().st_size > 0:
        return path
    data = draw_overlay(store, row)
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    partial.write_bytes(data)
    os.replace(partial, path)  # readers see the whole file or none
    return path
