"""Training and evaluation: :func:`train_model`, :func:`evaluate_model` and their options."""

from dda.ml.training.evaluate import evaluate_model
from dda.ml.training.options import DEFAULT_MODEL_TYPE, TrainOptions, TrainResult
from dda.ml.training.run import train_model
from dda.ml.training.signals import GracefulStop

__all__ = [
    "DEFAULT_MODEL_TYPE",
    "GracefulStop",
    "TrainOptions",
    "TrainResult",
    "evaluate_model",
    "train_model",
]
