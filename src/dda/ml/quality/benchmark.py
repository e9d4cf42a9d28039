"""The honest evaluation harness behind ``dda benchmark``: k-fold cross-validation x seeds.

For each seed the labelled images are dealt into k stratified folds; each fold in turn is held
out, a model is trained on the others with the options under test (its own threshold included)
and then judged on the held-out images it never saw. Per run: image AUROC, and at the model's own
threshold the false-reject rate (good parts rejected) and miss rate (defects passed), plus the
false-reject rate at the threshold that catches 95 % of defects. Figures are reported per run
(mean ± std over folds x seeds) and pooled per seed (every image scored once out-of-fold; mean ±
std over seeds), which is steadier on small sets where a fold holds a dozen images.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from dda.formats.dataset import Dataset
from dda.ml.metrics import auroc
from dda.ml.quality.crossval import stratified_kfold
from dda.ml.quality.thresholds import false_reject_at_catch
from dda.ml.training.options import TrainOptions


@dataclass
class RunResult:
    seed: int
    fold: int
    auroc: float | None
    false_reject: float | None
    miss_rate: float | None
    false_reject_at_95_catch: float | None
    threshold: float
    chosen: str
    train_seconds: float


def _subset(dataset: Dataset, indices: list[int]) -> Dataset:
    return Dataset(
        [dataset.samples[i] for i in indices], dataset.class_names, dataset.mask_class_names, dataset.name
    )


def _rates(defective: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float | None]:
    normal, defect = scores[~defective], scores[defective]
    value = auroc(defective, scores) if normal.size and defect.size else float("nan")
    return {
        "auroc": None if np.isnan(value) else float(value),
        "false_reject": float(np.mean(normal > threshold)) if normal.size else None,
        "miss_rate": float(np.mean(defect <= threshold)) if defect.size else None,
        "false_reject_at_95_catch": false_reject_at_catch(normal, defect, 0.95),
    }


def _stats(values: list[float | None]) -> dict[str, float | None]:
    known = [v for v in values if v is not None]
    if not known:
        return {"mean": None, "std": None, "min": None, "max": None}
    array = np.asarray(known, dtype=np.float64)
    return {
        "mean": float(array.mean()),
        "std": float(array.std(ddof=1)) if array.size > 1 else 0.0,
        "min": float(array.min()),
        "max": float(array.max()),
    }


def run_benchmark(
    dataset: Dataset,
    *,
    model_type: str = "auto",
    folds: int = 5,
    seeds: tuple[int, ...] = (0, 1, 2),
    options: TrainOptions | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Cross-validate ``model_type`` with ``options`` on ``dataset``; see the module docstring."""
    from dda.ml.artifact import load_artifact
    from dda.ml.training import train_model
    from dda.ml.training.evaluate import image_scores

    options = options or TrainOptions()
    labels = [int(s.label != 0) for s in dataset.samples]
    runs: list[RunResult] = []
    pooled: list[dict[str, float | None]] = []
    bar = tqdm(total=folds * len(seeds), desc="benchmark", unit="run", disable=not progress)
    with tempfile.TemporaryDirectory(prefix="dda-benchmark-") as tmp, bar:
        for seed in seeds:
            oof_scores = np.zeros(len(labels))
            oof_rejected = np.zeros(len(labels), dtype=bool)
            for fold, held_out in enumerate(stratified_kfold(labels, folds, seed)):
                train_idx = sorted(set(range(len(labels))) - set(held_out))
                started = time.monotonic()
                result = train_model(
                    _subset(dataset, train_idx), model_type, Path(tmp) / "model.tar.gz",
                    options=options.model_copy(update={"seed": seed, "plots": False}), progress=False,
                )  # fmt: skip
                seconds = time.monotonic() - started
                trained = load_artifact(result.artifact_path)
                defective, scores = image_scores(trained, _subset(dataset, held_out))
                threshold = float(trained.config["threshold"])
                oof_scores[held_out] = scores
                oof_rejected[held_out] = scores > threshold
                chosen = str((trained.config.get("selection") or {}).get("chosen") or trained.model_type)
                runs.append(RunResult(seed, fold, **_rates(defective, scores, threshold),
                                      threshold=threshold, chosen=chosen, train_seconds=seconds))  # fmt: skip
                bar.update(1)
                bar.set_postfix(auroc=f"{runs[-1].auroc or 0:.3f}", chosen=chosen)
            pooled.append(_pooled(np.asarray(labels, dtype=bool), oof_scores, oof_rejected))
    return _summary(dataset, model_type, folds, seeds, options, runs, pooled)


