"""Graph surgery for :mod:`dda.ml.onnx_import`: the contract's pre- and post-processing around an
external ONNX network, as plain ONNX nodes (so every backend that runs our exports runs these).

The pre-processing matches :class:`dda.ml.deploy.DeployModule`: cast, HWC -> NCHW, bilinear resize
(``half_pixel``, no antialias, as ``F.interpolate(..., align_corners=False)``), then the declared
channel order, scale and mean/std (and NHWC when the network wants it).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from dda.core.errors import InvalidInput
from dda.ml.onnx_import import WRAP_OPSET, OnnxGraphInfo, OnnxImportSpec, TensorInfo
from dda.runtime.types import INPUT_NAME, OUTPUT_ANOMALY_MAP, OUTPUT_CLASS_MAP, OUTPUT_SCORES

PREFIX = "ext/"
ELEM = {"float32": TensorProto.FLOAT, "float16": TensorProto.FLOAT16, "float64": TensorProto.DOUBLE}


class _Builder:
    """Collects wrapper nodes and constants with names that cannot clash with the external graph."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.constants: list[onnx.TensorProto] = []
        self._count = 0

    def const(self, values: Any, dtype: Any = np.float32) -> str:
        self._count += 1
        name = f"dda/c{self._count}"
        self.constants.append(numpy_helper.from_array(np.asarray(values, dtype=dtype), name))
        return name

    def op(self, op_type: str, inputs: list[str], output: str | None = None, **attrs: Any) -> str:
        self._count += 1
        out = output or f"dda/t{self._count}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=f"dda/n{self._count}", **attrs))
        return out

    def resize(self, tensor: str, sizes: list[int]) -> str:
        return self.op(
            "Resize",
            [tensor, "", "", self.const(sizes, np.int64)],
            mode="linear",
            coordinate_transformation_mode="half_pixel",
        )


def _upgrade(model: onnx.ModelProto, opset: int) -> onnx.ModelProto:
    if opset >= WRAP_OPSET:
        return model
    try:
        from onnx import version_converter

        return version_converter.convert_version(model, WRAP_OPSET)
    except Exception as exc:
        raise InvalidInput(
            f"the model's opset {opset} could not be upgraded to {WRAP_OPSET} "
            f"({str(exc).splitlines()[0][:200]})",
            hint=f"export the model with opset {WRAP_OPSET} or newer",
        ) from None


def _preprocess(b: _Builder, spec: OnnxImportSpec, size: tuple[int, int], ext_input: TensorInfo) -> str:
    """image uint8 [H, W, 3] -> the external input; returns the normalised NCHW tensor's name."""
    height, width = size
    pixels = b.op("Cast", [INPUT_NAME], to=TensorProto.FLOAT)
    if spec.channel_order == "BGR":
        pixels = b.op("Gather", [pixels, b.const([2, 1, 0], np.int64)], axis=2)
    chw = b.op("Transpose", [pixels], perm=[2, 0, 1])
    nchw = b.op("Unsqueeze", [chw, b.const([0], np.int64)])
    resized = b.resize(nchw, [1, 3, height, width])
    scaled = b.op("Mul", [resized, b.const(spec.scale)])
    mean = b.const(np.asarray(spec.mean, np.float32).reshape(1, 3, 1, 1))
    std = b.const(np.asarray(spec.std, np.float32).reshape(1, 3, 1, 1))
    normalised = b.op("Div", [b.op("Sub", [scaled, mean]), std])
    tensor = b.op("Transpose", [normalised], perm=[0, 2, 3, 1]) if spec.layout == "NHWC" else normalised
    b.op("Cast", [tensor], PREFIX + ext_input.name, to=ELEM.get(ext_input.elem_type, TensorProto.FLOAT))
    return normalised


def _classification(
    b: _Builder, spec: OnnxImportSpec, out: TensorInfo, x: str, size: tuple[int, int]
) -> None:
    values = b.op(
        "Reshape", [b.op("Cast", [PREFIX + out.name], to=TensorProto.FLOAT), b.const([-1], np.int64)]
    )
    if out.shape and out.shape[-1] == 1:  # one value: the defect probability (or its logit)
        p = b.op("Sigmoid", [values]) if spec.output_kind == "logits" else values
        b.op("Concat", [b.op("Sub", [b.const([1.0]), p]), p], OUTPUT_SCORES, axis=0)
    else:
        p = b.op("Softmax", [values], axis=0) if spec.output_kind == "logits" else values
        normal = spec.normal_index()
        order = [normal] + [i for i in range(len(spec.class_names)) if i != normal]
        b.op("Gather", [p, b.const(order, np.int64)], OUTPUT_SCORES, axis=0)
    # Zeros derived from the input (as DeployModule does), so the output is a real node.
    channel = b.op("Gather", [x, b.const(0, np.int64)], axis=1)
    zeros = b.op("Mul", [channel, b.const(0.0)])
    b.op("Reshape", [zeros, b.const(list(size), np.int64)], OUTPUT_ANOMALY_MAP)


