"""Training time on the cookie set for each model type, with the default options.

    .venv/bin/python bench/bench_training.py [--types classification anomaly:patchcore] [--threads 2]

Prints wall time per model type and its ratio to the 3-minute target for the default model type.
The figures depend on what else the machine is doing: run it on an otherwise idle box.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET_S = 180.0
REPO = Path(__file__).resolve().parents[1]
COOKIES = REPO.parent / "shared" / "datasets" / "cookies"
MANIFEST = COOKIES / "dataset-files" / "manifests" / "train_segmentation.manifest"
COOKIE_MAP = f"s3://dda-cookie-dataset-571264418424/cookies/={COOKIES}/"
MODEL_TYPES = ["classification", "segmentation", "anomaly:patchcore", "anomaly:padim"]


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--manifest", type=Path, default=MANIFEST, help="labelled manifest (default: cookies)"
    )
    parser.add_argument("--map", action="append", default=None, help="PREFIX=LOCATION (default: cookie map)")
    parser.add_argument(
        "--types", nargs="+", default=MODEL_TYPES, help="model types; anomaly:<method> picks the method"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    parser.add_argument("--seed", type=int, default=0)


def load(args: argparse.Namespace) -> Any:
    from dda.formats.loader import load_dataset
    from dda.formats.uris import parse_mappings

    if not args.manifest.is_file():
        raise SystemExit(f"manifest {args.manifest} not found (the cookie set lives in ../shared/datasets)")
    return load_dataset(args.manifest, mappings=parse_mappings(args.map or [COOKIE_MAP]), progress=False)


def split_type(spec: str) -> tuple[str, str | None]:
    model_type, _, method = spec.partition(":")
    return model_type, method or None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_common_arguments(parser)
    parser.add_argument("--progress", action="store_true", help="show progress bars")
    args = parser.parse_args()
    from dda.core.logging import configure_logging

    configure_logging("WARNING")  # keep the figures readable: no per-epoch log lines

    from dda.ml.data import IMAGE_CACHE
    from dda.ml.training import DEFAULT_MODEL_TYPE, TrainOptions, train_model

    dataset = load(args)
    print(f"dataset: {len(dataset)} images {dataset.count_by_label()}, cores: {os.cpu_count()}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for spec in args.types:
            model_type, method = split_type(spec)
            IMAGE_CACHE.clear()  # every run pays for decoding, as a fresh process would
            options = TrainOptions(seed=args.seed, num_threads=args.threads, method=method)
            started = time.perf_counter()
            result = train_model(
                dataset, model_type, Path(tmp) / f"{spec}.tar.gz", options=options, progress=args.progress
            )
            seconds = time.perf_counter() - started
            image = result.metrics["image"]
            rows.append(
                (spec, seconds, result.epochs_run, image.get("f1"), image.get("auroc"), result.stop_reason)
            )
            print(f"  {spec}: {seconds:.1f} s", flush=True)
    header = f"{'model type':<20} {'time s':>8} {'x target':>9} {'epochs':>7} {'val F1':>7} {'val AUROC':>10}"
    print(f"\n{header}  stop")
    for spec, seconds, epochs, f1, auroc, reason in rows:
        marker = " (default)" if spec == DEFAULT_MODEL_TYPE else ""
        print(
            f"{spec + marker:<20} {seconds:8.1f} {seconds / TARGET_S:9.2f} {epochs:7d} "
            f"{_fmt(f1):>7} {_fmt(auroc):>10}  {reason}"
        )
    print(f"\ntarget: default model type within {TARGET_S:.0f} s (ratio <= 1.00)")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    main()
