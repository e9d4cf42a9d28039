"""Evaluation: a model version on a dataset version -> metrics (confusion matrix inside), ROC and
PR curves, the images the model got most wrong. Calls :mod:`dda.ml.training.evaluate`."""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from pydantic import Field

from dda.portal.jobs import integration
from dda.portal.jobs.context import JobContext
from dda.portal.schemas.common import Strict

CURVE_POINTS = 101


class EvaluationParams(Strict):
    model: integration.ModelRef
    dataset: integration.DatasetRef
    worst: int = Field(default=10, ge=0, le=100)
    device: Literal["auto", "cpu", "cuda"] = "auto"  # resolved on the worker (dda.ml.device)


def _sampled(values: np.ndarray) -> list[float | None]:
    """At most CURVE_POINTS points of a curve, NaN/inf as None (JSON has neither)."""
    picks = np.linspace(0, len(values) - 1, min(len(values), CURVE_POINTS)).round().astype(int)
    return [None if not math.isfinite(float(v)) else round(float(v), 6) for v in values[picks]]


def run(ctx: JobContext, params: EvaluationParams) -> dict[str, Any]:
    from dda.formats.loader import load_dataset
    from dda.ml.artifact import load_artifact
    from dda.ml.data import DefectImageDataset
    from dda.ml.device import describe_device, resolve_device
    from dda.ml.metrics import pr_curve, roc_curve
    from dda.ml.training import evaluate_model
    from dda.ml.training.evaluate import collect_outputs, decide

    where = describe_device(resolve_device(params.device))
    ctx.progress(2, "loading model and dataset")
    trained = load_artifact(integration.fetch_model(ctx, params.model, ctx.workdir / "model"))
    manifest = integration.materialize(ctx, params.dataset, ctx.workdir / "data")
    dataset = load_dataset(manifest, progress=False)
    ctx.check_stop()
    ctx.progress(20, "measuring")
    ctx.log(f"evaluating on {where}")
    metrics = evaluate_model(trained, dataset, progress=False, device=params.device)
    config = trained.config
    data = DefectImageDataset(dataset, config["input_size"], config["mean"], config["std"])
    scores, _ = decide(collect_outputs(trained.module, config["model_type"], data), config)
    truth = np.array([int(s.label != 0) for s in dataset.samples])
    fpr, tpr, _ = roc_curve(truth, scores)
    precision, recall, _ = pr_curve(truth, scores)
    threshold = float(config["threshold"])
    # Worst: defects scored lowest and normal images scored highest, by distance past the threshold.
    wrongness = np.where(truth == 1, threshold - scores, scores - threshold)
    order = np.argsort(-wrongness)[: params.worst]
    worst = [
        {
            "image": dataset.samples[i].source_ref or dataset.samples[i].image_path.name,
            "label": int(truth[i]),
            "score": round(float(scores[i]), 6),
            "correct": bool(wrongness[i] <= 0),
        }
        for i in order
    ]
    ctx.progress(95, "storing results")
    return {
        "model": params.model.model_dump(exclude_none=True),
        "dataset": params.dataset.model_dump(exclude_none=True),
        "metrics": _jsonable(metrics),
        "roc": {"fpr": _sampled(fpr), "tpr": _sampled(tpr)},
        "pr": {"precision": _sampled(precision), "recall": _sampled(recall)},
        "worst_images": worst,
        "device": where,
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if isinstance(value, str | int | float | bool | type(None)) else str(value)
