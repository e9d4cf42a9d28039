"""``train_model``: dataset in, ``model.tar.gz`` (and a checkpoint) out, for every model type."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from torch import nn

import dda
from dda.core.errors import InvalidInput
from dda.core.logging import get_logger
from dda.formats.dataset import Dataset
from dda.ml.artifact import save_artifact
from dda.ml.backbones import IMAGENET_MEAN, IMAGENET_STD
from dda.ml.data import DefectImageDataset, default_input_size, stratified_split
from dda.ml.device import check_amp, describe_device, resolve_device
from dda.ml.training.checkpoint import default_checkpoint_path, save_checkpoint
from dda.ml.training.evaluate import calibrate, collect_outputs, compute_metrics
from dda.ml.training.options import TrainOptions, TrainResult
from dda.ml.training.report import make_plots
from dda.ml.training.signals import GracefulStop
from dda.ml.training.supervised import BatchCallback, EpochCallback, SupervisedRun

log = get_logger(__name__)
MODEL_TYPES = ("auto", "classification", "segmentation", "anomaly")
CROSS_VALIDATED = ("auto", "anomaly")


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Use ``count`` intra-op threads (default: every core) and restore the previous setting."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count or max(1, os.cpu_count() or 1))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def dataset_fingerprint(dataset: Dataset) -> str:
    """sha256 over the dataset's listing (image reference, label, mask), when no manifest hash is given."""
    digest = hashlib.sha256()
    for sample in dataset.samples:
        line = f"{sample.source_ref or sample.image_path}\t{sample.label}\t{sample.mask_path or ''}\n"
        digest.update(line.encode("utf-8"))
    return digest.hexdigest()


def _binary(dataset: Dataset) -> Dataset:
    samples = [replace(s, label=int(s.label != 0)) for s in dataset.samples]
    return Dataset(samples, ["normal", "anomaly"], list(dataset.mask_class_names), dataset.name)


def _check_dataset(dataset: Dataset, model_type: str) -> None:
    if model_type not in MODEL_TYPES:
        raise InvalidInput(
            f"unknown model type {model_type!r}", hint=f"choose one of {', '.join(MODEL_TYPES)}"
        )
    if len(dataset) < 4:
        raise InvalidInput(
            f"the dataset has {len(dataset)} images; training needs at least 4",
            hint="label more images (a few dozen per class give a usable model)",
        )
    bad = [
        s.line_number or i
        for i, s in enumerate(dataset.samples)
        if not 0 <= s.label < len(dataset.class_names)
    ]
    if bad:
        raise InvalidInput(
            f"labels outside the class list at lines {bad[:5]}", hint="run `dda data validate`"
        )
    counts = {name: n for name, n in dataset.count_by_label().items() if n}
    if model_type in CROSS_VALIDATED:
        normals = dataset.count_by_label().get(dataset.class_names[0], 0)
        if normals < 3:
            raise InvalidInput(
                f"anomaly detection learns from normal images, and the dataset has {normals}",
                hint="add at least 10 images labelled normal",
            )
        return
    if len(counts) < 2 or min(counts.values()) < 2:
        raise InvalidInput(
            f"{model_type} needs at least two classes with two images each; the dataset has {counts}",
            hint="label more images, or train --type anomaly on normal images only",
        )
    if model_type == "segmentation" and (not dataset.has_masks or len(dataset.mask_class_names) < 2):
        raise InvalidInput(
            "segmentation needs defect masks, and this dataset has none",
            hint="use a segmentation manifest, or train --type classification or anomaly",
        )


def _base_config(
    dataset: Dataset, model_type: str, options: TrainOptions, input_size: tuple[int, int], dataset_id: str
) -> dict[str, Any]:
    return {
        "model_type": model_type,
        "backbone": options.backbone,
        "input_size": [int(input_size[0]), int(input_size[1])],
        "class_names": list(dataset.class_names),
        "mask_class_names": list(dataset.mask_class_names) if model_type == "segmentation" else None,
        "threshold": 0.5,
        "threshold_how": "default (not calibrated yet)",
        "verdict_rule": "cls_or_seg" if model_type == "segmentation" else "cls_head",
        "pixel_threshold": None,
        "min_defect_area_pct": options.min_defect_area_pct,
        "mean": list(IMAGENET_MEAN),
        "std": list(IMAGENET_STD),
        "dataset_id": dataset_id,
        "dataset_name": dataset.name,
        "training_id": str(uuid.uuid4()),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "method": None,
        "pretrained": options.pretrained,
        "device": describe_device(resolve_device(options.device)),  # where it was trained
        "dda_version": dda.__version__,
        "options": options.model_dump(mode="json", exclude={"checkpoint_path"}),
    }


