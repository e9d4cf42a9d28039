"""Triton model-repository layout of a package and its ``config.pbtxt`` files.

For a package whose model name is ``<m>``::

    marshal_<m>/   python backend: encoded image bytes -> uint8 [H, W, 3] RGB
    base_<m>/      the network: onnxruntime (model.onnx), openvino (model.xml) or tensorrt_plan
    post_<m>/      python backend: raw outputs + image -> verdict, mask, overlay, JSON result
    <m>/           ensemble wiring marshal -> base -> post (its version folder ``1/`` stays empty)

The configs are rendered from plain dicts by a small text-format writer, so building a package
needs no protobuf; the tests parse every file with Triton's own ``ModelConfig`` message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dda.runtime.types import INPUT_NAME, OUTPUT_ANOMALY_MAP, OUTPUT_CLASS_MAP, OUTPUT_SCORES

ENCODED_INPUT = "image_bytes"
POSTPROCESS_PARAMETER = "dda_postprocess"
VERSION_DIR = "1"
# What the ensemble returns (post-processing outputs): name -> (Triton type, dims).
RESULT_OUTPUTS: dict[str, tuple[str, list[int]]] = {
    "verdict": ("TYPE_STRING", [1]),
    "label": ("TYPE_STRING", [1]),
    "confidence": ("TYPE_FP32", [1]),
    "anomaly_score": ("TYPE_FP32", [1]),
    "threshold": ("TYPE_FP32", [1]),
    "mask": ("TYPE_UINT8", [-1, -1]),
    "overlay": ("TYPE_UINT8", [-1, -1, 3]),
    "result_json": ("TYPE_STRING", [1]),
}


class Ident(str):
    """A bare text-format identifier (enum value such as TYPE_UINT8), rendered without quotes."""


@dataclass(frozen=True)
class ModelNames:
    ensemble: str
    marshal: str
    base: str
    post: str

    @classmethod
    def for_model(cls, name: str) -> ModelNames:
        return cls(ensemble=name, marshal=f"marshal_{name}", base=f"base_{name}", post=f"post_{name}")


def _scalar(value: Any) -> str:
    if isinstance(value, Ident):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)  # JSON string escapes are valid text format


def render_pbtxt(fields: Mapping[str, Any], indent: int = 0) -> str:
    """Protobuf text format of nested dicts: dict -> message, list of dicts -> repeated message."""
    pad = "  " * indent
    lines: list[str] = []
    for key, value in fields.items():
        if isinstance(value, Mapping):
            lines += [f"{pad}{key} {{", render_pbtxt(value, indent + 1), f"{pad}}}"]
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            blocks = [f"{pad}  {{\n{render_pbtxt(v, indent + 2)}\n{pad}  }}" for v in value]
            lines.append(f"{pad}{key} [\n" + ",\n".join(blocks) + f"\n{pad}]")
        elif isinstance(value, list):
            lines.append(f"{pad}{key}: [ {', '.join(_scalar(v) for v in value)} ]")
        else:
            lines.append(f"{pad}{key}: {_scalar(value)}")
    return "\n".join(line for line in lines if line)


def _tensor(name: str, data_type: str, dims: Sequence[int]) -> dict[str, Any]:
    return {"name": name, "data_type": Ident(data_type), "dims": list(dims)}


def network_outputs(manifest: Mapping[str, Any]) -> list[tuple[str, list[int]]]:
    """The network's FP32 outputs and their (static) dims for this model type."""
    height, width = (int(v) for v in manifest["input_size"])
    model_type = manifest["model_type"]
    scores = 1 if model_type == "anomaly" else len(manifest["labels"])
    outputs = [(OUTPUT_SCORES, [scores]), (OUTPUT_ANOMALY_MAP, [height, width])]
    if model_type == "segmentation":
        outputs.append((OUTPUT_CLASS_MAP, [len(manifest["mask_labels"]), height, width]))
    return outputs


def marshal_config(names: ModelNames, max_pixels: int) -> dict[str, Any]:
    return {
        "name": names.marshal,
        "backend": "python",
        "max_batch_size": 0,
        "input": [_tensor(ENCODED_INPUT, "TYPE_STRING", [1])],
        "output": [_tensor(INPUT_NAME, "TYPE_UINT8", [-1, -1, 3])],
        "instance_group": [{"kind": Ident("KIND_CPU"), "count": 1}],
        "parameters": [{"key": "max_pixels", "value": {"string_value": str(max_pixels)}}],
    }


