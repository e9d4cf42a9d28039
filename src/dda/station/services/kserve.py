"""The KServe v2 (Open Inference Protocol) over installed models, with Triton's binary tensor
extension so that ``tritonclient.http`` works against the station as it does against Triton.

Inputs: ``image`` UINT8 [H, W, 3] (or [1, H, W, 3]). Outputs: the model's raw ONNX outputs
(``scores``, ``anomaly_map``, ``class_map``), as Triton would return them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from dda.core.errors import InvalidInput, NotFound
from dda.runtime.types import INPUT_NAME, OUTPUT_ANOMALY_MAP, OUTPUT_CLASS_MAP, OUTPUT_SCORES
from dda.station.context import Station
from dda.station.services.models import installed_dirs

HEADER_LENGTH = "Inference-Header-Content-Length"
MAX_REQUEST_BYTES = 68 * 1024 * 1024  # the route's body cap (api/limits.py) refuses more first
DTYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
}
NAMES = {dtype: name for name, dtype in DTYPES.items()}


def datatype_of(array: np.ndarray) -> str:
    try:
        return NAMES[array.dtype]
    except KeyError as exc:
        raise InvalidInput(f"the model returned dtype {array.dtype}, which KServe v2 cannot carry") from exc


def _versions(station: Station, name: str) -> list[tuple[str, str]]:
    """(created_at, version) of the installed versions of ``name``, oldest first."""
    from dda.packaging.manifest import read_manifest

    found = []
    for package_dir in installed_dirs(station.paths.model_repo):
        if package_dir.parent.name == name:
            manifest = read_manifest(package_dir)
            found.append((manifest.created_at.isoformat(), manifest.version))
    return sorted(found)


def resolve_version(station: Station, name: str, version: str | None) -> str:
    """The given version, else the newest loaded one, else the newest installed one."""
    if version:
        station.registry.package_dir(name, version)
        return version
    versions = _versions(station, name)
    if not versions:
        raise NotFound(f"model {name!r} is not installed", hint="GET /api/v1/models lists installed models")
    loaded = [v for _, v in versions if station.registry.is_loaded(name, v)]
    return loaded[-1] if loaded else versions[-1][1]


def model_metadata(station: Station, name: str, version: str | None) -> dict[str, Any]:
    from dda.packaging.manifest import read_manifest

    chosen = resolve_version(station, name, version)
    manifest = read_manifest(station.registry.package_dir(name, chosen))
    outputs = [
        {"name": OUTPUT_SCORES, "datatype": "FP32", "shape": [-1]},
        {"name": OUTPUT_ANOMALY_MAP, "datatype": "FP32", "shape": [-1, -1]},
    ]
    if manifest.model_type == "segmentation":
        outputs.append({"name": OUTPUT_CLASS_MAP, "datatype": "FP32", "shape": [-1, -1, -1]})
    return {
        "name": name,
        "versions": [v for _, v in _versions(station, name)],
        "platform": "onnxruntime_onnx" if manifest.format == "onnx" else "openvino",
        "inputs": [{"name": INPUT_NAME, "datatype": "UINT8", "shape": [-1, -1, 3]}],
        "outputs": outputs,
        "parameters": {"model_type": manifest.model_type, "labels": manifest.labels, "version": chosen},
    }


@dataclass
class InferRequest:
    id: str | None
    inputs: dict[str, np.ndarray]
    outputs: list[dict[str, Any]] | None  # requested outputs (None: all)


MAX_HEADER_BYTES = 4 * 1024 * 1024  # the JSON part; tensors go in the binary part
MAX_IMAGE_BYTES = 64 * 1024 * 1024


def _header_split(body: bytes, header_length: str | None) -> int:
    if header_length is None:
        return len(body)
    text = header_length.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise InvalidInput(
            f"{HEADER_LENGTH} must be a non-negative integer", hint="the JSON header's byte count"
        )
    split = int(text)
    if split > len(body):
        raise InvalidInput(f"{HEADER_LENGTH} is outside the request body")
    return split


def _header(body: bytes, split: int) -> dict[str, Any]:
    if split > MAX_HEADER_BYTES:
        raise InvalidInput(
            f"the JSON part of the inference request is over {MAX_HEADER_BYTES // 2**20} MiB",
            hint="send large tensors with the binary tensor extension (binary_data_size)",
        )
    try:
        header = json.loads(body[:split])
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidInput(f"the inference request is not JSON: {exc}") from exc
    if not isinstance(header, dict):
        raise InvalidInput("the inference request must be a JSON object", hint='{"inputs": [...]}')
    inputs, outputs = header.get("inputs"), header.get("outputs")
    if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
        raise InvalidInput("'inputs' must be a list of objects", hint='{"inputs": [{"name": "image", ...}]}')
    if outputs is not None and (
        not isinstance(outputs, list) or not all(isinstance(o, dict) for o in outputs)
    ):
        raise InvalidInput("'outputs' must be a list of objects", hint='[{"name": "scores"}]')
    if header.get("id") is not None and not isinstance(header.get("id"), str):
        raise InvalidInput("'id' must be a string")
    return header


def _shape(name: object, datatype: object, shape: object) -> list[int]:
    if (
        not isinstance(datatype, str)
        or datatype not in DTYPES
        or not isinstance(shape, list)
        or not 1 <= len(shape) <= 8
        or not all(type(d) is int and 0 <= d <= 2**31 for d in shape)
    ):
        raise InvalidInput(f"input {name!r}: bad datatype {datatype!r} or shape {shape!r}")
    if math.prod(shape) * DTYPES[str(datatype)].itemsize > MAX_IMAGE_BYTES:
        raise InvalidInput(f"input {name!r}: shape {shape} is over {MAX_IMAGE_BYTES // 2**20} MiB")
    return list(shape)


def _json_data(name: object, data: object, dtype: np.dtype[Any], count: int) -> np.ndarray:
    if not isinstance(data, list):
        raise InvalidInput(f"input {name!r}: 'data' must be a list")
    try:
        with np.errstate(all="raise"):
            flat = np.asarray(data).ravel()
            if flat.size != count:
                raise InvalidInput(f"input {name!r}: {flat.size} values do not fill the shape")
            if flat.dtype.kind not in "biuf":
                raise InvalidInput(f"input {name!r}: 'data' must hold numbers")
            if (
                dtype.kind in "iu"
                and flat.size
                and (flat.min() < np.iinfo(dtype).min or flat.max() > np.iinfo(dtype).max)
            ):
                raise InvalidInput(f"input {name!r}: a value is outside the range of {NAMES[dtype]}")
            return flat.astype(dtype)
    except (ValueError, TypeError, OverflowError, FloatingPointError) as exc:
        raise InvalidInput(f"input {name!r}: 'data' is not a list of {NAMES[dtype]} values") from exc


def parse_request(body: bytes, header_length: str | None) -> InferRequest:
    """Parse a KServe v2 request (JSON, or JSON header + binary tensors); anything malformed is
    an InvalidInput naming what is wrong, never a server error."""
    if len(body) > MAX_REQUEST_BYTES:
        raise InvalidInput("the inference request is too large", hint="send a smaller image")
    split = _header_split(body, header_length)
    header = _header(body, split)
    binary, offset, inputs = memoryview(body)[split:], 0, {}
    for spec in header["inputs"]:
        name, datatype = spec.get("name"), spec.get("datatype")
        shape = _shape(name, datatype, spec.get("shape"))
        dtype, count = DTYPES[str(datatype)], math.prod(shape)
        parameters = spec.get("parameters") or {}
        size = parameters.get("binary_data_size") if isinstance(parameters, dict) else None
        if size is not None:
            if type(size) is not int or size != count * dtype.itemsize or offset + size > len(binary):
                raise InvalidInput(
                    f"input {name!r}: binary_data_size {size!r} does not match shape {shape} "
                    f"of {datatype} or the bytes sent"
                )
            array = np.frombuffer(binary[offset : offset + size], dtype=dtype)
            offset += size
        else:
            array = _json_data(name, spec.get("data"), dtype, count)
        inputs[str(name)] = array.reshape(shape)
    return InferRequest(header.get("id"), inputs, header.get("outputs"))


def image_input(request: InferRequest) -> np.ndarray:
    image = request.inputs.get(INPUT_NAME)
    if image is None:
        raise InvalidInput(
            f"the request has no input named {INPUT_NAME!r}",
            hint="send the image as UINT8 [H, W, 3] named 'image'",
        )
    if image.ndim == 4 and image.shape[0] == 1:
        image = image[0]
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise InvalidInput(f"input 'image' must be UINT8 [H, W, 3], got {image.dtype} {list(image.shape)}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise InvalidInput(f"input 'image' is empty: shape {list(image.shape)}", hint="send a real image")
    return np.ascontiguousarray(image)


def build_response(
    name: str, version: str, request: InferRequest, outputs: dict[str, np.ndarray]
) -> tuple[bytes, int | None]:
    """Response bytes, and the JSON header length when binary tensors follow it."""
    wanted: list[Any] = request.outputs if request.outputs is not None else [{"name": n} for n in outputs]
    entries, blobs = [], []
    for item in wanted:
        if not isinstance(item, dict):
            raise InvalidInput("each requested output must be an object with a name")
        out_name = item.get("name")
        if not isinstance(out_name, str) or out_name not in outputs:
            raise InvalidInput(f"the model has no output {out_name!r}", hint=f"outputs: {sorted(outputs)}")
        array = np.ascontiguousarray(outputs[out_name])
        entry: dict[str, Any] = {"name": out_name, "datatype": datatype_of(array), "shape": list(array.shape)}
        parameters = item.get("parameters")
        if isinstance(parameters, dict) and parameters.get("binary_data") is True:
            raw = array.tobytes()
            entry["parameters"] = {"binary_data_size": len(raw)}
            blobs.append(raw)
        else:
            entry["data"] = array.ravel().tolist()
        entries.append(entry)
    header: dict[str, Any] = {"model_name": name, "model_version": version, "outputs": entries}
    if request.id is not None:
        header["id"] = request.id
    encoded = json.dumps(header).encode()
    if not blobs:
        return encoded, None
    return encoded + b"".join(blobs), len(encoded)
