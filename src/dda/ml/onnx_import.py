"""Bring your own model: an ONNX classifier or segmenter trained elsewhere, wrapped into the model contract.

An external network takes a normalised float tensor (``[N, 3, H, W]`` or ``[N, H, W, 3]``, RGB or BGR,
its own scale/mean/std) and returns logits or probabilities in its own class order. :func:`wrap_onnx`
builds one ONNX graph with the DDA contract around it (docs/model-contract.md): input ``image`` uint8
``[H, W, 3]`` RGB of any size; the declared pre-processing (bilinear resize to the input size without
antialias, channel order, scale, mean/std, layout) in front; softmax/sigmoid, class re-ordering
(``normal`` / background first) and the contract outputs (``scores``, ``anomaly_map``[, ``class_map``])
behind. The result is stored as a model.tar.gz holding ``model.onnx`` instead of ``weights.pt``
(:func:`dda.ml.artifact.save_onnx_artifact`), so it is evaluated, exported, packaged and run like a
model trained here.

:func:`inspect_onnx` reads what the graph tells (input layout and size, outputs and their shapes,
whether they end in a softmax) and proposes a spec for a person to confirm; :func:`check_spec` names
everything that does not fit before anything is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import onnx
from onnx import TensorProto
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dda.core.errors import InvalidInput
from dda.ml.backbones import IMAGENET_MEAN, IMAGENET_STD

MAX_ONNX_BYTES = 2 << 30
WRAP_OPSET = 17  # the wrapper's own nodes; older graphs are upgraded, newer ones keep theirs
FLOAT_TYPES: dict[int, str] = {
    int(TensorProto.FLOAT): "float32",
    int(TensorProto.FLOAT16): "float16",
    int(TensorProto.DOUBLE): "float64",
}
NORMAL_NAMES = ("normal", "good", "ok", "pass", "background", "negative")
PROBABILITY_OPS = ("Softmax", "Sigmoid")
BACKBONE = "onnx-import"


class OnnxImportSpec(BaseModel):
    """What an external ONNX model expects and returns (declared, or inferred and confirmed)."""

    model_config = ConfigDict(extra="forbid")

    model_type: Literal["classification", "segmentation"]
    input_name: str | None = Field(default=None, max_length=256, description="default: the only input")
    layout: Literal["NCHW", "NHWC"] = "NCHW"
    input_size: tuple[int, int] | None = Field(
        default=None, description="[height, width]; needed when dynamic"
    )
    channel_order: Literal["RGB", "BGR"] = "RGB"
    scale: float = Field(
        default=1 / 255, gt=0, le=1, description="pixel values (0..255) are multiplied by this"
    )
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    output_kind: Literal["logits", "probabilities"] = "logits"
    # classification: the scores output, its class names in output order and which one is normal
    scores_output: str | None = Field(default=None, max_length=256)
    class_names: list[str] = Field(
        default_factory=lambda: ["normal", "anomaly"], min_length=2, max_length=1000
    )
    normal_class: str | None = Field(default=None, max_length=100)
    anomaly_class: str | None = Field(default=None, max_length=100)
    # segmentation: the mask output [N, K, h, w] (K = 1: P(defect)), its channel names, background channel
    mask_output: str | None = Field(default=None, max_length=256)
    mask_class_names: list[str] = Field(
        default_factory=lambda: ["background", "defect"], min_length=2, max_length=256
    )
    background_channel: int = Field(default=0, ge=0)
    threshold: float = Field(default=0.5, ge=0, le=1)
    pixel_threshold: float = Field(default=0.5, ge=0, le=1)
    min_defect_area_pct: float = Field(default=0.0, ge=0, le=100)

    @model_validator(mode="after")
    def _names(self) -> OnnxImportSpec:
        for names in (self.class_names, self.mask_class_names):
            if len(set(names)) != len(names) or not all(1 <= len(n) <= 100 for n in names):
                raise ValueError("class names must be unique, 1-100 characters each")
        if any(v <= 0 for v in self.std):
            raise ValueError("std values must be > 0")
        return self

    def normal_index(self) -> int:
        """Which class of the scores output means 'normal' (everything else is a defect)."""
        names = self.class_names
        if self.normal_class is not None:
            if self.normal_class not in names:
                raise InvalidInput(f"normal_class {self.normal_class!r} is not among class_names {names}")
            return names.index(self.normal_class)
        if self.anomaly_class is not None:
            if self.anomaly_class not in names:
                raise InvalidInput(f"anomaly_class {self.anomaly_class!r} is not among class_names {names}")
            if len(names) != 2:
                raise InvalidInput(
                    "anomaly_class only decides a two-class model",
                    hint="declare normal_class for more classes",
                )
            return 1 - names.index(self.anomaly_class)
        for i, name in enumerate(names):
            if name.lower() in NORMAL_NAMES:
                return i
        raise InvalidInput(
            f"which of {names} means 'normal' is not declared", hint="set normal_class (or anomaly_class)"
        )

    def contract_class_names(self) -> list[str]:
        """Class names in contract order: the normal class first, then the defects in model order."""
        if self.model_type == "segmentation":
            return ["normal", "anomaly"]
        normal = self.normal_index()
        return [self.class_names[normal]] + [n for i, n in enumerate(self.class_names) if i != normal]

    def contract_mask_names(self) -> list[str]:
        bg = self.background_channel
        names = self.mask_class_names
        return [names[bg]] + [n for i, n in enumerate(names) if i != bg]


def parse_spec(data: dict[str, Any]) -> OnnxImportSpec:
    try:
        return OnnxImportSpec.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'spec'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInput(f"the import spec is invalid: {problems}", hint="fix the named fields") from exc


@dataclass
class TensorInfo:
    name: str
    elem_type: str
    shape: list[int | str | None]  # int: static; str: a named dynamic dim; None: unknown

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.elem_type, "shape": self.shape}


@dataclass
class OnnxGraphInfo:
    """What the graph itself says."""

    opset: int
    producer: str
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    output_ops: dict[str, str]  # output name -> op type that produces it
    size_bytes: int
    external_data: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "opset": self.opset,
            "producer": self.producer,
            "inputs": [t.as_dict() for t in self.inputs],
            "outputs": [t.as_dict() for t in self.outputs],
            "output_ops": self.output_ops,
            "size_bytes": self.size_bytes,
        }


@dataclass
class Inspection:
    graph: OnnxGraphInfo | None
    spec: dict[str, Any] = field(default_factory=dict)
    inferred: list[str] = field(default_factory=list)  # fields read from the graph
    assumed: list[str] = field(default_factory=list)  # defaults a person must confirm
    problems: list[str] = field(default_factory=list)


def load_model_bytes(data: bytes, max_bytes: int = MAX_ONNX_BYTES) -> onnx.ModelProto:
    """Parse ONNX bytes; InvalidInput when they are too large or not an ONNX model."""
    if len(data) > max_bytes:
        raise InvalidInput(f"the ONNX file is {len(data)} bytes; the limit is {max_bytes}")
    try:
        model = onnx.load_model_from_string(data)
    except Exception as exc:  # protobuf DecodeError and friends
        raise InvalidInput("the file is not an ONNX model (it does not parse as ONNX protobuf)") from exc
    if not model.HasField("graph") or not model.graph.node:
        raise InvalidInput("the file is not an ONNX model (it has no graph)", hint="export the model to ONNX")
    return model


def _elem_type(value: onnx.ValueInfoProto) -> str:
    elem = int(value.type.tensor_type.elem_type)
    if elem in FLOAT_TYPES:
        return FLOAT_TYPES[elem]
    return str(TensorProto.DataType.Name(elem)).lower() if elem else "unknown"


def _shape(value: onnx.ValueInfoProto) -> list[int | str | None]:
    if not value.type.tensor_type.HasField("shape"):
        return []
    dims: list[int | str | None] = []
    for dim in value.type.tensor_type.shape.dim:
        if dim.HasField("dim_value") and dim.dim_value > 0:
            dims.append(int(dim.dim_value))
        else:
            dims.append(dim.dim_param or None)
    return dims


def default_opset(model: onnx.ModelProto) -> int:
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            return int(entry.version)
    return 0


def graph_info(model: onnx.ModelProto, size_bytes: int) -> OnnxGraphInfo:
    initializers = {init.name for init in model.graph.initializer}
    inputs = [
        TensorInfo(v.name, _elem_type(v), _shape(v)) for v in model.graph.input if v.name not in initializers
    ]
    outputs = [TensorInfo(v.name, _elem_type(v), _shape(v)) for v in model.graph.output]
    producers = {out: node.op_type for node in model.graph.node for out in node.output}
    external = any(init.data_location == TensorProto.EXTERNAL for init in model.graph.initializer)
    return OnnxGraphInfo(
        opset=default_opset(model),
        producer=f"{model.producer_name} {model.producer_version}".strip()[:100],
        inputs=inputs,
        outputs=outputs,
        output_ops={o.name: producers.get(o.name, "") for o in outputs},
        size_bytes=size_bytes,
        external_data=external,
    )


def _guess_layout(shape: Sequence[int | str | None]) -> tuple[str, tuple[int, int] | None]:
    if len(shape) == 4 and shape[3] == 3 and shape[1] != 3:
        height, width = shape[1], shape[2]
        layout = "NHWC"
    else:
        height, width = (shape[2], shape[3]) if len(shape) == 4 else (None, None)
        layout = "NCHW"
    size = (height, width) if isinstance(height, int) and isinstance(width, int) else None
    return layout, size


def inspect_onnx(data: bytes, max_bytes: int = MAX_ONNX_BYTES) -> Inspection:
    """Read the graph and propose a spec: what is read from the graph is listed in ``inferred``,
    what could only be assumed (normalisation, class names) in ``assumed``; ``problems`` says what
    already does not fit. Raises InvalidInput only when the file is not ONNX at all."""
    model = load_model_bytes(data, max_bytes)
    info = graph_info(model, len(data))
    result = Inspection(graph=info)
    spec: dict[str, Any] = {}
    if len(info.inputs) == 1:
        spec["input_name"] = info.inputs[0].name
        spec["layout"], size = _guess_layout(info.inputs[0].shape)
        result.inferred += ["input_name", "layout"]
        if size is not None:
            spec["input_size"] = list(size)
            result.inferred.append("input_size")
    mask_outputs = [o for o in info.outputs if len(o.shape) == 4]
    score_outputs = [o for o in info.outputs if len(o.shape) in (1, 2)]
    out = _guess_outputs(spec, result, mask_outputs, score_outputs)
    if out is not None:
        result.inferred.append("output_kind")
        spec["output_kind"] = (
            "probabilities" if info.output_ops.get(out.name) in PROBABILITY_OPS else "logits"
        )
    spec.update(channel_order="RGB", scale=1 / 255, mean=list(IMAGENET_MEAN), std=list(IMAGENET_STD))
    result.assumed += ["channel_order", "scale", "mean", "std", "threshold"]
    spec["threshold"] = 0.5
    result.spec = spec
    try:
        result.problems = check_spec(model, info, parse_spec(spec))
    except InvalidInput as exc:
        result.problems = [exc.message]
    return result


def _guess_outputs(
    spec: dict[str, Any], result: Inspection, masks: list[TensorInfo], scores: list[TensorInfo]
) -> TensorInfo | None:
    """Model type and output meaning from the output shapes (rank 4: a mask; rank 1-2: scores)."""
    if masks:
        spec["model_type"] = "segmentation"
        result.inferred.append("model_type")
        if len(masks) != 1:
            return None
        out = masks[0]
        spec["mask_output"] = out.name
        result.inferred.append("mask_output")
        channels = out.shape[1]
        if isinstance(channels, int) and channels > 2:
            spec["mask_class_names"] = ["background"] + [f"defect_{i}" for i in range(1, channels)]
            result.assumed += ["mask_class_names", "background_channel"]
        elif channels == 1:
            spec["mask_class_names"] = ["background", "defect"]
        return out
    if not scores:
        return None
    spec["model_type"] = "classification"
    result.inferred.append("model_type")
    if len(scores) != 1:
        return None
    out = scores[0]
    spec["scores_output"] = out.name
    result.inferred.append("scores_output")
    count = out.shape[-1]
    if isinstance(count, int) and count > 2:
        spec["class_names"] = [f"class_{i}" for i in range(count)]
        spec["normal_class"] = "class_0"
    else:
        spec["class_names"], spec["anomaly_class"] = ["normal", "anomaly"], "anomaly"
    result.assumed += ["class_names", "normal_class" if "normal_class" in spec else "anomaly_class"]
    return out


def _check_input(info: OnnxGraphInfo, spec: OnnxImportSpec) -> tuple[list[str], TensorInfo | None]:
    problems: list[str] = []
    names = [i.name for i in info.inputs]
    if spec.input_name is not None:
        chosen = next((i for i in info.inputs if i.name == spec.input_name), None)
        if chosen is None:
            return [f"input {spec.input_name!r} is not an input of the graph (it has {names})"], None
    elif len(info.inputs) != 1:
        return [
            f"the graph has {len(info.inputs)} inputs ({names}); an image model takes one image tensor"
        ], None
    else:
        chosen = info.inputs[0]
    shape = chosen.shape
    if len(shape) != 4:
        problems.append(
            f"input {chosen.name!r} has rank {len(shape)} (shape {shape}); an image model takes "
            "[N, 3, H, W] (NCHW) or [N, H, W, 3] (NHWC)"
        )
        return problems, chosen
    channel_axis, hw = (1, (2, 3)) if spec.layout == "NCHW" else (3, (1, 2))
    if isinstance(shape[channel_axis], int) and shape[channel_axis] != 3:
        problems.append(
            f"input {chosen.name!r} has {shape[channel_axis]} channels on the {spec.layout} channel axis; "
            "it must take 3 (RGB/BGR) — is the layout right?"
        )
    if isinstance(shape[0], int) and shape[0] != 1:
        problems.append(f"input {chosen.name!r} has a fixed batch of {shape[0]}; it must accept batch 1")
    static = [shape[a] for a in hw]
    if spec.input_size is None and not all(isinstance(d, int) for d in static):
        problems.append(
            f"input {chosen.name!r} has dynamic height/width {static}: declare input_size [height, width]"
        )
    if spec.input_size is not None:
        for dim, declared, what in zip(static, spec.input_size, ("height", "width"), strict=True):
            if isinstance(dim, int) and dim != declared:
                problems.append(
                    f"declared input {what} {declared} does not match the graph's fixed {what} {dim}"
                )
        if not all(8 <= v <= 4096 for v in spec.input_size):
            problems.append(f"input_size {list(spec.input_size)} is outside 8..4096 pixels per side")
    if chosen.elem_type not in FLOAT_TYPES.values():
        problems.append(f"input {chosen.name!r} is {chosen.elem_type}; a float32/float16 input is needed")
    return problems, chosen


def _pick_output(
    info: OnnxGraphInfo, declared: str | None, rank_ok: Sequence[int], what: str
) -> tuple[list[str], TensorInfo | None]:
    names = [o.name for o in info.outputs]
    if declared is not None:
        chosen = next((o for o in info.outputs if o.name == declared), None)
        if chosen is None:
            return [f"{what} output {declared!r} is not an output of the graph (it has {names})"], None
    else:
        fitting = [o for o in info.outputs if len(o.shape) in rank_ok]
        if len(fitting) != 1:
            return [
                f"the graph has {len(info.outputs)} outputs ({names}); declare which is the {what} output"
            ], None
        chosen = fitting[0]
    if len(chosen.shape) not in rank_ok:
        return [
            f"{what} output {chosen.name!r} has shape {chosen.shape}; "
            f"expected rank {' or '.join(map(str, rank_ok))}"
        ], chosen
    return [], chosen


def _check_outputs(info: OnnxGraphInfo, spec: OnnxImportSpec) -> list[str]:
    if spec.model_type == "classification":
        problems, out = _pick_output(info, spec.scores_output, (1, 2), "scores")
        if out is not None and not problems:
            count = out.shape[-1]
            expected = len(spec.class_names)
            if isinstance(count, int) and count not in (expected, 1 if expected == 2 else expected):
                problems.append(
                    f"scores output {out.name!r} has {count} values but {expected} class names are declared"
                )
            if len(out.shape) == 2 and isinstance(out.shape[0], int) and out.shape[0] != 1:
                problems.append(f"scores output {out.name!r} has a batch of {out.shape[0]}; expected 1")
        try:
            spec.normal_index()
        except InvalidInput as exc:
            problems.append(exc.message)
        return problems
    problems, out = _pick_output(info, spec.mask_output, (4,), "mask")
    if out is not None and not problems:
        channels = out.shape[1]
        expected = len(spec.mask_class_names)
        if isinstance(channels, int) and channels not in (expected, 1 if expected == 2 else expected):
            problems.append(
                f"mask output {out.name!r} has {channels} channels (axis 1) "
                f"but {expected} mask class names are declared"
            )
        if spec.background_channel >= expected:
            problems.append(
                f"background_channel {spec.background_channel} is not one of the {expected} mask channels"
            )
    return problems


def _check_opset(info: OnnxGraphInfo) -> list[str]:
    import onnxruntime as ort

    if info.opset == 0:
        return ["the graph imports no standard ONNX opset"]
    if info.opset > onnx.defs.onnx_opset_version():
        return [
            f"opset {info.opset} is newer than this installation supports "
            f"(onnx {onnx.__version__}: up to {onnx.defs.onnx_opset_version()}, "
            f"onnxruntime {ort.__version__})"
        ]
    if info.opset < 7:
        return [
            f"opset {info.opset} is too old to convert; export the model with opset {WRAP_OPSET} or newer"
        ]
    return []


def _check_runtime(model: onnx.ModelProto, info: OnnxGraphInfo) -> list[str]:
    import onnxruntime as ort

    try:
        ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises Fail/InvalidGraph/NotImplemented...
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        return [f"onnxruntime {ort.__version__} cannot load the model (opset {info.opset}): {first}"]
    return []


def check_spec(model: onnx.ModelProto, info: OnnxGraphInfo, spec: OnnxImportSpec) -> list[str]:
    """Everything that does not fit, in words (empty: the model can be wrapped)."""
    problems = _check_opset(info)
    if info.external_data:
        problems.append("the model keeps weights in external data files; save it with the weights embedded")
    input_problems, _ = _check_input(info, spec)
    problems += input_problems
    problems += _check_outputs(info, spec)
    if not problems:
        problems += _check_runtime(model, info)
    return problems


def contract_config(spec: OnnxImportSpec, info: OnnxGraphInfo, input_size: tuple[int, int]) -> dict[str, Any]:
    """The artifact's config.json for an imported model (the keys dda.ml, packaging and the runtime read)."""
    seg = spec.model_type == "segmentation"
    return {
        "model_type": spec.model_type,
        "backbone": BACKBONE,
        "input_size": [int(input_size[0]), int(input_size[1])],
        "class_names": spec.contract_class_names(),
        "mask_class_names": spec.contract_mask_names() if seg else None,
        "threshold": spec.threshold,
        "pixel_threshold": spec.pixel_threshold if seg else None,
        "min_defect_area_pct": spec.min_defect_area_pct,
        "verdict_rule": "seg_head" if seg else "cls_head",
        "mean": list(spec.mean),
        "std": list(spec.std),
        "onnx_import": {**spec.model_dump(mode="json"), "opset": info.opset, "producer": info.producer},
    }


