"""``--type auto`` (the default) and ``--type anomaly``: choose and calibrate by cross-validation.

Small data sets make single validation splits a coin toss: a 14-image validation set can stop
training at epoch 6 or set a threshold that rejects a third of the good parts. Here every image
is scored once by a model that did not learn from it (stratified k-fold, seeded), and those
out-of-fold scores do both jobs:

1. **choose the model**: each candidate (:mod:`dda.ml.quality.candidates`: a logistic head on
   frozen features and PaDiM by default, PatchCore on request; ``--type anomaly`` only its
   method) gets an out-of-fold image AUROC; the best wins, and candidates within ``AUROC_TIE``
   of it are ranked by how few defects they would miss at the false-reject budget, then by the
   order above.
2. **set the threshold** from the out-of-fold scores of the normal images and the false-reject
   budget (:mod:`dda.ml.quality.thresholds`); the report, with the expected miss rate and its
   uncertainty, goes into the artifact (``config.json`` ``threshold_report`` and ``metrics.json``).

The chosen candidate is then fitted on every image. Nothing depends on an epoch count.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from dda.core.errors import InvalidInput
from dda.formats.dataset import Dataset
from dda.ml.data import DefectImageDataset, default_input_size, normalize
from dda.ml.device import resolve_device
from dda.ml.metrics import auroc
from dda.ml.quality.candidates import (
    ANOMALY_CANDIDATES,
    DEFAULT_CANDIDATES,
    FeatureExtractor,
    FittedCandidate,
    fit_anomaly,
    fit_logistic,
    linear_module,
    linear_scores,
)
from dda.ml.quality.crossval import stratified_kfold
from dda.ml.quality.thresholds import calibrate_from_scores
from dda.ml.training.evaluate import Outputs, calibrate_pixel_threshold, compute_metrics
from dda.ml.training.options import TrainOptions

AUROC_TIE = 0.005
MIN_DEFECTS_FOR_LINEAR = 4


@dataclass
class CandidateResult:
    name: str
    scores: np.ndarray
    maps: np.ndarray | None
    seconds: float
    auroc: float | None = None
    report: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "oof_auroc": self.auroc,
            "threshold": self.report.get("threshold"),
            "oof_false_reject": self.report.get("false_reject"),
            "oof_miss_rate": self.report.get("miss_rate"),
            "seconds": round(self.seconds, 2),
        }


def candidate_names(model_type: str, options: TrainOptions, defects: int) -> list[str]:
    if options.method:
        if model_type == "anomaly" and options.method not in ANOMALY_CANDIDATES:
            raise InvalidInput(
                f"--method {options.method} is not an anomaly method", hint="padim or patchcore"
            )
        return [options.method]
    if model_type == "anomaly":
        from dda.ml.models.anomaly import DEFAULT_METHOD

        return [DEFAULT_METHOD]
    names = list(options.candidates or DEFAULT_CANDIDATES)
    if defects < MIN_DEFECTS_FOR_LINEAR:
        names = [n for n in names if n != "linear"] or ["padim"]
    return names


def _folds(labels: np.ndarray, options: TrainOptions) -> list[list[int]]:
    normals = int(np.sum(labels == 0))
    k = min(options.cv_folds, normals)
    if k < 2 or normals < 4:
        raise InvalidInput(
            f"cross-validation needs at least 4 normal images, the dataset has {normals}",
            hint="label more normal images (a few dozen give a dependable threshold)",
        )
    return stratified_kfold(labels.tolist(), k, options.seed)


def _mtime(path: Any) -> int:
    try:
        return Path(path).stat().st_mtime_ns
    except OSError:
        return 0


class CrossFit:
    """Out-of-fold scores of each candidate on one in-memory image set. The frozen backbone runs
    once per image; every candidate and fold works from its cached stage maps."""

    def __init__(self, data: DefectImageDataset, options: TrainOptions, progress: bool) -> None:
        self.options = options
        self.labels = (data.labels.numpy() != 0).astype(np.int64)
        self.size = (int(data.input_size[0]), int(data.input_size[1]))
        self.folds = _folds(self.labels, options)
        self.extractor = FeatureExtractor(
            options.backbone, options.pretrained, options.seed, device=resolve_device(options.device)
        )
        keys = [f"{s.image_path}|{_mtime(s.image_path)}" for s in data.samples]
        self.stages = self.extractor.stages(normalize(data.images, data.mean, data.std), keys)
        self.features = FeatureExtractor.pooled(self.stages)

    def _fit(self, name: str, train: list[int], quick: bool = True) -> FittedCandidate:
        if name == "linear":
            weight, bias = fit_logistic(self.features[train], torch.as_tensor(self.labels[train]))
            return linear_module(self.extractor, weight, bias)
        normals = [i for i in train if self.labels[i] == 0]
        stages = [s[normals] for s in self.stages]
        opts = self.options
        return fit_anomaly(name, stages, self.size, opts.backbone, opts.seed, opts.pretrained, quick)

    def run(self, name: str, bar: Any) -> CandidateResult:
        started = time.monotonic()
        scores = np.zeros(len(self.labels))
        maps: np.ndarray | None = None
        for held_out in self.folds:
            train = sorted(set(range(len(self.labels))) - set(held_out))
            fitted = self._fit(name, train)
            if name == "linear":
                linear = fitted.module.head[1]  # type: ignore[index]
                assert isinstance(linear, torch.nn.Linear)
                weight, bias = linear.weight[1].detach(), linear.bias[1].detach()
                scores[held_out] = linear_scores(self.features[held_out], weight, bias).numpy()
            else:
                with torch.inference_mode():
                    fold_scores, fold_maps = fitted.module.score_features(  # type: ignore[operator]
                        [s[held_out] for s in self.stages]
                    )
                scores[held_out] = fold_scores.numpy()
                if maps is None:
                    maps = np.zeros((len(self.labels), *fold_maps.shape[1:]), dtype=np.float32)
                maps[held_out] = fold_maps.numpy()
            bar.update(1)
        result = CandidateResult(name, scores, maps, time.monotonic() - started)
        has_both = 0 < int(self.labels.sum()) < len(self.labels)
        result.auroc = float(auroc(self.labels, scores)) if has_both else None
        result.report = calibrate_from_scores(
            scores[self.labels == 0], scores[self.labels != 0],
            rule=self.options.threshold_rule, max_false_reject=self.options.max_false_reject,
            source=f"out-of-fold ({len(self.folds)}-fold cross-validation)",
        )  # fmt: skip
        return result

    def fit_final(self, name: str) -> FittedCandidate:
        return self._fit(name, list(range(len(self.labels))), quick=False)


def choose(results: list[CandidateResult]) -> tuple[CandidateResult, str]:
    """The candidate to deploy and a sentence saying why."""
    if len(results) == 1:
        return results[0], f"{results[0].name} was the only candidate"
    rated = [r for r in results if r.auroc is not None]
    if not rated:
        return results[0], f"{results[0].name}: no defect images to compare candidates on"
    best_auroc = max(r.auroc or 0.0 for r in rated)
    close = [r for r in rated if (r.auroc or 0.0) >= best_auroc - AUROC_TIE]
    chosen = min(close, key=lambda r: (r.report.get("miss_rate") or 0.0, results.index(r)))
    others = ", ".join(f"{r.name} {r.auroc:.3f}" for r in rated if r is not chosen)
    reason = (
        f"{chosen.name}: highest out-of-fold image AUROC {chosen.auroc:.3f} (others: {others})"
        if chosen.auroc == best_auroc
        else f"{chosen.name}: AUROC {chosen.auroc:.3f} within {AUROC_TIE} of the best and fewest "
        f"missed defects at the false-reject budget (others: {others})"
    )
    return chosen, reason


def cross_validated_fit(
    dataset: Dataset, model_type: str, options: TrainOptions, progress: bool
) -> tuple[FittedCandidate, dict[str, Any], Outputs, DefectImageDataset]:
    """Choose, calibrate and fit: (final model, what the artifact config gets, OOF outputs, images)."""
    from dda.ml.backbones import IMAGENET_MEAN, IMAGENET_STD

    input_size = options.input_size or default_input_size(dataset)
    data = DefectImageDataset(
        dataset, input_size, IMAGENET_MEAN, IMAGENET_STD, with_masks=dataset.has_masks, progress=progress
    )
    crossfit = CrossFit(data, options, progress)
    names = candidate_names(model_type, options, int(crossfit.labels.sum()))
    total = len(names) * len(crossfit.folds) + 1
    with tqdm(total=total, desc="cross-validating", unit="fit", disable=not progress, leave=False) as bar:
        results = [crossfit.run(name, bar) for name in names]
        chosen, reason = choose(results)
        final = crossfit.fit_final(chosen.name)
        bar.update(1)
    report = chosen.report
    extra: dict[str, Any] = dict(final.config)
    extra.update(
        threshold=report["threshold"],
        threshold_how=report["how"],
        threshold_report=report,
        selection={
            "chosen": chosen.name,
            "reason": reason,
            "folds": len(crossfit.folds),
            "candidates": {r.name: r.summary() for r in results},
        },
        split={"seed": options.seed, "cv_folds": len(crossfit.folds), "train": len(data), "val": len(data)},
    )
    probs = chosen.scores[:, None] if chosen.maps is not None else np.c_[1 - chosen.scores, chosen.scores]
    maps = chosen.maps if chosen.maps is not None else np.zeros((len(data), *data.input_size), np.float32)
    outputs = Outputs(probs.astype(np.float32), maps, None)
    if chosen.maps is not None:
        masks = data.masks.numpy() if data.masks is not None else None
        extra["pixel_threshold"], extra["pixel_threshold_how"] = calibrate_pixel_threshold(
            chosen.maps, masks, report["threshold"]
        )
    return final, extra, outputs, data


def oof_metrics(outputs: Outputs, data: DefectImageDataset, config: dict[str, Any]) -> dict[str, Any]:
    metrics = compute_metrics(outputs, data, config)
    metrics.update(
        split=f"cross-validation (out-of-fold scores, {config['split']['cv_folds']} folds)",
        threshold_how=config["threshold_how"],
        threshold_report=config["threshold_report"],
        selection=config["selection"],
        epochs_run=0,
        best_epoch=0,
        stop_reason="completed",
    )
    return metrics
