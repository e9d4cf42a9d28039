"""The golden answer every package carries: one fixed input image and what the model said about it
when the package was built. A device checks a freshly installed package by running that image and
comparing (``check_golden``) before it lets the package drive a line: a wrong runtime, a damaged
engine build or a mismatched pre-processing shows up as a different answer.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from dda.core.logging import get_logger

log = get_logger(__name__)

GOLDEN_IMAGE = "golden/input.png"
# Tolerances on the anomaly score: FP32 runtimes agree to ~1e-5; INT8 kernels differ more by CPU.
TOLERANCE = {"fp32": 1e-3, "fp16": 1e-2, "int8": 5e-2}


def golden_image(input_size: tuple[int, int] | list[int] | None, seed: int = 20261201) -> np.ndarray:
    """A fixed, textured RGB image at the model's input size (H, W): gradients plus seeded noise."""
    height, width = (int(input_size[0]), int(input_size[1])) if input_size else (224, 224)
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([xs / max(width, 1), ys / max(height, 1), (xs + ys) / max(width + height, 1)], axis=-1)
    image = base * 200.0 + rng.normal(0.0, 12.0, size=(height, width, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def encode_png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def record_golden(staging: Path, input_size: tuple[int, int] | None, precision: str) -> dict[str, Any] | None:
    """Run the staged package on the golden image; write the image, return the manifest entry.
    None when the package cannot run here (a TensorRT engine is built on the device; OpenVINO
    absent): the device then only checks that the model loads and answers."""
    from dda.runtime.predictor import load_predictor

    image = golden_image(input_size)
    try:
        with load_predictor(staging, check_hashes=False) as predictor:
            prediction = predictor.predict(image, draw_overlay=False)
    except Exception as exc:  # a backend missing here is not an error of the package
        log.info("no golden answer recorded", reason=type(exc).__name__)
        return None
    target = staging / GOLDEN_IMAGE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(encode_png(image))
    return {
        "image": GOLDEN_IMAGE,
        "verdict": prediction.verdict,
        "label": prediction.label,
        "anomaly_score": float(prediction.anomaly_score),
        "threshold": float(prediction.threshold),
        "tolerance": TOLERANCE.get(precision, 5e-2),
    }


@dataclass(frozen=True)
class GoldenCheck:
    ok: bool
    reason: str
    expected: dict[str, Any]
    observed: dict[str, Any]


def check_golden(package_dir: Path, predictor: Any) -> GoldenCheck:
    """Run the package's golden image through a loaded predictor and compare with the recorded answer."""
    manifest = predictor.manifest
    expected: dict[str, Any] = dict(getattr(manifest, "golden", None) or {})
    if not expected:
        image = golden_image(manifest.input_size)
        prediction = predictor.predict(image, draw_overlay=False)
        finite = bool(np.isfinite(prediction.anomaly_score))
        observed = {"verdict": prediction.verdict, "anomaly_score": float(prediction.anomaly_score)}
        reason = (
            "no golden answer in the package; the model loads and answers" if finite else "non-finite score"
        )
        return GoldenCheck(finite, reason, expected, observed)
    with Image.open(package_dir / expected["image"]) as img:
        image = np.asarray(img.convert("RGB"))
    prediction = predictor.predict(image, draw_overlay=False)
    observed = {"verdict": prediction.verdict, "anomaly_score": float(prediction.anomaly_score)}
    delta = abs(observed["anomaly_score"] - float(expected["anomaly_score"]))
    tolerance = float(expected.get("tolerance", 5e-2))
    borderline = abs(float(expected["anomaly_score"]) - float(expected["threshold"])) <= tolerance
    if not np.isfinite(observed["anomaly_score"]) or delta > tolerance:
        return GoldenCheck(
            False,
            f"golden score {observed['anomaly_score']:.6f} differs from the recorded "
            f"{float(expected['anomaly_score']):.6f} by more than {tolerance}",
            expected,
            observed,
        )
    if observed["verdict"] != expected["verdict"] and not borderline:
        return GoldenCheck(
            False,
            f"golden verdict {observed['verdict']} differs from the recorded {expected['verdict']}",
            expected,
            observed,
        )
    return GoldenCheck(True, "golden answer matches", expected, observed)
