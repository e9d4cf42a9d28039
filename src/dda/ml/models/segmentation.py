"""Semantic segmentation with an image-level head.

A light FPN-style decoder fuses the backbone's stride 4/8/16/32 maps top-down into one stride-4
map, from which a 1x1 convolution predicts per-pixel class logits (upsampled to the input size).
The image head sees the pooled deepest features plus the max over the decoder map, so a small
defect the decoder found also raises the image-level score.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dda.ml.backbones import Backbone, create_backbone
from dda.ml.models.classification import pooled_features

DECODER_CHANNELS = 64
DEFECT_PRIOR = 0.01  # initial defect probability of every pixel (see SegmentationModel._init_prior)


class _ConvBNReLU(nn.Sequential):
    def __init__(self, inp: int, out: int, kernel: int) -> None:
        super().__init__(
            nn.Conv2d(inp, out, kernel, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(out),
            nn.ReLU(inplace=True),
        )


class SegmentationModel(nn.Module):
    """Normalised float [N, 3, h, w] -> (image logits [N, C], mask logits [N, K, h, w])."""

    def __init__(
        self,
        backbone: Backbone,
        num_image_classes: int,
        num_mask_classes: int,
        decoder_channels: int = DECODER_CHANNELS,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        if num_image_classes < 2 or num_mask_classes < 2:
            raise ValueError("segmentation needs at least two image classes and two mask classes")
        self.backbone = backbone
        self.lateral = nn.ModuleList(_ConvBNReLU(c, decoder_channels, 1) for c in backbone.stage_channels)
        self.smooth = _ConvBNReLU(decoder_channels, decoder_channels, 3)
        self.mask_head = nn.Conv2d(decoder_channels, num_mask_classes, 1)
        self._init_prior(num_mask_classes)
        image_features = 2 * backbone.stage_channels[-1] + decoder_channels
        self.image_head = nn.Sequential(nn.Dropout(dropout), nn.Linear(image_features, num_image_classes))

    def _init_prior(self, num_mask_classes: int) -> None:
        """Start every pixel at P(defect) = ``DEFECT_PRIOR`` instead of a uniform softmax. Defect
        pixels are rare, and a uniform start (P(background) = 1/K, so an anomaly map of 0.75 with
        three defect classes) flags every pixel of every image until many steps have pushed the
        background up, more steps than a few dozen images give (the focal-loss paper's prior)."""
        bias = torch.zeros(num_mask_classes)
        bias[0] = math.log((1.0 - DEFECT_PRIOR) * (num_mask_classes - 1) / DEFECT_PRIOR)
        self.mask_head.bias = nn.Parameter(bias)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        feats = self.backbone.forward_features(x)
        y = self.lateral[3](feats[3])
        for level in (2, 1, 0):
            skip = self.lateral[level](feats[level])
            y = F.interpolate(y, size=skip.shape[-2:], mode="bilinear", align_corners=False) + skip
        y = self.smooth(y)
        mask_logits = F.interpolate(
            self.mask_head(y), size=x.shape[-2:], mode="bilinear", align_corners=False
        )
        pooled = torch.cat([pooled_features(feats[3]), y.amax(dim=(2, 3))], dim=1)
        image_logits: Tensor = self.image_head(pooled)
        return image_logits, mask_logits


def build_segmentation_model(
    backbone: str, num_image_classes: int, num_mask_classes: int, pretrained: bool = True
) -> SegmentationModel:
    return SegmentationModel(
        create_backbone(backbone, pretrained=pretrained), num_image_classes, num_mask_classes
    )
