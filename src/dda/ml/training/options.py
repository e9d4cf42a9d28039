"""Training options with defaults a non-expert never needs to change, and the result of a run.

**Default model type: auto** (:mod:`dda.ml.training.crossfit`, docs/quality.md): k-fold
cross-validation chooses between a logistic head on frozen ImageNet features and PaDiM by their
out-of-fold image AUROC, and sets the threshold from the false-reject budget on the out-of-fold
scores of normal images. Single-split training of a fine-tuned classifier was a coin toss on small
sets (held-out AUROC 0.55-0.92 across three seeded splits of ~70 photos); out-of-fold choice and
calibration use every image once and depend on no epoch count. ``classification`` and
``segmentation`` still fine-tune the network (with a schedule of ``schedule_epochs`` that
``epochs`` only caps); pick ``segmentation`` when the defect's location and size matter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ModelType = Literal["auto", "classification", "segmentation", "anomaly"]
VerdictRuleChoice = Literal["auto", "cls_head", "seg_head", "cls_and_seg", "cls_or_seg"]

DEFAULT_MODEL_TYPE: ModelType = "auto"


class TrainOptions(BaseModel):
    """Every knob of a training run. The defaults are tuned for a few dozen to a few thousand
    photos on a CPU: a pretrained MobileNetV2 at about 224x224 pixels (keeping the photos' aspect
    ratio), its stem and stride-4/8 stages frozen, AdamW with a cosine schedule, a backbone
    learning rate ten times lower than the heads', one warm-up epoch with the whole backbone
    frozen, class-balanced losses, augmentation, and early stopping on validation quality."""

    model_config = ConfigDict(extra="forbid")

    backbone: Literal["mobilenet_v2", "resnet18", "resnet50", "wide_resnet50_2"] = "mobilenet_v2"
    pretrained: bool = True
    input_size: tuple[int, int] | None = Field(
        default=None, description="[height, width]; default: about 224x224 with the images' aspect ratio"
    )
    epochs: int = Field(
        default=15, ge=1, le=1000, description="at most this many; early stopping may end sooner"
    )
    batch_size: int = Field(default=16, ge=1, le=512)
    learning_rate: float = Field(default=1e-3, gt=0, le=1.0)
    backbone_lr_factor: float = Field(default=0.1, ge=0, le=1.0)
    weight_decay: float = Field(default=1e-4, ge=0)
    freeze_backbone_epochs: int = Field(default=1, ge=0)
    freeze_early_layers: bool = Field(default=True, description="keep the stem and stride-4/8 stages frozen")
    patience: int = Field(
        default=5, ge=1, description="epochs without validation improvement before stopping"
    )
    min_epochs: int = Field(default=8, ge=1, description="never stop early before this epoch")
    schedule_epochs: int = Field(
        default=15, ge=1, le=1000, description="length of the cosine LR schedule; --epochs is only a cap"
    )
    val_fraction: float = Field(default=0.3, gt=0, lt=1)
    seed: int = 0
    augment: bool = True
    dice_weight: float = Field(default=1.0, ge=0)
    verdict_rule: VerdictRuleChoice = "auto"
    min_defect_area_pct: float = Field(default=0.1, ge=0, le=100)
    method: Literal["padim", "patchcore", "linear"] | None = Field(
        default=None,
        description="anomaly: padim/patchcore (default dda.ml.models.anomaly.DEFAULT_METHOD); "
        "auto: force one candidate instead of choosing",
    )
    candidates: list[Literal["padim", "patchcore", "linear"]] | None = Field(
        default=None, description="auto: the candidates to choose from (default: all)"
    )
    cv_folds: int = Field(default=5, ge=2, le=20, description="auto/anomaly: cross-validation folds")
    max_false_reject: float = Field(
        default=0.01, gt=0, lt=0.5, description="share of good parts the threshold may reject"
    )
    threshold_rule: Literal["budget", "f1"] = Field(
        default="budget", description="budget: meet max_false_reject; f1: best F1 on held-out scores"
    )
    plots: bool = Field(default=True, description="draw the artifact's plots (the benchmark skips them)")
    num_threads: int | None = Field(default=None, ge=1, le=256)
    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="auto: CUDA when torch sees a GPU, else the CPU (dda.ml.device)"
    )
    amp: bool = Field(default=False, description="mixed precision on CUDA (off: FP32 everywhere)")
    time_budget_s: float | None = Field(default=None, gt=0, description="stop after this many seconds")
    checkpoint_path: Path | None = Field(default=None, description="default: next to the artifact, *.ckpt")
    resume: bool = False


@dataclass
class TrainResult:
    """What a run produced. ``interrupted`` is set when a signal or Ctrl-C ended it early; the
    artifact and checkpoint then hold the best model seen so far."""

    artifact_path: Path
    checkpoint_path: Path | None
    config: dict[str, Any]
    metrics: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    epochs_run: int = 0
    best_epoch: int = 0
    interrupted: bool = False
    stop_reason: str = "completed"
    duration_s: float = 0.0