def _prepare(
    dataset: Dataset, model_type: str, options: TrainOptions, dataset_id: str | None, progress: bool
) -> tuple[dict[str, Any], DefectImageDataset, DefectImageDataset]:
    """The run's base config and its training and validation images, loaded into memory."""
    input_size = options.input_size or default_input_size(dataset)
    config = _base_config(
        dataset, model_type, options, input_size, dataset_id or dataset_fingerprint(dataset)
    )
    labels = [s.label for s in dataset.samples]
    train_idx, val_idx = stratified_split(labels, options.val_fraction, options.seed)
    if model_type == "anomaly":
        # The model learns from normal images only, so defect images are of no use in training;
        # all of them go to validation, where they calibrate the threshold far better than a fifth.
        val_idx = sorted(val_idx + [i for i in train_idx if labels[i] != 0])
        train_idx = [i for i in train_idx if labels[i] == 0]
    config["split"] = {
        "seed": options.seed,
        "val_fraction": options.val_fraction,
        "train": len(train_idx),
        "val": len(val_idx),
    }
    with_masks = model_type != "classification" and dataset.has_masks
    mean, std = config["mean"], config["std"]
    train_data, val_data = (
        DefectImageDataset(dataset, input_size, mean, std, idx, with_masks=with_masks, progress=progress)
        for idx in (train_idx, val_idx)
    )
    return config, train_data, val_data


def _budget_threshold(outputs: Any, labels: Any, config: dict[str, Any], options: TrainOptions) -> None:
    """Replace the F1 threshold by one from the false-reject budget on the validation normals."""
    from dda.ml.predict import image_anomaly_scores
    from dda.ml.quality.thresholds import calibrate_from_scores

    defective = labels != 0
    if options.threshold_rule != "budget" or int((~defective).sum()) < 2:
        return
    scores = image_anomaly_scores(outputs.probs, outputs.anomaly_map, config)
    report = calibrate_from_scores(
        scores[~defective], scores[defective], max_false_reject=options.max_false_reject,
        source="held-out validation",
    )  # fmt: skip
    config.update(threshold=report["threshold"], threshold_how=report["how"], threshold_report=report)
    if config["model_type"] == "segmentation":
        config["pixel_threshold"] = report["threshold"]


