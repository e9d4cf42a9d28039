"""Losses that cope with few, imbalanced images: class-balanced cross-entropy and soft Dice."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from dda.ml.data import IGNORE_INDEX

MAX_WEIGHT = 10.0


def balanced_class_weights(labels: Tensor, num_classes: int) -> Tensor:
    """Inverse-frequency weights (mean 1 over the classes present); absent classes get 0."""
    counts = torch.bincount(labels.reshape(-1), minlength=num_classes).to(torch.float32)
    present = counts > 0
    weights = torch.zeros(num_classes)
    weights[present] = counts[present].sum() / (present.sum() * counts[present])
    weights = weights.clamp(max=MAX_WEIGHT)
    return weights / weights[present].mean()


def pixel_class_weights(masks: Tensor, num_classes: int) -> Tensor:
    """Square-root inverse pixel frequency relative to background (background = 1), capped, so rare
    defect pixels count without turning every doubtful pixel into a defect."""
    valid = masks[masks != IGNORE_INDEX]
    counts = torch.bincount(valid.reshape(-1), minlength=num_classes).to(torch.float32)
    background = counts[0].clamp(min=1.0)
    weights = torch.sqrt(background / counts.clamp(min=1.0)).clamp(min=1.0, max=MAX_WEIGHT)
    weights[0] = 1.0
    return weights


def soft_dice_loss(mask_logits: Tensor, masks: Tensor) -> Tensor:
    """1 - soft Dice over the defect classes (background excluded), pooled over the batch."""
    num_classes = mask_logits.shape[1]
    valid = (masks != IGNORE_INDEX).unsqueeze(1)
    probs = torch.softmax(mask_logits, dim=1) * valid
    target = F.one_hot(masks.clamp(max=num_classes - 1) * (masks != IGNORE_INDEX), num_classes)
    target = target.permute(0, 3, 1, 2).to(probs.dtype) * valid
    dims = (0, 2, 3)
    intersection = (probs * target).sum(dims)[1:]
    total = (probs.sum(dims) + target.sum(dims))[1:]
    dice = (2 * intersection + 1.0) / (total + 1.0)
    return 1.0 - dice.mean()


class SupervisedLoss:
    """Image cross-entropy, plus pixel cross-entropy and Dice for segmentation."""

    def __init__(
        self,
        model_type: str,
        image_weights: Tensor,
        pixel_weights: Tensor | None = None,
        dice_weight: float = 1.0,
    ) -> None:
        self.model_type = model_type
        self.image_weights = image_weights
        self.pixel_weights = pixel_weights
        self.dice_weight = dice_weight

    def __call__(self, raw: object, labels: Tensor, masks: Tensor | None) -> Tensor:
        if self.model_type == "classification":
            assert isinstance(raw, Tensor)
            return F.cross_entropy(raw, labels, weight=self.image_weights)
        assert isinstance(raw, tuple)
        image_logits: Tensor = raw[0]
        mask_logits: Tensor = raw[1]
        loss = F.cross_entropy(image_logits, labels, weight=self.image_weights)
        if masks is None or bool((masks == IGNORE_INDEX).all()):
            return loss
        pixel = F.cross_entropy(mask_logits, masks, weight=self.pixel_weights, ignore_index=IGNORE_INDEX)
        return loss + pixel + self.dice_weight * soft_dice_loss(mask_logits, masks)
