"""PyTorch deploy module -> ONNX with the pre-processing baked in and dynamic image height/width.

The deploy module (``dda.ml.deploy.build_deploy_module``) takes the raw uint8 [H, W, 3] RGB image
and does the cast, HWC->NCHW permute, resize and normalisation itself, so the exported graph's one
input is the camera frame as it comes. Export uses torch's dynamo exporter (``torch.export``), which
keeps the resize to the fixed model size static and gives static output shapes; when it cannot
trace a module the TorchScript exporter (``dynamo=False``) is the fallback.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from torch import nn

from dda.core.errors import InvalidInput
from dda.core.logging import get_logger
from dda.runtime.types import INPUT_NAME, OUTPUT_ANOMALY_MAP, OUTPUT_CLASS_MAP, OUTPUT_SCORES

log = get_logger(__name__)

DEFAULT_OPSET = 18
MIN_SIDE = 8  # the runtime refuses smaller images; the exported graph accepts these bounds
MAX_SIDE = 16384
CONFIG_METADATA_KEY = "dda.config"
EXPORTER_METADATA_KEY = "dda.exporter"


def output_names_for(model_type: str) -> list[str]:
    """The contract's output names for a model type (segmentation adds the class map)."""
    names = [OUTPUT_SCORES, OUTPUT_ANOMALY_MAP]
    return [*names, OUTPUT_CLASS_MAP] if model_type == "segmentation" else names


