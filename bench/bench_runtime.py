"""Runtime cost per image: the station's Predictor vs bare ONNX Runtime, FP32 vs INT8.

    .venv/bin/python bench/bench_runtime.py [--model MODEL.tar.gz] [--model-type classification|segmentation]
                                            [--backbone resnet18|mobilenet_v2] [-n 100] [--threads 1]

One 576x768 JPEG (the first cookie image from ../shared/datasets/cookies, else a synthetic one) is
decoded once; then, batch 1, each model is timed two ways on the same uint8 array, interleaved:

- bare:    ``InferenceSession.run`` of the package's model file (same session options),
- station: ``Predictor.predict`` (input checks, the same run, verdict, mask, overlay, timings).

Printed: median and p90 ms, the station/bare overhead ratio (target <= 1.3x), and the FP32/INT8
speed-up (target >= 1.5x for ResNet-class backbones). Without --model the network is a ResNet-18
classifier (or --model-type segmentation) at 224x224: ImageNet trunk when the weights file is
present, untrained heads, so the numbers are about time, not quality.
The FP32 and INT8 models go through the real `dda export` (parity gate included) and `dda package`.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

COOKIES = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "cookies"
TARGET_OVERHEAD = 1.3
TARGET_INT8_SPEEDUP = 1.5


def _frames() -> tuple[np.ndarray, list[np.ndarray], str]:
    """(benchmark frame, calibration frames, where they came from)."""
    from dda.core.safe_image import decode_image, encode_jpeg

    files = sorted((COOKIES / "dataset-files" / "training-images").glob("*.jpg"))
    if files:
        images = [decode_image(f) for f in files[:32]]
        return images[0], images, f"{files[0].name} ({images[0].shape[1]}x{images[0].shape[0]} JPEG)"
    from dda.ml.export import synthetic_image_set

    synthetic = synthetic_image_set(16).images
    frame = decode_image(encode_jpeg(synthetic[0], quality=90))
    return frame, synthetic, "synthetic 768x576 JPEG (cookie images not found)"


def _module(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    from dda.ml.artifact import load_artifact

    if args.model:
        trained = load_artifact(args.model)
        return trained, {}
    from dda.ml.artifact import TrainedModel
    from dda.ml.backbones import IMAGENET_MEAN, IMAGENET_STD
    from dda.ml.models import build_core_module

    config = {
        "model_type": "classification",
        "backbone": args.backbone,
        "input_size": [224, 224],
        "class_names": ["normal", "anomaly"],
        "mask_class_names": None,
        "threshold": 0.5,
        "verdict_rule": "cls_head",
        "mean": list(IMAGENET_MEAN),
        "std": list(IMAGENET_STD),
    }
    core = build_core_module(config, pretrained=True).eval()
    return TrainedModel(config=config, module=core), {}


def _build(trained: Any, out: Path, calibration: list[np.ndarray], key: bytes) -> dict[str, Path]:
    from dda.ml.export import ImageSet, export_trained
    from dda.packaging import build_package

    calib = ImageSet(calibration, [f"calib-{i}" for i in range(len(calibration))], None, "bench")
    packages = {}
    for precision in ("fp32", "int8"):
        t0 = time.perf_counter()
        export_trained(
            trained, "x86_64-cpu", out / f"export-{precision}", int8=precision == "int8", calibration=calib
        )
        packages[precision] = build_package(
            out / f"export-{precision}",
            None,
            out / f"pkg-{precision}",
            key,
            name=f"bench-{precision}",
            version="1",
        )
        print(f"  exported + packaged {precision} in {time.perf_counter() - t0:.1f} s (parity gate passed)")
    return packages


def _bare(model_file: Path, threads: int) -> Callable[[np.ndarray], Any]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
    return lambda image: session.run(None, {"image": image})


def _time(calls: dict[str, Callable[[np.ndarray], Any]], frame: np.ndarray, n: int) -> dict[str, list[float]]:
    """Interleave the calls so load changes on the shared box hit every path alike."""
    for call in calls.values():
        for _ in range(5):
            call(frame)
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(n):
        for name, call in calls.items():
            t0 = time.perf_counter()
            call(frame)
            times[name].append((time.perf_counter() - t0) * 1000.0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, help="a trained model.tar.gz (default: ResNet-18 classifier)")
    parser.add_argument("--backbone", default="resnet18", choices=["resnet18", "mobilenet_v2"])
    parser.add_argument("-n", type=int, default=100, help="timed runs per path")
    parser.add_argument(
        "--model-type",
        default="classification",
        choices=["classification", "segmentation"],
        help="network built without --model (its heads are untrained: timing only)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="intra-op threads for every path (1 is steadiest on a shared box)",
    )
    args = parser.parse_args()

    import torch

    from dda.core.signing import generate_keypair
    from dda.runtime import load_predictor

    torch.set_num_threads(args.threads)
    frame, calibration, source = _frames()
    trained, _ = _module(args)
    print(
        f"model: {trained.config['model_type']} {trained.config['backbone']} "
        f"{trained.config['input_size']}; frame: {source}; threads: {args.threads}; n={args.n}"
    )
    with tempfile.TemporaryDirectory(prefix="dda-bench-") as tmp:
        packages = _build(trained, Path(tmp), calibration, generate_keypair()[0])
        calls: dict[str, Callable[[np.ndarray], Any]] = {}
        predictors = []
        for precision, package in packages.items():
            predictor = load_predictor(package, threads=args.threads)
            predictors.append(predictor)
            calls[f"{precision} bare"] = _bare(package / predictor.manifest.triton.model_file, args.threads)
            calls[f"{precision} station"] = predictor.predict
        times = _time(calls, frame, args.n)
        stages = predictors[0].predict(frame).timings_ms
        for predictor in predictors:
            predictor.close()
    _report(times, stages)


def _report(times: dict[str, list[float]], stages: dict[str, float]) -> None:
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"\n{'path':<16}{'median ms':>11}{'p90 ms':>9}")
    for name, values in times.items():
        print(f"{name:<16}{median[name]:>11.2f}{float(np.percentile(values, 90)):>9.2f}")
    print("\nstation FP32 stages (ms): " + ", ".join(f"{k} {v:.2f}" for k, v in stages.items()))
    for precision in ("fp32", "int8"):
        ratio = median[f"{precision} station"] / median[f"{precision} bare"]
        verdict = "ok" if ratio <= TARGET_OVERHEAD else "ABOVE TARGET"
        print(f"{precision} overhead station/bare: {ratio:.2f}x (target <= {TARGET_OVERHEAD}x: {verdict})")
    for path in ("bare", "station"):
        speedup = median[f"fp32 {path}"] / median[f"int8 {path}"]
        verdict = "ok" if speedup >= TARGET_INT8_SPEEDUP else "BELOW TARGET"
        print(f"INT8 speed-up ({path}): {speedup:.2f}x (target >= {TARGET_INT8_SPEEDUP}x: {verdict})")


if __name__ == "__main__":
    main()
