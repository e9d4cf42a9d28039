"""Training-time augmentation in plain torch, applied to whole batches.

Geometry (flips, small rotation, scale, shift) is one affine warp per sample through
``grid_sample``; the mask goes through the same warp with nearest sampling, so pixels and labels
stay aligned. Colour jitter (brightness, contrast, saturation) touches only the image. Reflection
padding avoids black corners, which a model could otherwise learn as a cue.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class AugmentConfig:
    """How strongly to perturb training images. The defaults suit factory inspection photos."""

    hflip: float = 0.5  # probability
    vflip: float = 0.5
    rotate_deg: float = 10.0  # uniform in [-rotate_deg, rotate_deg]
    scale: tuple[float, float] = (0.9, 1.1)
    translate: float = 0.05  # fraction of the image size
    brightness: float = 0.2  # factor in [1 - b, 1 + b]
    contrast: float = 0.2
    saturation: float = 0.2


NO_AUGMENT = AugmentConfig(0.0, 0.0, 0.0, (1.0, 1.0), 0.0, 0.0, 0.0, 0.0)


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> Tensor:
    return torch.rand(n, generator=generator) * (high - low) + low


def _affine_thetas(n: int, height: int, width: int, cfg: AugmentConfig, generator: torch.Generator) -> Tensor:
    """[n, 2, 3] maps from output to input coordinates (normalised to [-1, 1])."""
    angle = _uniform(n, -cfg.rotate_deg, cfg.rotate_deg, generator) * (math.pi / 180.0)
    scale = _uniform(n, cfg.scale[0], cfg.scale[1], generator)
    flip_x = torch.where(torch.rand(n, generator=generator) < cfg.hflip, -1.0, 1.0)
    flip_y = torch.where(torch.rand(n, generator=generator) < cfg.vflip, -1.0, 1.0)
    shift = _uniform(2 * n, -2 * cfg.translate, 2 * cfg.translate, generator).view(n, 2)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    aspect = height / width  # rotate in pixel space, not in the squashed normalised space
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = cos * flip_x
    theta[:, 0, 1] = -sin * aspect * flip_y
    theta[:, 1, 0] = sin / aspect * flip_x
    theta[:, 1, 1] = cos * flip_y
    theta[:, :, 2] = shift
    return theta


def _colour_jitter(images: Tensor, cfg: AugmentConfig, generator: torch.Generator) -> Tensor:
    n = images.shape[0]
    view = (n, 1, 1, 1)
    if cfg.brightness > 0:
        images = images * _uniform(n, 1 - cfg.brightness, 1 + cfg.brightness, generator).view(view)
    if cfg.contrast > 0:
        mean = images.mean(dim=(1, 2, 3), keepdim=True)
        factor = _uniform(n, 1 - cfg.contrast, 1 + cfg.contrast, generator).view(view)
        images = (images - mean) * factor + mean
    if cfg.saturation > 0:
        weights = images.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        gray = (images * weights).sum(dim=1, keepdim=True)
        factor = _uniform(n, 1 - cfg.saturation, 1 + cfg.saturation, generator).view(view)
        images = (images - gray) * factor + gray
    return images.clamp(0.0, 1.0)


def augment_batch(
    images: Tensor,
    masks: Tensor | None,
    generator: torch.Generator,
    cfg: AugmentConfig | None = None,
) -> tuple[Tensor, Tensor | None]:
    """Randomly perturb ``images`` (float [N, 3, H, W] in 0..1) and their ``masks`` (long [N, H, W]).

    Returns new tensors; the inputs (often the in-memory cache) are never modified.
    """
    cfg = cfg or AugmentConfig()
    n, _, height, width = images.shape
    theta = _affine_thetas(n, height, width, cfg, generator).to(images.dtype)
    grid = F.affine_grid(theta, [n, 3, height, width], align_corners=False)
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    out_masks = None
    if masks is not None:
        warped = F.grid_sample(
            masks[:, None].to(images.dtype),
            grid,
            mode="nearest",
            padding_mode="reflection",
            align_corners=False,
        )
        out_masks = warped[:, 0].round().to(masks.dtype)
    return _colour_jitter(out, cfg, generator), out_masks
