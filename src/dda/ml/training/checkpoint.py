"""Training checkpoints: written atomically after every epoch, loadable as a model at any time.

A checkpoint holds the best weights so far (``model_state``), so ``dda evaluate``/``predict`` and
:func:`dda.ml.artifact.load_artifact` accept it like an artifact; it also holds the last weights
and optimizer state so that ``resume`` continues an interrupted run.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from dda.core.errors import InvalidInput, NotFound
from dda.ml.artifact import TrainedModel, build_trained_model

CHECKPOINT_FORMAT = 1


def default_checkpoint_path(artifact_path: Path) -> Path:
    name = artifact_path.name
    for suffix in (".tar.gz", ".tgz", ".tar"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return artifact_path.with_name(f"{name}.ckpt")


def save_checkpoint(path: Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` (tensors, numbers, strings, lists, dicts) so the file is whole or absent."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save({"format": CHECKPOINT_FORMAT, **payload}, handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_checkpoint(path: Path) -> dict[str, Any]:
    if not Path(path).is_file():
        raise NotFound(f"checkpoint {path} does not exist", hint="train first, or pass the right path")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors come in many types; all mean "refuse"
        raise InvalidInput(
            f"{path} is not a readable DDA checkpoint ({exc})", hint="pass a *.ckpt written by `dda train`"
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT or "config" not in payload:
        raise InvalidInput(
            f"{path} is not a DDA training checkpoint", hint="pass a *.ckpt written by `dda train`"
        )
    return payload


def load_checkpoint(path: Path) -> TrainedModel:
    """The best model a checkpoint holds, as a :class:`TrainedModel`."""
    payload = read_checkpoint(path)
    return build_trained_model(
        dict(payload["config"]), payload["model_state"], dict(payload.get("metrics") or {}), source=Path(path)
    )
