"""PatchCore (Roth et al., 2022): nearest-neighbour distance to a coreset of normal patch features.

Training collects locally aggregated stride-8/16 patch features of all normal images and keeps a
greedy k-center coreset of them (selected on a random projection, as in the paper), so the memory
bank covers the normal patches with a few percent of them and CPU inference stays fast. The
nearest-neighbour search is ``|q|^2 - 2 q.b + |b|^2`` as one matmul plus a min, which exports to
ONNX as MatMul + ReduceMin.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor
from tqdm import tqdm

from dda.core.errors import InvalidInput
from dda.ml.backbones import Backbone
from dda.ml.models.anomaly import (
    AnomalyModel,
    FitInputs,
    embedding_from_features,
    normal_score_scale,
)

DEFAULT_CORESET_RATIO = 0.1
DEFAULT_CORESET_MAX = 4096
DEFAULT_PROJECTION_DIM = 128
DEFAULT_NEIGHBOURHOOD = 3


def squared_distances(queries: Tensor, bank: Tensor) -> Tensor:
    """Squared euclidean distances [..., P, M] between queries [..., P, D] and bank [M, D]."""
    q2 = (queries * queries).sum(dim=-1, keepdim=True)
    b2 = (bank * bank).sum(dim=-1)
    return (q2 - 2.0 * torch.matmul(queries, bank.transpose(0, 1)) + b2).clamp_min(0.0)


def greedy_coreset(
    features: Tensor,
    size: int,
    *,
    projection_dim: int = DEFAULT_PROJECTION_DIM,
    seed: int = 0,
    progress: bool = False,
) -> Tensor:
    """Indices of ``size`` rows chosen by greedy k-center selection (deterministic for a seed).

    Each step adds the feature farthest from everything chosen so far, so the coreset covers
    the feature space including rare normal patches. Distances are computed on a Gaussian random
    projection to ``projection_dim`` dims (Johnson-Lindenstrauss), which keeps the cost low.
    """
    count = int(features.shape[0])
    if not 1 <= size <= count:
        raise InvalidInput(
            f"coreset size {size} is outside 1..{count}", hint="check coreset_ratio / coreset_max"
        )
    generator = torch.Generator().manual_seed(seed)
    feats = features.float()
    if feats.shape[1] > projection_dim:
        projection = torch.randn(feats.shape[1], projection_dim, generator=generator) / math.sqrt(
            projection_dim
        )
        feats = feats @ projection
    norms = (feats * feats).sum(dim=1)
    min_dist = torch.full((count,), math.inf)
    chosen = torch.empty(size, dtype=torch.long)
    current = int(torch.randint(count, (1,), generator=generator))
    for step in tqdm(range(size), desc="anomaly: coreset", unit="pt", disable=not progress, mininterval=0.5):
        chosen[step] = current
        dist = norms - 2.0 * (feats @ feats[current]) + norms[current]
        torch.minimum(min_dist, dist, out=min_dist)
        current = int(torch.argmax(min_dist))
    return chosen


class PatchCoreModel(AnomalyModel):
    method = "patchcore"
    memory_bank: Tensor

    def __init__(self, config: Mapping[str, Any], backbone: Backbone | None = None) -> None:
        super().__init__(config, backbone)
        self.neighbourhood = int(config.get("neighbourhood", DEFAULT_NEIGHBOURHOOD))
        bank = torch.zeros(int(config.get("coreset_size", 1)), int(config.get("feature_dim", 1)))
        self.register_buffer("memory_bank", bank)

    @staticmethod
    def option_names() -> set[str]:
        return {"coreset_ratio", "coreset_max", "projection_dim", "neighbourhood"}

    def embed_features(self, features: Sequence[Tensor]) -> Tensor:
        return embedding_from_features(features, self.layers, self.neighbourhood, self.input_size)

    def patch_distances(self, embedding: Tensor) -> Tensor:
        queries = embedding.flatten(2).transpose(1, 2)  # [N, P, D]
        nearest = squared_distances(queries, self.memory_bank).amin(dim=-1)
        return nearest.sqrt().reshape(-1, self.feature_size[0], self.feature_size[1])

    @classmethod
    def fit(cls, inputs: FitInputs) -> PatchCoreModel:
        config, opts = inputs.config, inputs.opts
        ratio = float(opts.get("coreset_ratio", DEFAULT_CORESET_RATIO))
        cap = int(opts.get("coreset_max", DEFAULT_CORESET_MAX))
        neighbourhood = int(opts.get("neighbourhood", DEFAULT_NEIGHBOURHOOD))
        if not 0 < ratio <= 1 or cap < 1 or neighbourhood < 1 or neighbourhood % 2 == 0:
            raise InvalidInput(
                f"bad PatchCore options: coreset_ratio={ratio}, coreset_max={cap}, "
                f"neighbourhood={neighbourhood}",
                hint="coreset_ratio in (0, 1], coreset_max >= 1, neighbourhood an odd number >= 1",
            )
        net, embeddings = inputs.embed_images(neighbourhood)
        n, dim, fh, fw = (int(v) for v in embeddings.shape)
        patches = embeddings.permute(0, 2, 3, 1).reshape(-1, dim)
        bank_size = max(1, min(cap, round(ratio * patches.shape[0])))
        projection_dim = int(opts.get("projection_dim", DEFAULT_PROJECTION_DIM))
        chosen = greedy_coreset(
            patches, bank_size, projection_dim=projection_dim, seed=inputs.seed, progress=inputs.progress
        )
        config.update(
            feature_size=[fh, fw],
            feature_dim=dim,
            neighbourhood=neighbourhood,
            coreset_ratio=ratio,
            coreset_size=bank_size,
            num_train_images=n,
            num_train_patches=int(patches.shape[0]),
        )
        model = cls(config, net)
        model.memory_bank.copy_(patches[chosen])
        source_image = torch.div(chosen, fh * fw, rounding_mode="floor")
        loo = _leave_one_out_distances(embeddings, model.memory_bank, source_image)
        model.config["normal_scores"] = normal_score_scale(model, loo)
        return model.eval()


def _leave_one_out_distances(embeddings: Tensor, bank: Tensor, source_image: Tensor) -> Tensor:
    """Patch distances of each training image to the bank without the entries taken from it."""
    n, dim, fh, fw = embeddings.shape
    out = torch.empty(n, fh, fw)
    with torch.inference_mode():
        for index in range(n):
            queries = embeddings[index].reshape(dim, -1).transpose(0, 1)
            dist = squared_distances(queries, bank)
            own = source_image == index
            if bool(own.all()):  # a bank made only of this image: nothing to leave out against
                own = torch.zeros_like(own)
            dist[:, own] = math.inf
            out[index] = dist.amin(dim=-1).sqrt().reshape(fh, fw)
    return out