def base_config(names: ModelNames, manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The network model: backend by package format/target; dynamic H and W on the input."""
    config: dict[str, Any] = {"name": names.base}
    if manifest["target"] == "jetson":
        config |= {"platform": "tensorrt_plan", "default_model_filename": "model.plan"}
    elif manifest["format"] == "openvino":
        config |= {"backend": "openvino", "default_model_filename": "model.xml"}
    else:
        config |= {"backend": "onnxruntime", "default_model_filename": "model.onnx"}
    config |= {
        "max_batch_size": 0,
        "input": [_tensor(INPUT_NAME, "TYPE_UINT8", [-1, -1, 3])],
        "output": [_tensor(name, "TYPE_FP32", dims) for name, dims in network_outputs(manifest)],
        "instance_group": [{"kind": Ident(_instance_kind(manifest["target"])), "count": 1}],
    }
    if manifest["target"] == "x86_64-cuda":
        config["optimization"] = CUDA_OPTIMIZATION
    return config


# x86_64-cuda: KIND_AUTO puts the instance on a GPU when the server has one and on the CPU
# otherwise (the fallback); on a GPU, ONNX Runtime's TensorRT provider runs what it can in FP32
# (the precision the parity gate measured), the CUDA provider the rest.
CUDA_OPTIMIZATION: dict[str, Any] = {
    "execution_accelerators": {
        "gpu_execution_accelerator": [
            {
                "name": "tensorrt",
                "parameters": [
                    {"key": "precision_mode", "value": "FP32"},
                    {"key": "max_workspace_size_bytes", "value": "1073741824"},
                ],
            }
        ]
    }
}


def _instance_kind(target: str) -> str:
    return {"jetson": "KIND_GPU", "x86_64-cuda": "KIND_AUTO"}.get(target, "KIND_CPU")


def post_config(
    names: ModelNames, manifest: Mapping[str, Any], postprocess: Mapping[str, Any]
) -> dict[str, Any]:
    inputs = [_tensor(INPUT_NAME, "TYPE_UINT8", [-1, -1, 3])]
    inputs += [_tensor(name, "TYPE_FP32", dims) for name, dims in network_outputs(manifest)]
    settings = {**postprocess, "name": manifest["name"], "version": manifest["version"]}
    return {
        "name": names.post,
        "backend": "python",
        "max_batch_size": 0,
        "input": inputs,
        "output": [_tensor(name, dtype, dims) for name, (dtype, dims) in RESULT_OUTPUTS.items()],
        "instance_group": [{"kind": Ident("KIND_CPU"), "count": 1}],
        "parameters": [
            {"key": POSTPROCESS_PARAMETER, "value": {"string_value": json.dumps(settings, sort_keys=True)}}
        ],
    }


def _map(pairs: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"key": key, "value": value} for key, value in pairs]


def ensemble_config(names: ModelNames, manifest: Mapping[str, Any]) -> dict[str, Any]:
    """marshal -> base -> post; intermediate tensors are named ``_``-prefixed to stay internal."""
    raw = [name for name, _ in network_outputs(manifest)]
    steps = [
        {
            "model_name": names.marshal,
            "model_version": -1,
            "input_map": _map([(ENCODED_INPUT, ENCODED_INPUT)]),
            "output_map": _map([(INPUT_NAME, "_image")]),
        },
        {
            "model_name": names.base,
            "model_version": -1,
            "input_map": _map([(INPUT_NAME, "_image")]),
            "output_map": _map([(name, f"_{name}") for name in raw]),
        },
        {
            "model_name": names.post,
            "model_version": -1,
            "input_map": _map([(INPUT_NAME, "_image"), *((name, f"_{name}") for name in raw)]),
            "output_map": _map([(name, name) for name in RESULT_OUTPUTS]),
        },
    ]
    return {
        "name": names.ensemble,
        "platform": "ensemble",
        "max_batch_size": 0,
        "input": [_tensor(ENCODED_INPUT, "TYPE_STRING", [1])],
        "output": [_tensor(name, dtype, dims) for name, (dtype, dims) in RESULT_OUTPUTS.items()],
        "ensemble_scheduling": {"step": steps},
    }


def repository_configs(
    manifest: Mapping[str, Any], postprocess: Mapping[str, Any], max_pixels: int = 100_000_000
) -> dict[str, str]:
    """``{"<model dir>/config.pbtxt": text}`` for the four models of a package."""
    names = ModelNames.for_model(manifest["name"])
    configs = {
        names.marshal: marshal_config(names, max_pixels),
        names.base: base_config(names, manifest),
        names.post: post_config(names, manifest, postprocess),
        names.ensemble: ensemble_config(names, manifest),
    }
    return {f"{model}/config.pbtxt": render_pbtxt(cfg) + "\n" for model, cfg in configs.items()}
