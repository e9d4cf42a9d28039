"""The demo's model on the demo's camera: train the `dda demo` recipe, score fresh camera frames.

    .venv/bin/python bench/bench_demo_model.py [--frames 200] [--camera-seed 2024]
        [--type classification] [--images 60] [--epochs 5] [--input-size 192x256]

Runs the demo's own `dda data synth` and `dda train` command lines (``DEMO_RECIPE`` in
dda.station.demo; the flags override its fields) in a temporary folder and times them. Then it
scores the trained model on frames of the demo workflow's synthetic camera (768x576, 30 %
defective) started from a seed the training photos do not use, so no frame was seen in training.
Each frame is decided by dda.ml.predict.Predictor, i.e. the runtime's post-processing with the
threshold training calibrated, as the station decides. Prints the training time, the artifact's
validation figures, and the held-out image AUROC, F1, precision and recall.

The times depend on what else the machine is doing; run it on an otherwise idle box.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

DDA = Path(sys.executable).parent / "dda"


def _size(text: str) -> tuple[int, int]:
    height, _, width = text.lower().partition("x")
    return int(height), int(width)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=200, help="held-out camera frames")
    parser.add_argument("--camera-seed", type=int, default=2024, help="seed of the held-out camera")
    parser.add_argument("--type", dest="model_type", default=None, help="model type (default: the recipe's)")
    parser.add_argument("--images", type=int, default=None, help="synthetic training photos")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--input-size", type=_size, default=None, help="HEIGHTxWIDTH the model sees")
    parser.add_argument("--seed", type=int, default=None, help="seed of the training photos and the run")
    return parser.parse_args()


def timed_dda(args: list[str]) -> float:
    """Run one `dda` command line as the demo does (bars hidden: stderr is not a terminal here)."""
    started = time.perf_counter()
    done = subprocess.run([str(DDA), *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"`dda {' '.join(args)}` failed:\n{done.stderr[-4000:]}")
    return time.perf_counter() - started


def camera_frames(count: int, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """``count`` frames of the demo's synthetic camera and whether each shows a defect."""
    from dda.station.demo import CAMERA_DEFECT_RATE, CAMERA_HEIGHT, CAMERA_WIDTH
    from dda.station.plugins.sources.synthetic import SyntheticSource, SyntheticSourceConfig

    config = SyntheticSourceConfig(
        product="cookie",
        width=CAMERA_WIDTH,
        height=CAMERA_HEIGHT,
        defect_rate=CAMERA_DEFECT_RATE,
        fps=0,
        seed=seed,
    )
    source = SyntheticSource(config)
    source.open()
    frames = [source.grab(timeout_s=10.0) for _ in range(count)]
    source.close()
    return [f.image for f in frames], np.array([bool(f.metadata["defect"]) for f in frames])


def score(model_path: Path, images: list[np.ndarray], defective: np.ndarray) -> dict[str, Any]:
    from dda.ml.artifact import load_artifact
    from dda.ml.metrics import auroc
    from dda.ml.predict import Predictor

    predictor = Predictor(load_artifact(model_path))
    predictions = [predictor.predict(image) for image in images]
    scores = np.array([p.anomaly_score for p in predictions])
    flagged = np.array([p.verdict == "anomaly" for p in predictions])
    tp, fp = int(np.sum(flagged & defective)), int(np.sum(flagged & ~defective))
    fn = int(np.sum(~flagged & defective))
    return {
        "auroc": auroc(defective, scores),
        "f1": 2 * tp / max(1, 2 * tp + fp + fn),
        "precision": tp / max(1, tp + fp),
        "recall": tp / max(1, tp + fn),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": int(np.sum(~flagged & ~defective)),
        "ms_per_frame": float(np.mean([p.timings_ms["total"] for p in predictions])),
    }


def main() -> None:
    args = parse_args()
    from dda.ml.artifact import load_artifact
    from dda.station.demo import DEMO_RECIPE

    overrides = {
        "model_type": args.model_type,
        "images": args.images,
        "epochs": args.epochs,
        "input_size": args.input_size,
        "seed": args.seed,
    }
    recipe = dataclasses.replace(DEMO_RECIPE, **{k: v for k, v in overrides.items() if v is not None})
    if recipe.seed == args.camera_seed:
        raise SystemExit("the camera seed must differ from the training seed (held-out frames)")
    print(f"recipe: {recipe}, cores: {os.cpu_count()}")
    with tempfile.TemporaryDirectory(prefix="dda-bench-demo-") as tmp:
        data, model = Path(tmp) / "data", Path(tmp) / "model.tar.gz"
        synth_s = timed_dda(recipe.synth_args(data))
        train_s = timed_dda(recipe.train_args(data / "groundtruth.manifest", model))
        metrics = load_artifact(model).metrics
        images, defective = camera_frames(args.frames, args.camera_seed)
        held_out = score(model, images, defective)
    validation = metrics["image"]
    pixel = (metrics.get("pixel") or {}).get("pixel_auroc")
    print(f"synthesis {synth_s:.1f} s, training {train_s:.1f} s (`dda train`, whole process)")
    print(
        f"validation ({metrics['num_images']} photos): AUROC {validation['auroc']:.3f}, "
        f"F1 {validation['f1']:.3f}"
        + (f", pixel AUROC {pixel:.3f}" if pixel is not None else "")
        + f"; epochs {metrics['epochs_run']} (best {metrics['best_epoch']}), {metrics['threshold_how']}"
    )
    print(
        f"held-out camera ({len(images)} frames {images[0].shape[1]}x{images[0].shape[0]}, "
        f"{int(defective.sum())} defective, seed {args.camera_seed}): AUROC {held_out['auroc']:.3f}, "
        f"F1 {held_out['f1']:.3f}, precision {held_out['precision']:.3f}, recall {held_out['recall']:.3f} "
        f"(tp {held_out['tp']} fp {held_out['fp']} fn {held_out['fn']} tn {held_out['tn']}), "
        f"{held_out['ms_per_frame']:.0f} ms/frame"
    )


if __name__ == "__main__":
    main()