def _segmentation(b: _Builder, spec: OnnxImportSpec, out: TensorInfo, size: tuple[int, int]) -> None:
    mask = b.op("Cast", [PREFIX + out.name], to=TensorProto.FLOAT)
    one = b.const([1.0])
    names = len(spec.mask_class_names)
    if out.shape[1] == 1:  # one channel: the defect probability (or its logit)
        p = b.op("Sigmoid", [mask]) if spec.output_kind == "logits" else mask
        probs = b.op("Concat", [b.op("Sub", [one, p]), p], axis=1)
    else:
        p = b.op("Softmax", [mask], axis=1) if spec.output_kind == "logits" else mask
        bg = spec.background_channel
        order = [bg] + [i for i in range(names) if i != bg]
        probs = b.op("Gather", [p, b.const(order, np.int64)], axis=1)
    resized = b.resize(probs, [1, names, size[0], size[1]])
    class_map = b.op("Reshape", [resized, b.const([names, size[0], size[1]], np.int64)], OUTPUT_CLASS_MAP)
    background = b.op("Gather", [class_map, b.const(0, np.int64)], axis=0)
    anomaly_map = b.op("Sub", [one, background], OUTPUT_ANOMALY_MAP)
    peak = b.op("Reshape", [b.op("ReduceMax", [anomaly_map], keepdims=1), b.const([1], np.int64)])
    b.op("Concat", [b.op("Sub", [one, peak]), peak], OUTPUT_SCORES, axis=0)


def _output_infos(
    spec: OnnxImportSpec, size: tuple[int, int], config: dict[str, Any]
) -> list[onnx.ValueInfoProto]:
    outputs = [
        helper.make_tensor_value_info(OUTPUT_SCORES, TensorProto.FLOAT, [len(config["class_names"])]),
        helper.make_tensor_value_info(OUTPUT_ANOMALY_MAP, TensorProto.FLOAT, list(size)),
    ]
    if spec.model_type == "segmentation":
        shape = [len(spec.mask_class_names), *size]
        outputs.append(helper.make_tensor_value_info(OUTPUT_CLASS_MAP, TensorProto.FLOAT, shape))
    return outputs


def wrap_model(
    model: onnx.ModelProto,
    info: OnnxGraphInfo,
    spec: OnnxImportSpec,
    ext_input: TensorInfo,
    size: tuple[int, int],
    config: dict[str, Any],
) -> bytes:
    """The contract graph around ``model`` (already checked by :func:`check_spec`), serialised."""
    upgraded = _upgrade(model, info.opset)
    ext = onnx.compose.add_prefix(upgraded, PREFIX)
    b = _Builder()
    x = _preprocess(b, spec, size, ext_input)
    pre_nodes, b.nodes = b.nodes, []
    if spec.model_type == "classification":
        name = spec.scores_output or next(o.name for o in info.outputs if len(o.shape) in (1, 2))
        _classification(b, spec, next(o for o in info.outputs if o.name == name), x, size)
    else:
        name = spec.mask_output or next(o.name for o in info.outputs if len(o.shape) == 4)
        _segmentation(b, spec, next(o for o in info.outputs if o.name == name), size)
    image = helper.make_tensor_value_info(INPUT_NAME, TensorProto.UINT8, ["height", "width", 3])
    graph = helper.make_graph(
        [*pre_nodes, *ext.graph.node, *b.nodes],
        "dda_onnx_import",
        [image],
        _output_infos(spec, size, config),
        initializer=[*ext.graph.initializer, *b.constants],
        value_info=list(ext.graph.value_info),
    )
    opset = max(info.opset, WRAP_OPSET)
    imports = [helper.make_opsetid("", opset)] + [
        helper.make_opsetid(o.domain, o.version)
        for o in upgraded.opset_import
        if o.domain not in ("", "ai.onnx")
    ]
    wrapped = helper.make_model(
        graph, opset_imports=imports, producer_name="dda", ir_version=max(upgraded.ir_version, 8)
    )
    wrapped.functions.extend(ext.functions)
    for key, value in (
        ("dda.config", json.dumps(config, sort_keys=True)),
        ("dda.exporter", "dda onnx import"),
    ):
        entry = wrapped.metadata_props.add()
        entry.key, entry.value = key, value
    try:
        onnx.checker.check_model(wrapped, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise InvalidInput(
            f"the wrapped model fails onnx.checker: {str(exc).splitlines()[0][:300]}",
            hint="check the declared input/output names and shapes",
        ) from None
    data: bytes = wrapped.SerializeToString()
    return data
