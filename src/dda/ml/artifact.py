"""The trained-model artifact, ``model.tar.gz``.

Layout (all at the archive root)::

    weights.pt        state dict of the core module (tensors only; loaded with weights_only=True)
    model.onnx        instead of weights.pt for an imported model (dda.ml.onnx_import): the external
                      network already wrapped into the model contract (uint8 image in, contract out)
    config.json       everything needed to rebuild and run the model (see REQUIRED_KEYS)
    label_map.json    {"classes": {"0": "normal", ...}, "mask_classes": {"0": "background", ...}}
    metrics.json      validation metrics
    plots/*.png       training curves, confusion matrix, PR/ROC curves, example overlays

Loading never extracts to disk: members are read into memory by exact name, only regular files of
bounded size are accepted, and weights are unpickled with ``weights_only=True``. A training
checkpoint (``*.ckpt``, see :mod:`dda.ml.training.checkpoint`) loads through the same function.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dda.core.errors import InvalidInput, NotFound

WEIGHTS = "weights.pt"
ONNX_MODEL = "model.onnx"
CONFIG = "config.json"
LABEL_MAP = "label_map.json"
METRICS = "metrics.json"
PLOTS_DIR = "plots"
ARTIFACT_FORMAT = 1

REQUIRED_KEYS = ("model_type", "backbone", "input_size", "class_names", "threshold", "mean", "std")
MAX_WEIGHTS_BYTES = 2 << 30
MAX_JSON_BYTES = 16 << 20
MAX_PLOT_BYTES = 32 << 20
MAX_MEMBERS = 256
MAX_INPUT_SIDE = 4096


@dataclass
class TrainedModel:
    """A loaded model: its config, core module (eval mode), metrics and plots."""

    config: dict[str, Any]
    module: nn.Module
    metrics: dict[str, Any] = field(default_factory=dict)
    plots: dict[str, bytes] = field(default_factory=dict)
    source: Path | None = None

    @property
    def model_type(self) -> str:
        return str(self.config["model_type"])

    @property
    def input_size(self) -> tuple[int, int]:
        height, width = self.config["input_size"]
        return int(height), int(width)


def label_map(config: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    return {
        "classes": {str(i): name for i, name in enumerate(config.get("class_names", []))},
        "mask_classes": {str(i): name for i, name in enumerate(config.get("mask_class_names") or [])},
    }


def _json_bytes(data: Any) -> bytes:
    return json.dumps(data, indent=2, sort_keys=True, default=_json_default).encode("utf-8")


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy / torch scalars and arrays
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _add_member(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(mtime)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def save_artifact(
    out_path: Path | str,
    core_module: nn.Module,
    config: Mapping[str, Any],
    metrics: Mapping[str, Any],
    plots: Mapping[str, bytes] | None = None,
) -> Path:
    """Write ``model.tar.gz`` atomically (a reader never sees a half-written file)."""
    members = _members(config, metrics)
    weights = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in core_module.state_dict().items()}, weights)
    members.append((WEIGHTS, weights.getvalue()))
    _add_plots(members, plots)
    return _write_members(Path(out_path), members)


def _members(config: Mapping[str, Any], metrics: Mapping[str, Any]) -> list[tuple[str, bytes]]:
    validate_config(config)
    config_data = {**config, "artifact_format": ARTIFACT_FORMAT}
    return [
        (CONFIG, _json_bytes(config_data)),
        (LABEL_MAP, _json_bytes(label_map(config))),
        (METRICS, _json_bytes(dict(metrics))),
    ]


def _add_plots(members: list[tuple[str, bytes]], plots: Mapping[str, bytes] | None) -> None:
    for name, png in sorted((plots or {}).items()):
        stem = Path(name).name.removesuffix(".png")
        if not stem or stem.startswith("."):
            raise InvalidInput(f"bad plot name {name!r}", hint="use a plain file name")
        members.append((f"{PLOTS_DIR}/{stem}.png", png))


def _write_members(out_path: Path, members: list[tuple[str, bytes]]) -> Path:
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out_path.name}.", dir=out_path.parent)
    now = time.time()
    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            for name, data in members:
                _add_member(tar, name, data, now)
        os.replace(tmp, out_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out_path


def save_onnx_artifact(
    out_path: Path | str,
    onnx_bytes: bytes,
    config: Mapping[str, Any],
    metrics: Mapping[str, Any],
    plots: Mapping[str, bytes] | None = None,
) -> Path:
    """Write ``model.tar.gz`` for an imported model: ``model.onnx`` (a graph that already meets the
    model contract, see :func:`dda.ml.onnx_import.import_onnx`) instead of ``weights.pt``."""
    members = _members(config, metrics)
    members.append((ONNX_MODEL, onnx_bytes))
    _add_plots(members, plots)
    return _write_members(Path(out_path), members)


def validate_config(config: Mapping[str, Any]) -> None:
    """Refuse a config that could not rebuild or run the model, naming the bad key."""
    missing = [key for key in REQUIRED_KEYS if key not in config]
    if missing:
        raise InvalidInput(
            f"model config lacks {', '.join(missing)}", hint="the artifact is incomplete; train it again"
        )
    if config["model_type"] not in ("classification", "segmentation", "anomaly"):
        raise InvalidInput(f"model config has unknown model_type {config['model_type']!r}")
    size = config["input_size"]
    if (
        not isinstance(size, list | tuple)
        or len(size) != 2
        or not all(isinstance(v, int) and 8 <= v <= MAX_INPUT_SIDE for v in size)
    ):
        raise InvalidInput(f"model config input_size {size!r} is not [height, width] in 8..{MAX_INPUT_SIDE}")
    names = config["class_names"]
    if not isinstance(names, list) or len(names) < 1 or not all(isinstance(n, str) for n in names):
        raise InvalidInput("model config class_names must be a non-empty list of names")
    for key in ("mean", "std"):
        values = config[key]
        if not isinstance(values, list | tuple) or len(values) != 3:
            raise InvalidInput(f"model config {key} must hold 3 numbers (RGB)")
    if config["model_type"] == "segmentation":
        mask_names = config.get("mask_class_names")
        if not isinstance(mask_names, list) or len(mask_names) < 2:
            raise InvalidInput("a segmentation model config needs mask_class_names (background first)")


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo, limit: int) -> bytes:
    if not member.isreg():
        raise InvalidInput(
            f"artifact member {member.name} is not a regular file", hint="the archive is unsafe"
        )
    if member.size > limit:
        raise InvalidInput(f"artifact member {member.name} is {member.size} bytes (limit {limit})")
    handle = tar.extractfile(member)
    if handle is None:
        raise InvalidInput(f"artifact member {member.name} cannot be read")
    return handle.read()


def _limit_for(name: str) -> int | None:
    if name in (WEIGHTS, ONNX_MODEL):
        return MAX_WEIGHTS_BYTES
    if name in (CONFIG, LABEL_MAP, METRICS):
        return MAX_JSON_BYTES
    if name.startswith(f"{PLOTS_DIR}/") and name.endswith(".png") and name.count("/") == 1:
        return MAX_PLOT_BYTES
    return None  # anything else is ignored, never extracted


def _read_tar(path: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(path, mode="r:*") as tar:
            for count, member in enumerate(tar):
                if count >= MAX_MEMBERS:
                    raise InvalidInput(f"artifact {path.name} has more than {MAX_MEMBERS} members")
                name = member.name.removeprefix("./")
                limit = _limit_for(name)
                if limit is not None:
                    files[name] = _read_member(tar, member, limit)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise InvalidInput(
            f"{path} is not a readable model archive ({exc})",
            hint="pass the model.tar.gz that `dda train` wrote",
        ) from exc
    return files


def _read_dir(path: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    root = path.resolve()
    candidates = [path / n for n in (WEIGHTS, ONNX_MODEL, CONFIG, LABEL_MAP, METRICS)]
    if (path / PLOTS_DIR).is_dir():
        candidates += sorted((path / PLOTS_DIR).glob("*.png"))
    for file in candidates:
        name = file.relative_to(path).as_posix()
        limit = _limit_for(name)
        if limit is None or not file.is_file() or file.is_symlink():
            continue
        if not file.resolve().is_relative_to(root):
            raise InvalidInput(f"{file} points outside the model folder", hint="the folder is unsafe")
        if file.stat().st_size > limit:
            raise InvalidInput(f"{file} is larger than {limit} bytes")
        files[name] = file.read_bytes()
    return files


def _parse_json(files: dict[str, bytes], name: str, source: Path) -> dict[str, Any]:
    try:
        data = json.loads(files[name].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{name} in {source} is not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise InvalidInput(f"{name} in {source} is not a JSON object")
    return data


def load_state_dict_bytes(data: bytes, source: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors come in many types; all mean "refuse"
        raise InvalidInput(f"weights in {source} cannot be loaded safely ({exc})") from exc
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InvalidInput(f"weights in {source} are not a state dict of tensors")
    return state


def build_trained_model(
    config: dict[str, Any],
    state: Mapping[str, torch.Tensor],
    metrics: dict[str, Any] | None = None,
    plots: dict[str, bytes] | None = None,
    source: Path | None = None,
) -> TrainedModel:
    """Rebuild the core module a config describes and load ``state`` into it strictly."""
    from dda.ml.models import build_core_module

    validate_config(config)
    module = build_core_module(config, pretrained=False)
    try:
        module.load_state_dict(dict(state), strict=True)
    except RuntimeError as exc:
        raise InvalidInput(
            f"weights in {source or 'the artifact'} do not fit the {config['model_type']} model its config "
            f"describes ({str(exc).splitlines()[0]})",
            hint="the artifact is corrupt or from an incompatible DDA version; train it again",
        ) from exc
    module.eval()
    return TrainedModel(config=config, module=module, metrics=metrics or {}, plots=plots or {}, source=source)


def load_artifact(path: Path | str) -> TrainedModel:
    """Load ``model.tar.gz``, its extracted folder, or a training checkpoint (``*.ckpt``)."""
    path = Path(path)
    if not path.exists():
        raise NotFound(f"model {path} does not exist", hint="pass the model.tar.gz that `dda train` wrote")
    if path.is_file() and _is_zip(path):
        from dda.ml.training.checkpoint import load_checkpoint

        return load_checkpoint(path)
    files = _read_dir(path) if path.is_dir() else _read_tar(path)
    for required in (WEIGHTS if ONNX_MODEL not in files else ONNX_MODEL, CONFIG):
        if required not in files:
            raise InvalidInput(
                f"{path} has no {required}",
                hint="pass the model.tar.gz (or its folder) that `dda train` wrote",
            )
    config = _parse_json(files, CONFIG, path)
    metrics = _parse_json(files, METRICS, path) if METRICS in files else {}
    plots = {Path(name).stem: data for name, data in files.items() if name.startswith(f"{PLOTS_DIR}/")}
    if WEIGHTS not in files:
        return _onnx_model(config, files[ONNX_MODEL], metrics, plots, path)
    state = load_state_dict_bytes(files[WEIGHTS], path)
    return build_trained_model(config, state, metrics, plots, source=path)


def _onnx_model(
    config: dict[str, Any], data: bytes, metrics: dict[str, Any], plots: dict[str, bytes], source: Path
) -> TrainedModel:
    """An imported model: its contract graph must load in ONNX Runtime and meet the contract."""
    from dda.ml.onnx_module import OnnxContractModule

    validate_config(config)
    module = OnnxContractModule(data, str(config["model_type"]))
    try:
        check_contract_outputs(module, config)
    except InvalidInput:
        raise
    except Exception as exc:  # onnxruntime load/run errors
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise InvalidInput(
            f"{ONNX_MODEL} in {source} cannot be run by ONNX Runtime ({first})",
            hint="import the ONNX model again through the registry",
        ) from None
    return TrainedModel(config=config, module=module, metrics=metrics, plots=plots, source=source)


def check_contract_outputs(module: nn.Module, config: Mapping[str, Any]) -> None:
    """Run a contract module on one small frame; InvalidInput when outputs break the contract."""
    import numpy as np

    from dda.ml.deploy import output_names
    from dda.ml.export.onnx_export import check_output_shapes

    image = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (61, 83, 3), dtype=np.uint8))
    with torch.inference_mode():
        outputs = module(image)
    names = output_names(str(config["model_type"]))
    check_output_shapes({n: t.numpy() for n, t in zip(names, outputs, strict=False)}, config, ONNX_MODEL)


def _is_zip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == b"PK\x03\x04"
