"""The cheap, stable model candidates ``--type auto`` chooses from, fitted on in-memory images.

- ``padim`` / ``patchcore``: anomaly models that learn from the normal images only
  (:mod:`dda.ml.models.anomaly`).
- ``linear``: a classifier made of the frozen ImageNet backbone and a logistic-regression head on its
  pooled last-stage features. With a frozen backbone there is no schedule, no early stopping and no
  epoch count to go wrong: the fit is convex and takes a second, which makes it steady on a few
  dozen images and cheap enough to cross-validate. It exports as an ordinary classification model.

Every candidate maps normalised images [N, 3, H, W] to one score per image (higher = more
anomalous) through the same module the artifact stores.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from dda.ml.backbones import Backbone, create_backbone
from dda.ml.models.classification import ClassificationModel, pooled_features

CANDIDATES: tuple[str, ...] = ("linear", "padim", "patchcore")
# PatchCore is opt-in (``--candidates``): on the cookie photos it cost twice PaDiM's time per fit
# and ranked no better (out-of-fold AUROC 0.963 vs 0.966; the linear head 1.000).
DEFAULT_CANDIDATES: tuple[str, ...] = ("linear", "padim")
ANOMALY_CANDIDATES = ("padim", "patchcore")
LINEAR_L2 = 0.01  # L2 strength of the logistic head on standardised features
BATCH = 16


@dataclass
class FittedCandidate:
    name: str
    module: nn.Module
    config: dict[str, Any]  # what the candidate adds to the artifact config


def fit_anomaly(
    name: str,
    stages: Sequence[Tensor],
    size: tuple[int, int],
    backbone: str,
    seed: int,
    pretrained: bool,
    quick: bool = False,
) -> FittedCandidate:
    """Fit PaDiM or PatchCore on the stage maps of normal images. ``quick`` (the fold models of
    cross-validation) estimates PaDiM's score scale with 4 folds instead of 10 and caps PatchCore's
    memory bank at 1000 patches."""
    from dda.ml.models.anomaly import fit_anomaly_model

    opts: dict[str, Any] = {}
    if quick:
        opts = {"folds": 4} if name == "padim" else {"coreset_max": 1000}
    model = fit_anomaly_model(
        [], method=name, backbone=backbone, input_size=size,  # type: ignore[arg-type]
        progress=False, seed=seed, pretrained=pretrained, features=stages, **opts,
    )  # fmt: skip
    config = dict(getattr(model, "config", {}))
    config.update(
        model_type="anomaly", method=name, class_names=["normal", "anomaly"], verdict_rule="cls_head",
        mask_class_names=None,
    )  # fmt: skip
    return FittedCandidate(name, model.eval(), config)


_STAGE_CACHE: OrderedDict[tuple[str, ...], list[Tensor]] = OrderedDict()
STAGE_CACHE_BYTES = 1 << 30
_cache_bytes = 0


class FeatureExtractor:
    """The frozen backbone's stage maps (stride 4..32) of every image, computed once.

    The backbone is frozen, so an image's maps never change: they are cached per image key (path,
    size, backbone), and every candidate and fold (and every run of ``dda benchmark``) reuses them.
    """

    def __init__(
        self, backbone: str, pretrained: bool, seed: int = 0, device: torch.device | None = None
    ) -> None:
        self.backbone_name = backbone
        self.pretrained = pretrained
        self.seed = seed
        # The backbone runs on ``device`` (a GPU when training got one); the maps come back to
        # the CPU, where the cache, the candidates and the folds use them.
        self.device = device or torch.device("cpu")
        self._device_net: Backbone | None = None
        # Built exactly as fit_anomaly_model builds its backbone (same seeded init without ImageNet
        # weights), so the maps fitted here are the maps the deployed model computes.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.net = create_backbone(backbone, pretrained=pretrained).eval()

    def stages(self, images: Tensor, keys: Sequence[str] | None = None) -> list[Tensor]:
        """Stage maps [N, C_i, h_i, w_i] for i = 0..3."""
        global _cache_bytes
        weights = "imagenet" if self.pretrained else f"random-{self.seed}"
        prefix = (self.backbone_name, weights, str(tuple(images.shape[2:])))
        full = [(*prefix, k) for k in keys] if keys is not None else [None] * len(images)
        per_image: list[list[Tensor] | None] = [_STAGE_CACHE.get(k) if k else None for k in full]
        missing = [i for i, cached in enumerate(per_image) if cached is None]
        with torch.inference_mode():
            for start in range(0, len(missing), BATCH):
                chunk = missing[start : start + BATCH]
                maps = self._net_on_device().forward_features(images[chunk].to(self.device))
                for row, index in enumerate(chunk):
                    per_image[index] = [m[row].to("cpu", copy=True) for m in maps]
                    key = full[index]
                    if key is not None:
                        _STAGE_CACHE[key] = per_image[index]  # type: ignore[assignment]
                        _cache_bytes += sum(m[row].numel() * 4 for m in maps)
        while _cache_bytes > STAGE_CACHE_BYTES and _STAGE_CACHE:
            _, old = _STAGE_CACHE.popitem(last=False)
            _cache_bytes -= sum(t.numel() * 4 for t in old)
        return [torch.stack([p[i] for p in per_image if p is not None]) for i in range(4)]

    def _net_on_device(self) -> Backbone:
        """The backbone on ``self.device``: a CUDA copy, so that ``self.net`` (which the fitted
        models reuse and the artifact saves) stays on the CPU."""
        if self.device.type == "cpu":
            return self.net
        if self._device_net is None:
            self._device_net = copy.deepcopy(self.net).to(self.device)
        return self._device_net

    @staticmethod
    def pooled(stages: Sequence[Tensor]) -> Tensor:
        """The classifier's features: avg and max pooled last stage, float64."""
        return pooled_features(stages[-1]).double()