def input_size_of(config: Mapping[str, Any]) -> tuple[int, int]:
    try:
        height, width = (int(v) for v in config["input_size"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(
            "the model config has no valid input_size [height, width]",
            hint="the trained artifact's config.json must contain input_size",
        ) from exc
    return height, width


def example_image(config: Mapping[str, Any]) -> torch.Tensor:
    """A tracing input whose size differs from the model size, so the resize cannot be elided."""
    height, width = input_size_of(config)
    generator = torch.Generator().manual_seed(0)
    return torch.randint(
        0, 256, (height + height // 2 + 3, width + width // 3 + 5, 3), dtype=torch.uint8, generator=generator
    )


@contextlib.contextmanager
def _quiet_loggers(
    names: Sequence[str] = ("onnxscript", "onnx_ir", "torch.onnx", "torch.export"),
) -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:  # ERROR: their warnings (e.g. "torchvision is not installed") are not actionable
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _export_dynamo(
    module: nn.Module, example: torch.Tensor, out_path: Path, names: list[str], opset: int
) -> None:
    dims = {
        0: torch.export.Dim("height", min=MIN_SIDE, max=MAX_SIDE),
        1: torch.export.Dim("width", min=MIN_SIDE, max=MAX_SIDE),
    }
    # The exporter prints progress to stdout and logs every optimiser pass at INFO; keep the
    # CLI's output ours.
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings(), _quiet_loggers():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (example,),
            str(out_path),
            input_names=[INPUT_NAME],
            output_names=names,
            dynamic_shapes={INPUT_NAME: dims},
            dynamo=True,
            opset_version=opset,
            external_data=False,
            verbose=False,
            optimize=True,
        )


def _export_torchscript(module: nn.Module, example: torch.Tensor, out_path: Path, names: list[str]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (example,),
            str(out_path),
            input_names=[INPUT_NAME],
            output_names=names,
            dynamic_axes={INPUT_NAME: {0: "height", 1: "width"}},
            dynamo=False,
            opset_version=17,
        )


def export_onnx(
    module: nn.Module,
    config: Mapping[str, Any],
    out_path: Path,
    *,
    opset: int = DEFAULT_OPSET,
    exporter: str = "auto",
) -> Path:
    """Export ``module`` (uint8 HWC image in, contract outputs out) to ``out_path`` and verify it.

    ``exporter`` is ``auto`` (dynamo, falling back to TorchScript), ``dynamo`` or ``torchscript``.
    The training config is stored in the ONNX metadata under ``dda.config``. Raises InvalidInput
    when the module cannot be exported or the result breaks the model contract.
    """
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    model_type = str(config.get("model_type", ""))
    names = output_names_for(model_type)
    module = module.eval()
    example = example_image(config)
    with torch.no_grad():
        if exporter in ("auto", "dynamo"):
            try:
                _export_dynamo(module, example, out_path, names, opset)
            except Exception as exc:
                if exporter == "dynamo":
                    raise InvalidInput(
                        f"the dynamo ONNX exporter failed: {exc}", hint="try exporter='torchscript'"
                    ) from exc
                log.warning("dynamo export failed, falling back to the TorchScript exporter", error=str(exc))
                exporter = "torchscript"
        if exporter == "torchscript":
            try:
                _export_torchscript(module, example, out_path, names)
            except Exception as exc:
                raise InvalidInput(
                    f"the model cannot be exported to ONNX: {exc}",
                    hint="the deploy module must take one uint8 [H, W, 3] tensor",
                ) from exc
        elif exporter not in ("auto", "dynamo"):
            raise InvalidInput(f"unknown exporter {exporter!r}", hint="use auto, dynamo or torchscript")
    _attach_metadata(out_path, config, "dynamo" if exporter in ("auto", "dynamo") else exporter)
    verify_onnx(out_path, config)
    return out_path


def _attach_metadata(path: Path, config: Mapping[str, Any], exporter: str) -> None:
    model = onnx.load(str(path))
    del model.metadata_props[:]
    for key, value in (
        (CONFIG_METADATA_KEY, json.dumps(dict(config), sort_keys=True, default=str)),
        (EXPORTER_METADATA_KEY, f"torch.onnx {exporter}, torch {torch.__version__}"),
    ):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    model.producer_name = "dda"
    onnx.save(model, str(path))


def read_onnx_metadata(path: Path) -> dict[str, str]:
    """The metadata DDA stores in an exported model (``dda.config`` JSON, ``dda.exporter``)."""
    model = onnx.load(str(path), load_external_data=False)
    return {entry.key: entry.value for entry in model.metadata_props}


def expected_output_shapes(config: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    """The contract's output shapes for this config (see dda.runtime.types)."""
    height, width = input_size_of(config)
    model_type = str(config.get("model_type"))
    shapes: dict[str, tuple[int, ...]] = {OUTPUT_ANOMALY_MAP: (height, width)}
    if model_type == "anomaly":
        shapes[OUTPUT_SCORES] = (1,)
    else:
        shapes[OUTPUT_SCORES] = (len(config.get("class_names") or ()),)
    if model_type == "segmentation":
        shapes[OUTPUT_CLASS_MAP] = (len(config.get("mask_class_names") or ()), height, width)
    return shapes


def check_output_shapes(outputs: Mapping[str, np.ndarray], config: Mapping[str, Any], where: str) -> None:
    """Raise InvalidInput when outputs break the contract (names, shapes, float32)."""
    for name, shape in expected_output_shapes(config).items():
        if name not in outputs:
            raise InvalidInput(
                f"{where} has no output {name!r}",
                hint="the deploy module must return (scores, anomaly_map[, class_map])",
            )
        value = outputs[name]
        if tuple(value.shape) != shape or (0 in shape):
            raise InvalidInput(
                f"{where}: output {name!r} has shape {tuple(value.shape)}, the contract needs {shape}",
                hint="check class_names / mask_class_names / input_size in the model config",
            )
        if value.dtype != np.float32:
            raise InvalidInput(f"{where}: output {name!r} is {value.dtype}, the contract needs float32")


def verify_onnx(
    path: Path, config: Mapping[str, Any], sizes: Sequence[tuple[int, int]] = ((61, 83), (480, 640))
) -> None:
    """onnx.checker + ONNX Runtime: one uint8 [H, W, 3] input, contract outputs at several sizes."""
    import onnxruntime as ort

    try:
        onnx.checker.check_model(str(path), full_check=True)
    except onnx.checker.ValidationError as exc:
        raise InvalidInput(f"exported model {path.name} fails onnx.checker: {exc}") from exc
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs = session.get_inputs()
    if len(inputs) != 1 or inputs[0].name != INPUT_NAME or inputs[0].type != "tensor(uint8)":
        found = [(i.name, i.type, i.shape) for i in inputs]
        raise InvalidInput(f"exported model must have one uint8 input named {INPUT_NAME!r}, found {found}")
    shape = inputs[0].shape
    if len(shape) != 3 or shape[2] != 3 or isinstance(shape[0], int) or isinstance(shape[1], int):
        raise InvalidInput(f"exported input shape {shape} is not [H, W, 3] with dynamic H and W")
    names = [o.name for o in session.get_outputs()]
    rng = np.random.default_rng(0)
    for height, width in sizes:
        image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        outputs = dict(zip(names, session.run(None, {INPUT_NAME: image}), strict=True))
        check_output_shapes(outputs, config, f"{path.name} at {width}x{height}")
