"""Quality on the cookie set: image AUROC and F1 per model type on a fixed, seeded held-out split.

    .venv/bin/python bench/bench_quality.py [--types classification anomaly:patchcore] [--test-fraction 0.3]

The dataset is split once (stratified, seeded) into a training part and a held-out test part.
Each model type trains on the training part with default options (which set aside their own
validation images for early stopping and threshold calibration) and is scored on the test part,
which no training step has seen. With 63 images the test part holds about 19, so one image moves
F1 by several points: read the figures as "works / does not work", not to the third decimal.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_training import add_common_arguments, load, split_type


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_common_arguments(parser)
    parser.add_argument("--test-fraction", type=float, default=0.3)
    parser.add_argument("--progress", action="store_true", help="show progress bars")
    args = parser.parse_args()
    from dda.core.logging import configure_logging

    configure_logging("WARNING")  # keep the figures readable: no per-epoch log lines

    from dda.formats.dataset import Dataset
    from dda.ml.artifact import load_artifact
    from dda.ml.data import stratified_split
    from dda.ml.training import TrainOptions, evaluate_model, train_model

    dataset = load(args)
    train_idx, test_idx = stratified_split([s.label for s in dataset.samples], args.test_fraction, args.seed)
    part = lambda idx: Dataset(  # noqa: E731
        [dataset.samples[i] for i in idx], dataset.class_names, dataset.mask_class_names, dataset.name
    )
    train_set, test_set = part(train_idx), part(test_idx)
    print(f"split (seed {args.seed}): train {train_set.count_by_label()}, test {test_set.count_by_label()}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for spec in args.types:
            model_type, method = split_type(spec)
            options = TrainOptions(seed=args.seed, num_threads=args.threads, method=method)
            started = time.perf_counter()
            result = train_model(
                train_set, model_type, Path(tmp) / "model.tar.gz", options=options, progress=args.progress
            )
            seconds = time.perf_counter() - started
            metrics = evaluate_model(load_artifact(result.artifact_path), test_set, progress=False)
            image = metrics["image"]
            pixel = (metrics.get("pixel") or {}).get("pixel_auroc")
            rows.append((spec, image["auroc"], image["f1"], image["accuracy"], pixel, seconds))
            print(
                f"  {spec}: AUROC {_fmt(image['auroc'])}, F1 {_fmt(image['f1'])} ({seconds:.0f} s)",
                flush=True,
            )
    print(f"\n{'model type':<20} {'AUROC':>7} {'F1':>7} {'accuracy':>9} {'pixel AUROC':>12} {'train s':>8}")
    for spec, auroc, f1, accuracy, pixel, seconds in rows:
        print(
            f"{spec:<20} {_fmt(auroc):>7} {_fmt(f1):>7} {_fmt(accuracy):>9} {_fmt(pixel):>12} {seconds:8.0f}"
        )
    print(f"\nheld-out test images: {len(test_set)} (seed {args.seed}, test fraction {args.test_fraction})")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    main()
