"""PaDiM (Defard et al., 2020): one Gaussian per patch position over a random channel subset.

Training estimates, for every position of the stride-8 feature grid, the mean and the
(regularised) covariance of a random subset of the concatenated multi-scale channels over the
normal images. A test patch's distance is its Mahalanobis distance to its position's Gaussian,
computed with batched matmuls against the stored inverse covariances (exports to ONNX).
PaDiM assumes roughly aligned images (a fixed camera and part position), as on a production line.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from dda.core.errors import InvalidInput
from dda.ml.backbones import Backbone
from dda.ml.models.anomaly import (
    AnomalyModel,
    FitInputs,
    embedding_from_features,
    normal_score_scale,
    stage_size,
)

DEFAULT_N_FEATURES = 100
DEFAULT_COVARIANCE_EPS = 0.01
DEFAULT_FOLDS = 10
# The inverse covariances take positions x n_features^2 floats; beyond this the model is unwieldy
# to package and ship to a station.
MAX_STATISTICS_BYTES = 256 * 1024 * 1024


def fit_gaussians(samples: Tensor, eps: float) -> tuple[Tensor, Tensor]:
    """Per-position mean [P, d] and inverse covariance [P, d, d] of samples [P, n, d].

    The covariance is ``S / (n - 1) + eps * I``. With fewer images than channels it has low rank
    plus ``eps * I``, and the Woodbury identity inverts it through an n x n system instead of a
    d x d one.
    """
    count, dims = int(samples.shape[1]), int(samples.shape[2])
    mean = samples.mean(dim=1)
    centred = (samples - mean.unsqueeze(1)) / math.sqrt(max(count - 1, 1))  # C = eps I + c^T c
    identity = torch.eye(dims, dtype=samples.dtype)
    if count < dims:
        small = eps * torch.eye(count, dtype=samples.dtype) + centred @ centred.transpose(1, 2)
        inverse = (identity - centred.transpose(1, 2) @ torch.linalg.solve(small, centred)) / eps
    else:
        covariance = centred.transpose(1, 2) @ centred + eps * identity
        inverse = torch.cholesky_inverse(torch.linalg.cholesky(covariance))
    return mean, inverse


def mahalanobis(queries: Tensor, mean: Tensor, inverse: Tensor) -> Tensor:
    """Mahalanobis distances [N, P] of queries [N, P, d] under Gaussians (mean [P, d], inverse [P, d, d]).

    Positions are the batch dimension of one matmul ([P, N, d] @ [P, d, d]), which is far faster
    than P x N separate vector-matrix products.
    """
    delta = (queries - mean).transpose(0, 1)  # [P, N, d]
    weighted = torch.matmul(delta, inverse)
    return (weighted * delta).sum(dim=-1).clamp_min(0.0).sqrt().transpose(0, 1)


class PaDiMModel(AnomalyModel):
    method = "padim"
    channel_index: Tensor
    mean: Tensor
    inverse_covariance: Tensor

    def __init__(self, config: Mapping[str, Any], backbone: Backbone | None = None) -> None:
        super().__init__(config, backbone)
        positions = self.feature_size[0] * self.feature_size[1]
        dims = int(config.get("n_features", 1))
        self.register_buffer("channel_index", torch.zeros(dims, dtype=torch.long))
        self.register_buffer("mean", torch.zeros(positions, dims))
        self.register_buffer("inverse_covariance", torch.zeros(positions, dims, dims))

    @staticmethod
    def option_names() -> set[str]:
        return {"n_features", "covariance_eps", "folds"}

    def embed_features(self, features: Sequence[Tensor]) -> Tensor:
        return embedding_from_features(features, self.layers, 1, self.input_size).index_select(
            1, self.channel_index
        )

    def patch_distances(self, embedding: Tensor) -> Tensor:
        queries = embedding.flatten(2).transpose(1, 2)  # [N, P, d]
        distances = mahalanobis(queries, self.mean, self.inverse_covariance)
        return distances.reshape(-1, self.feature_size[0], self.feature_size[1])

    @classmethod
    def fit(cls, inputs: FitInputs) -> PaDiMModel:
        config, opts = inputs.config, inputs.opts
        eps = float(opts.get("covariance_eps", DEFAULT_COVARIANCE_EPS))
        folds = int(opts.get("folds", DEFAULT_FOLDS))
        total_dim = sum(config["layer_channels"])
        dims = int(opts.get("n_features", min(DEFAULT_N_FEATURES, total_dim)))
        if not 1 <= dims <= total_dim or eps <= 0 or folds < 2:
            raise InvalidInput(
                f"bad PaDiM options: n_features={dims}, covariance_eps={eps}, folds={folds}",
                hint=f"n_features in 1..{total_dim} for these layers, covariance_eps > 0, folds >= 2",
            )
        positions = math.prod(stage_size(config["input_size"], config["layers"][0]))
        if positions * dims * dims * 4 > MAX_STATISTICS_BYTES:
            raise InvalidInput(
                f"PaDiM statistics for input {config['input_size']} and {dims} features would take "
                f"{positions * dims * dims * 4 / 2**20:.0f} MB",
                hint="use a smaller input_size or n_features, or method='patchcore'",
            )
        generator = torch.Generator().manual_seed(inputs.seed)
        channel_index = torch.randperm(total_dim, generator=generator)[:dims].sort().values
        net, embeddings = inputs.embed_images(1, channel_index)
        n, _, fh, fw = (int(v) for v in embeddings.shape)
        samples = embeddings.flatten(2).permute(2, 0, 1).double().contiguous()  # [P, n, d]
        mean, inverse = fit_gaussians(samples, eps)
        config.update(
            feature_size=[fh, fw],
            feature_dim=total_dim,
            n_features=dims,
            covariance_eps=eps,
            num_train_images=n,
        )
        model = cls(config, net)
        model.channel_index.copy_(channel_index)
        model.mean.copy_(mean.float())
        model.inverse_covariance.copy_(inverse.float())
        loo = _cross_fitted_distances(samples, eps, min(folds, n)).reshape(n, fh, fw)
        model.config["normal_scores"] = normal_score_scale(model, loo)
        return model.eval()


def _cross_fitted_distances(samples: Tensor, eps: float, folds: int) -> Tensor:
    """Distances [n, P] of each image under Gaussians fitted without its fold (image i in fold i % k)."""
    count = int(samples.shape[1])
    fold_of = torch.arange(count) % folds
    out = torch.empty(count, samples.shape[0], dtype=torch.float32)
    for fold in range(folds):
        held_out = fold_of == fold
        mean, inverse = fit_gaussians(samples[:, ~held_out], eps)
        queries = samples[:, held_out].transpose(0, 1)  # [m, P, d]
        out[held_out] = mahalanobis(queries, mean, inverse).float()
    return out