def _finish(
    module: nn.Module,
    run: SupervisedRun | None,
    config: dict[str, Any],
    val_data: DefectImageDataset,
    options: TrainOptions,
    stop: GracefulStop,
    progress: bool,
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Calibrate on validation, then the metrics and plots the artifact stores."""
    loss_fn = run.loss_fn if run else None
    outputs = collect_outputs(
        module, config["model_type"], val_data, options.batch_size, loss_fn, progress=progress
    )
    masks = val_data.masks.numpy() if val_data.masks is not None else None
    comparison = calibrate(outputs, val_data.labels.numpy(), config, options.verdict_rule, masks)
    _budget_threshold(outputs, val_data.labels.numpy(), config, options)
    metrics = compute_metrics(outputs, val_data, config)
    history = run.state.history if run else []
    metrics.update(
        split="validation",
        threshold_how=config["threshold_how"],
        threshold_report=config.get("threshold_report"),
        epochs_run=len(history),
        best_epoch=run.state.best_epoch if run else 0,
        stop_reason=run.state.stop_reason if run else ("interrupted" if stop.requested else "completed"),
    )
    if comparison:
        metrics["verdict_rule"] = config["verdict_rule"]
        metrics["verdict_rules"] = comparison
    config["completed"] = not stop.requested
    return metrics, make_plots(history, outputs, val_data, config, metrics)


def _train_cross_validated(
    dataset: Dataset,
    model_type: str,
    out_path: Path,
    options: TrainOptions,
    progress: bool,
    dataset_id: str | None,
) -> TrainResult:
    """``auto`` and ``anomaly``: chosen and calibrated by k-fold cross-validation (:mod:`.crossfit`)."""
    from dda.ml.training.crossfit import cross_validated_fit, oof_metrics

    started = time.monotonic()
    checkpoint_path = options.checkpoint_path or default_checkpoint_path(out_path)
    with torch_threads(options.num_threads):
        final, extra, outputs, data = cross_validated_fit(dataset, model_type, options, progress)
        input_size = (int(data.input_size[0]), int(data.input_size[1]))
        config = _base_config(
            dataset, str(extra["model_type"]), options, input_size, dataset_id or dataset_fingerprint(dataset)
        )
        config.update(extra)
        config["requested_type"] = model_type
        config["completed"] = True
        metrics = oof_metrics(outputs, data, config)
        plots = make_plots([], outputs, data, config, metrics) if options.plots else {}
        metrics["duration_s"] = round(time.monotonic() - started, 2)
        save_artifact(out_path, final.module, config, metrics, plots)
        save_checkpoint(
            checkpoint_path,
            {
                "model_state": final.module.state_dict(),
                "config": config,
                "metrics": metrics,
                "completed": True,
            },
        )
    return TrainResult(
        artifact_path=out_path,
        checkpoint_path=checkpoint_path,
        config=config,
        metrics=metrics,
        duration_s=metrics["duration_s"],
    )


def train_model(
    dataset: Dataset,
    model_type: str,
    out_path: Path | str,
    *,
    options: TrainOptions | None = None,
    progress: bool = True,
    dataset_id: str | None = None,
    on_epoch_end: EpochCallback | None = None,
    on_batch_end: BatchCallback | None = None,
    stop: GracefulStop | None = None,
) -> TrainResult:
    """Train a model of ``model_type`` on ``dataset`` and write its artifact to ``out_path``.

    The dataset is split (seeded, stratified) into training and validation images; validation
    drives early stopping, calibrates the threshold (and, for segmentation, picks the verdict
    rule) and yields the metrics and plots stored in the artifact. Anomaly models learn from the
    normal training images only. Ctrl-C or SIGTERM ends training early: the best model so far is
    still calibrated and saved, and ``TrainResult.interrupted`` is set. The checkpoint (default
    ``<out>.ckpt``) is written after every epoch and loads like an artifact.

    A caller running this in a worker thread (where no signal handler can be installed) passes
    its own ``stop`` and calls ``stop.request("cancelled")`` to end the run the same graceful way.
    """
    options = options or TrainOptions()
    out_path = Path(out_path)
    _check_dataset(dataset, model_type)
    check_amp(options.amp, resolve_device(options.device))  # a bad device fails before any work
    if model_type in CROSS_VALIDATED:
        dataset = _binary(dataset)
        return _train_cross_validated(dataset, model_type, out_path, options, progress, dataset_id)
    checkpoint_path = options.checkpoint_path or default_checkpoint_path(out_path)
    started = time.monotonic()
    stop = stop or GracefulStop(announce=progress)
    with torch_threads(options.num_threads), stop:
        config, train_data, val_data = _prepare(dataset, model_type, options, dataset_id, progress)
        run = SupervisedRun(
            model_type, config, options, train_data, val_data, checkpoint_path, stop, progress,
            on_epoch_end, on_batch_end,
        )  # fmt: skip
        module = run.fit()
        metrics, plots = _finish(module, run, config, val_data, options, stop, progress)
        metrics["duration_s"] = round(time.monotonic() - started, 2)
        save_artifact(out_path, module, config, metrics, plots)
        payload = run.checkpoint_payload(completed=True) if run else {"model_state": module.state_dict()}
        # An interrupted run stays resumable (completed=False), with the calibrated config saved.
        completed = not stop.requested
        save_checkpoint(
            checkpoint_path, {**payload, "config": config, "metrics": metrics, "completed": completed}
        )
    log.debug("training finished", model_type=model_type, artifact=str(out_path), stop=metrics["stop_reason"])
    history = run.state.history if run else []
    return TrainResult(
        artifact_path=out_path,
        checkpoint_path=checkpoint_path,
        config=config,
        metrics=metrics,
        history=history,
        epochs_run=len(history),
        best_epoch=metrics["best_epoch"],
        interrupted=stop.requested,
        stop_reason=metrics["stop_reason"],
        duration_s=metrics["duration_s"],
    )