def import_onnx(
    data: bytes, spec: OnnxImportSpec, *, max_bytes: int = MAX_ONNX_BYTES
) -> tuple[bytes, dict[str, Any]]:
    """Check ``data`` against ``spec`` and wrap it into the contract: (contract ONNX bytes, config).
    InvalidInput lists every problem when it does not fit."""
    from dda.ml.export.onnx_export import verify_onnx
    from dda.ml.onnx_wrap import wrap_model

    model = load_model_bytes(data, max_bytes)
    info = graph_info(model, len(data))
    problems = check_spec(model, info, spec)
    if problems:
        raise InvalidInput(
            "the ONNX model does not fit: " + "; ".join(problems),
            hint="fix the declared spec (or the model) and import again",
        )
    _, chosen = _check_input(info, spec)
    assert chosen is not None
    hw = (chosen.shape[2], chosen.shape[3]) if spec.layout == "NCHW" else (chosen.shape[1], chosen.shape[2])
    input_size = spec.input_size or (int(hw[0]), int(hw[1]))  # type: ignore[arg-type]
    config = contract_config(spec, info, input_size)
    wrapped = wrap_model(model, info, spec, chosen, input_size, config)
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="dda-onnx-import-") as tmp:
        path = Path(tmp) / "model.onnx"
        path.write_bytes(wrapped)
        try:
            verify_onnx(path, config)
        except InvalidInput as exc:
            raise InvalidInput(
                "the wrapped model does not meet the contract: "
                + exc.message.replace(str(path), "model.onnx"),
                hint="check the declared output meaning (class/mask names, output names)",
            ) from None
    return wrapped, config


__all__ = [
    "BACKBONE",
    "Inspection",
    "OnnxGraphInfo",
    "OnnxImportSpec",
    "check_spec",
    "contract_config",
    "graph_info",
    "import_onnx",
    "inspect_onnx",
    "load_model_bytes",
    "parse_spec",
]
