"""Training: a dataset version in, a registered model version (metrics, plots) out, with live
per-epoch metrics for the UI's curves. Calls :func:`dda.ml.training.train_model`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from dda.portal.jobs import integration
from dda.portal.jobs.context import JobContext
from dda.portal.jobs.handlers.compilation import Precision, Target, default_precisions, default_targets
from dda.portal.jobs.models import JobCancelled
from dda.portal.schemas.common import Strict

# Options a portal user may set: the CLI's knobs, never local paths (checkpoint_path) or resume.
ALLOWED_OPTIONS = {
    "backbone",
    "pretrained",
    "input_size",
    "epochs",
    "batch_size",
    "learning_rate",
    "backbone_lr_factor",
    "weight_decay",
    "freeze_backbone_epochs",
    "freeze_early_layers",
    "patience",
    "val_fraction",
    "seed",
    "augment",
    "dice_weight",
    "verdict_rule",
    "min_defect_area_pct",
    "method",
    "num_threads",
    "time_budget_s",
    "device",  # auto | cpu | cuda, resolved on the worker that runs the job (dda.ml.device)
    "amp",
}


class ChainOptions(Strict):
    """What the train-and-publish chain builds after training."""

    targets: list[Target] = Field(default_factory=default_targets, min_length=1, max_length=5)
    precisions: list[Precision] = Field(default_factory=default_precisions, min_length=1, max_length=2)


class TrainingParams(Strict):
    pipeline: ChainOptions | None = None
    dataset: integration.DatasetRef
    model_type: Literal["classification", "segmentation", "anomaly"] = "classification"
    model_name: str = Field(default="model", min_length=1, max_length=48, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("options")
    @classmethod
    def _options(cls, value: dict[str, Any]) -> dict[str, Any]:
        from dda.ml.training import TrainOptions

        unknown = sorted(set(value) - ALLOWED_OPTIONS)
        if unknown:
            raise ValueError(f"unknown or not allowed training options: {', '.join(unknown)}")
        TrainOptions(**value)  # the trainer's own checks
        return value


def device(choice: str = "auto") -> str:
    """Where torch runs on this worker: ``auto`` takes CUDA when this worker's torch sees a GPU
    (a worker on the GPU queue), else the CPU; ``cuda`` without a GPU fails the job with a hint."""
    from dda.ml.device import describe_device, resolve_device

    return describe_device(resolve_device(choice))


def run(ctx: JobContext, params: TrainingParams) -> dict[str, Any]:
    from dda.core.signing import file_sha256
    from dda.formats.loader import load_dataset
    from dda.ml.training import TrainOptions, train_model

    ctx.progress(1, "loading dataset")
    manifest = integration.materialize(ctx, params.dataset, ctx.workdir / "data")
    dataset = load_dataset(manifest, progress=False)
    ctx.check_stop()
    options = TrainOptions(**params.options)
    where = device(options.device)
    ctx.log(f"training {params.model_type} on {len(dataset)} images {dataset.count_by_label()} ({where})")
    ctx.progress(5, "training")

    def on_epoch(record: dict[str, Any]) -> None:
        epoch = int(record.get("epoch", 0))
        ctx.metric({k: v for k, v in record.items() if isinstance(v, int | float | str | None)})
        ctx.progress(5 + 85 * min(1.0, epoch / options.epochs), f"epoch {epoch}/{options.epochs}")

    result = train_model(
        dataset,
        params.model_type,
        ctx.workdir / "model.tar.gz",
        options=options,
        progress=False,
        dataset_id=file_sha256(manifest),
        on_epoch_end=on_epoch,
        stop=ctx.stop,
    )
    if result.interrupted:
        raise JobCancelled(ctx.stop.reason or "stopped")
    ctx.progress(92, "registering the model")
    lineage = {
        "job_id": ctx.job_id,
        "dataset": params.dataset.model_dump(exclude_none=True),
        "device": where,
    }
    model = integration.register_model(ctx, result.artifact_path, params.model_name, lineage)
    ctx.log(f"model registered: {model}")
    return {
        "model": model,
        "model_type": params.model_type,
        "dataset": params.dataset.model_dump(exclude_none=True),
        "metrics": _headline(result.metrics),
        "epochs_run": result.epochs_run,
        "stop_reason": result.stop_reason,
        "duration_s": result.duration_s,
        "device": where,
    }


def _headline(metrics: dict[str, Any]) -> dict[str, Any]:
    image = metrics.get("image", {})
    keep = {k: image.get(k) for k in ("accuracy", "precision", "recall", "f1", "auroc") if k in image}
    return {**keep, "threshold": metrics.get("threshold"), "num_images": metrics.get("num_images")}