def _pooled(defective: np.ndarray, scores: np.ndarray, rejected: np.ndarray) -> dict[str, float | None]:
    """One seed's figures over all images, each scored by the fold model that did not see it (AUROC
    pools scores of different fold models, which share a normalised scale)."""
    value = auroc(defective, scores)
    normal, defect = scores[~defective], scores[defective]
    return {
        "auroc": None if np.isnan(value) else float(value),
        "false_reject": float(np.mean(rejected[~defective])) if normal.size else None,
        "miss_rate": float(np.mean(~rejected[defective])) if defect.size else None,
        "false_reject_at_95_catch": false_reject_at_catch(normal, defect, 0.95),
    }


def _summary(
    dataset: Dataset,
    model_type: str,
    folds: int,
    seeds: tuple[int, ...],
    options: TrainOptions,
    runs: list[RunResult],
    pooled: list[dict[str, float | None]],
) -> dict[str, Any]:
    keys = ("auroc", "false_reject", "miss_rate", "false_reject_at_95_catch")
    chosen: dict[str, int] = {}
    for run in runs:
        chosen[run.chosen] = chosen.get(run.chosen, 0) + 1
    return {
        "dataset": dataset.name,
        "images": len(dataset),
        "counts": dataset.count_by_label(),
        "model_type": model_type,
        "folds": folds,
        "seeds": list(seeds),
        "options": options.model_dump(mode="json", exclude={"checkpoint_path"}, exclude_defaults=True),
        "per_run": {key: _stats([getattr(r, key) for r in runs]) for key in keys},
        "per_seed_pooled": {key: _stats([p[key] for p in pooled]) for key in keys},
        "train_seconds": _stats([r.train_seconds for r in runs]),
        "chosen": chosen,
        "runs": [asdict(r) for r in runs],
    }


def format_summary(summary: dict[str, Any]) -> list[str]:
    """Readable lines of a :func:`run_benchmark` summary."""

    def fmt(stats: dict[str, float | None], percent: bool) -> str:
        if stats["mean"] is None:
            return "-"
        scale, unit = (100.0, " %") if percent else (1.0, "")
        return f"{stats['mean'] * scale:.3g} ± {(stats['std'] or 0) * scale:.2g}{unit}"

    lines = [
        f"{summary['dataset']}: {summary['images']} images {summary['counts']}, {summary['model_type']}, "
        f"{summary['folds']}-fold x {len(summary['seeds'])} seeds",
        f"{'':28} {'per run (fold x seed)':>24} {'per seed, pooled':>20}",
    ]
    for key, label, percent in (
        ("auroc", "image AUROC", False),
        ("false_reject", "false reject @ threshold", True),
        ("miss_rate", "miss rate @ threshold", True),
        ("false_reject_at_95_catch", "false reject @ 95 % catch", True),
    ):
        lines.append(
            f"{label:28} {fmt(summary['per_run'][key], percent):>24} "
            f"{fmt(summary['per_seed_pooled'][key], percent):>20}"
        )
    seconds = summary["train_seconds"]
    lines.append(f"training time per run: {seconds['mean']:.1f} s (max {seconds['max']:.1f} s)")
    lines.append(f"chosen: {summary['chosen']}")
    return lines