def fit_logistic(features: Tensor, labels: Tensor, l2: float = LINEAR_L2) -> tuple[Tensor, Tensor]:
    """Class-balanced L2 logistic regression on standardised features: (weight [D], bias []) in the
    raw feature space (standardisation folded in)."""
    mean = features.mean(dim=0)
    std = features.std(dim=0).clamp_min(1e-6)
    x = (features - mean) / std
    y = (labels != 0).double()
    positives = float(y.sum())
    weights = torch.where(y > 0, 0.5 / max(positives, 1.0), 0.5 / max(len(y) - positives, 1.0))
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([w, b], lr=1.0, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        optimizer.zero_grad()
        logits = x @ w + b
        loss = (weights * nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none")).sum()
        loss = loss + 0.5 * l2 * (w * w).sum()
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    with torch.enable_grad():
        optimizer.step(closure)  # type: ignore[no-untyped-call]
    weight = (w.detach() / std).float()
    bias = (b.detach() - (w.detach() * mean / std).sum()).float()
    return weight, bias


def linear_scores(features: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """P(defect) of each feature row under a fitted head."""
    return torch.sigmoid(features.float() @ weight + bias)


def linear_module(extractor: FeatureExtractor, weight: Tensor, bias: Tensor) -> FittedCandidate:
    """The fitted head as a two-class :class:`ClassificationModel` (softmax([0, z]) = sigmoid(z))."""
    model = ClassificationModel(extractor.net, 2)
    linear = model.head[1]
    assert isinstance(linear, nn.Linear)
    with torch.no_grad():
        linear.weight.zero_()
        linear.bias.zero_()
        linear.weight[1] = weight
        linear.bias[1] = bias
    config = {
        "model_type": "classification",
        "class_names": ["normal", "anomaly"],
        "verdict_rule": "cls_head",
        "mask_class_names": None,
        "method": "linear",
        "head": "logistic regression on frozen ImageNet features (avg+max pooled last stage)",
    }
    return FittedCandidate("linear", model.eval(), config)
