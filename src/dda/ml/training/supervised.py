"""The epoch loop for classification and segmentation.

Fine-tuning recipe for small datasets on a CPU: the pretrained backbone keeps its ImageNet
BatchNorm statistics (batches of a few images would only add noise to them), learns at a tenth of
the heads' rate, and is frozen for the first epoch so that the freshly initialised heads do not
send large gradients into it. BatchNorm layers that do train (the segmentation decoder's) get
exact statistics over the training images after every epoch (:mod:`dda.ml.training.batchnorm`),
so validation judges the model the station will run. AdamW with a per-step cosine schedule (short
linear warm-up), and early stopping on validation quality: F1 at the default threshold, then AUROC, then loss.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from dda.core.logging import get_logger
from dda.ml.augment import AugmentConfig
from dda.ml.backbones import MobileNetV2, ResNet18
from dda.ml.data import DefectImageDataset
from dda.ml.device import check_amp, resolve_device
from dda.ml.models import build_classification_model, build_segmentation_model
from dda.ml.training.batchnorm import RECALIBRATION_IMAGES, recalibrate_batchnorm, training_batchnorms
from dda.ml.training.checkpoint import read_checkpoint, save_checkpoint
from dda.ml.training.evaluate import DEFAULT_THRESHOLD, collect_outputs
from dda.ml.training.losses import SupervisedLoss, balanced_class_weights, pixel_class_weights
from dda.ml.training.options import TrainOptions
from dda.ml.training.signals import GracefulStop

log = get_logger(__name__)
LOSS_MIN_DELTA = 0.005

EpochCallback = Callable[[dict[str, Any]], None]
BatchCallback = Callable[[int, int, float], None]  # (epoch, batch index, loss)


@dataclass
class FitState:
    """Where a supervised run stands; also what a checkpoint stores."""

    history: list[dict[str, Any]] = field(default_factory=list)
    best_state: dict[str, Tensor] | None = None
    best_key: tuple[float, float, float] = (-math.inf, -math.inf, -math.inf)
    best_epoch: int = 0
    epoch: int = 0
    stop_reason: str = "completed"


def build_model(model_type: str, config: dict[str, Any], options: TrainOptions) -> nn.Module:
    if model_type == "classification":
        return build_classification_model(options.backbone, len(config["class_names"]), options.pretrained)
    return build_segmentation_model(
        options.backbone, len(config["class_names"]), len(config["mask_class_names"]), options.pretrained
    )


def _has_imagenet_statistics(backbone: nn.Module) -> bool:
    for module in backbone.modules():
        if isinstance(module, nn.BatchNorm2d) and module.running_mean is not None:
            return bool(module.running_mean.abs().sum() > 0)
    return False


def is_improvement(new: tuple[float, float, float], best: tuple[float, float, float]) -> bool:
    """Better F1, else better AUROC, else a validation loss lower by a margin that matters
    (``LOSS_MIN_DELTA`` or 2 %): once F1 and AUROC are perfect, shaving 1e-4 off the loss is noise
    and should not keep training going."""
    if new[:2] != best[:2]:
        return new[:2] > best[:2]
    best_loss, new_loss = -best[2], -new[2]
    return new_loss < best_loss - max(LOSS_MIN_DELTA, 0.02 * best_loss)


def early_layers(backbone: nn.Module) -> list[nn.Module]:
    """The stem and the stride-4/8 stages: generic edge and texture filters, kept frozen. Besides
    regularising a small dataset, it spares the costliest (highest-resolution) backward passes."""
    if isinstance(backbone, MobileNetV2):
        return [backbone.features[i] for i in range(MobileNetV2._STAGE_ENDS[1] + 1)]
    if isinstance(backbone, ResNet18):
        return [backbone.conv1, backbone.bn1, backbone.layer1, backbone.layer2]
    return []


def _set_train_mode(model: nn.Module, freeze_bn: bool) -> None:
    model.train()
    if freeze_bn:
        for module in backbone_of(model).modules():
            if isinstance(module, nn.BatchNorm2d):
                module.eval()


def backbone_of(model: nn.Module) -> nn.Module:
    backbone = model.get_submodule("backbone")
    return backbone


def _optimizer(model: nn.Module, options: TrainOptions) -> torch.optim.Optimizer:
    backbone = list(backbone_of(model).parameters())
    backbone_ids = {id(p) for p in backbone}
    heads = [p for p in model.parameters() if id(p) not in backbone_ids]
    groups = [
        {"params": backbone, "lr": options.learning_rate * options.backbone_lr_factor},
        {"params": heads, "lr": options.learning_rate},
    ]
    return torch.optim.AdamW(groups, weight_decay=options.weight_decay)


def _schedule(total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.02 + 0.98 * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))

    return factor


def _quality(
    outputs_probs: np.ndarray, scores: np.ndarray, labels: np.ndarray
) -> tuple[float | None, float | None]:
    from dda.ml.metrics import auroc

    defective = labels != 0
    predicted = scores > DEFAULT_THRESHOLD
    tp = int(np.sum(predicted & defective))
    denominator = 2 * tp + int(np.sum(predicted != defective))
    f1 = None if denominator == 0 else 2 * tp / denominator
    value = auroc(defective, scores)
    return f1, None if math.isnan(value) else float(value)


@dataclass
class SupervisedRun:
    """One classification/segmentation training run (see :func:`dda.ml.training.train_model`)."""

    model_type: str
    config: dict[str, Any]
    options: TrainOptions
    train_data: DefectImageDataset
    val_data: DefectImageDataset
    checkpoint_path: Path
    stop: GracefulStop
    progress: bool = True
    on_epoch_end: EpochCallback | None = None
    on_batch_end: BatchCallback | None = None

    def __post_init__(self) -> None:
        torch.manual_seed(self.options.seed)
        # channels_last runs convolutions (depthwise ones above all) markedly faster on CPU.
        self.model: nn.Module = build_model(self.model_type, self.config, self.options)
        self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.device = resolve_device(self.options.device)
        check_amp(self.options.amp, self.device)
        self.model.to(self.device)
        self.freeze_bn = _has_imagenet_statistics(backbone_of(self.model))
        num_classes = len(self.config["class_names"])
        pixel_weights = None
        if self.model_type == "segmentation" and self.train_data.masks is not None:
            pixel_weights = pixel_class_weights(self.train_data.masks, len(self.config["mask_class_names"]))
        self.loss_fn = SupervisedLoss(
            self.model_type,
            balanced_class_weights(self.train_data.labels, num_classes).to(self.device),
            pixel_weights.to(self.device) if pixel_weights is not None else None,
            self.options.dice_weight,
        )
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.options.amp)
        self.optimizer = _optimizer(self.model, self.options)
        steps_per_epoch = math.ceil(len(self.train_data) / self.options.batch_size)
        # The schedule spans ``schedule_epochs`` whatever the cap: --epochs only cuts it short (a longer
        # cap then trains on at the floor learning rate instead of stretching the whole schedule).
        total = steps_per_epoch * self.options.schedule_epochs
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, _schedule(total, min(steps_per_epoch, max(1, total // 10)))
        )
        self.generator = torch.Generator().manual_seed(self.options.seed)
        self.augment = AugmentConfig() if self.options.augment else None
        self.state = FitState()
        self.last_state: dict[str, Tensor] | None = None
        self.started = time.monotonic()

    # ----------------------------------------------------------------------------- checkpoints

    def checkpoint_payload(self, completed: bool) -> dict[str, Any]:
        return {
            "config": self.config,
            "model_state": self.state.best_state or self.model.state_dict(),
            "last_state": self.last_state or self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "generator": self.generator.get_state(),
            "epoch": self.state.epoch,
            "best_epoch": self.state.best_epoch,
            "best_key": list(self.state.best_key),
            "history": self.state.history,
            "completed": completed,
        }

    def resume_from_checkpoint(self) -> bool:
        if not self.checkpoint_path.is_file():
            return False
        payload = read_checkpoint(self.checkpoint_path)
        if payload["config"].get("model_type") != self.model_type or payload.get("completed"):
            return False
        self.model.load_state_dict(payload["last_state"])
        self.optimizer.load_state_dict(payload["optimizer"])
        self.scheduler.load_state_dict(payload["scheduler"])
        self.generator.set_state(payload["generator"])
        self.state.best_state = copy.deepcopy(payload["model_state"])
        self.state.epoch = int(payload["epoch"])
        self.state.best_epoch = int(payload["best_epoch"])
        self.state.best_key = tuple(float(v) for v in payload["best_key"])  # type: ignore[assignment]
        self.state.history = list(payload["history"])
        log.info("resuming training", checkpoint=str(self.checkpoint_path), after_epoch=self.state.epoch)
        return True

    # ---------------------------------------------------------------------------------- epochs

    def _train_epoch(self, epoch: int) -> float:
        freeze_backbone = epoch <= self.options.freeze_backbone_epochs
        backbone_of(self.model).requires_grad_(not freeze_backbone)
        if self.options.freeze_early_layers and self.options.pretrained:
            for layer in early_layers(backbone_of(self.model)):
                layer.requires_grad_(False)
        _set_train_mode(self.model, self.freeze_bn)
        total, count = 0.0, 0
        batches = self.train_data.batches(
            self.options.batch_size, shuffle=True, generator=self.generator, augment=self.augment
        )
        for index, (images, labels, masks) in enumerate(batches):
            if len(labels) < 2 and count > 0:
                continue  # a trailing batch of one adds noise, not signal
            images = images.to(self.device).contiguous(memory_format=torch.channels_last)
            labels = labels.to(self.device)
            masks = masks.to(self.device) if masks is not None else None
            with torch.autocast(self.device.type, enabled=self.options.amp):
                loss = self.loss_fn(self.model(images), labels, masks)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()  # type: ignore[no-untyped-call]
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()
            total += loss.item() * len(labels)
            count += len(labels)
            if self.on_batch_end is not None:
                self.on_batch_end(epoch, index, loss.item())
            if self.stop.requested:
                break
        return total / max(count, 1)

    def _recalibrate_batchnorm(self) -> None:
        layers = training_batchnorms(self.model)
        if not layers:
            return
        count = len(self.train_data)
        spread = torch.linspace(0, count - 1, min(count, RECALIBRATION_IMAGES)).round().long().tolist()
        images = torch.stack([self.train_data[i][0] for i in spread]).to(self.device)  # not augmented
        recalibrate_batchnorm(self.model, layers, [images])

    def _validate(self, epoch: int, train_loss: float) -> dict[str, Any]:
        from dda.ml.predict import image_anomaly_scores

        outputs = collect_outputs(
            self.model, self.model_type, self.val_data, self.options.batch_size, self.loss_fn
        )
        scores = image_anomaly_scores(outputs.probs, outputs.anomaly_map, self.config, rule="cls_or_seg")
        f1, auroc_value = _quality(outputs.probs, scores, self.val_data.labels.numpy())
        record: dict[str, Any] = {
            "epoch": epoch,
            "train_loss": train_loss,
            "val_loss": outputs.loss,
            "val_f1": f1,
            "val_auroc": auroc_value,
            "lr": self.optimizer.param_groups[1]["lr"],
            "elapsed_s": round(time.monotonic() - self.started, 2),
        }
        key = (f1 if f1 is not None else -1.0, auroc_value or 0.0, -(outputs.loss or 0.0))
        record["best"] = is_improvement(key, self.state.best_key)
        if record["best"]:
            self.state.best_key = key
            self.state.best_epoch = epoch
            self.state.best_state = copy.deepcopy(self.model.state_dict())
        return record

    def _should_stop(self, epoch: int) -> str | None:
        if self.stop.requested:
            return f"interrupted ({self.stop.reason})"
        if epoch >= self.options.min_epochs and epoch - self.state.best_epoch >= self.options.patience:
            return f"early stop: no validation improvement for {self.options.patience} epochs"
        budget = self.options.time_budget_s
        if budget is not None and time.monotonic() - self.started >= budget:
            return f"time budget of {budget:g} s used"
        return None

    def fit(self) -> nn.Module:
        """Train until done, early-stopped or interrupted; returns the model with the best weights."""
        if self.options.resume:
            self.resume_from_checkpoint()
        bar = tqdm(
            total=self.options.epochs,
            initial=self.state.epoch,
            desc=f"training {self.model_type}",
            unit="epoch",
            disable=not self.progress,
        )
        try:
            for epoch in range(self.state.epoch + 1, self.options.epochs + 1):
                reason = self._run_epoch(epoch, bar)
                if reason:
                    self.state.stop_reason = reason
                    break
        except KeyboardInterrupt:
            self.stop.request("KeyboardInterrupt")
            self.state.stop_reason = "interrupted (KeyboardInterrupt)"
        finally:
            bar.close()
        if self.state.best_state is not None:
            self.last_state = copy.deepcopy(self.model.state_dict())  # what resume continues from
            self.model.load_state_dict(self.state.best_state)
        self.model.eval()
        return self.model

    def _run_epoch(self, epoch: int, bar: Any) -> str | None:
        train_loss = self._train_epoch(epoch)
        # Evaluation and the saved model use running BatchNorm statistics: make them exact first.
        self._recalibrate_batchnorm()
        record = self._validate(epoch, train_loss)
        self.state.history.append(record)
        self.state.epoch = epoch
        save_checkpoint(self.checkpoint_path, self.checkpoint_payload(completed=False))
        bar.update(1)
        bar.set_postfix(
            loss=f"{train_loss:.3f}",
            val_loss=f"{record['val_loss']:.3f}",
            val_f1="-" if record["val_f1"] is None else f"{record['val_f1']:.2f}",
        )
        log.debug("epoch finished", **{k: v for k, v in record.items() if k != "best"}, best=record["best"])
        if self.on_epoch_end is not None:
            self.on_epoch_end(record)
        return self._should_stop(epoch)
