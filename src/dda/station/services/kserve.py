"""The KServe v2 (Open Inference Protocol) over installed models, with Triton's binary tensor
extension so that ``tritonclient.http`` works against the station as it does against Triton.

Inputs: ``image`` UINT8 [H, W, 3] (or [1, H, W, 3]). Outputs: the model's raw ONNX outputs
(``scores``, ``anomaly_map``, ``class_map``), as Triton would return them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from dda.core.errors import InvalidInput, NotFound
from dda.runtime.types import INPUT_NAME, OUTPUT_ANOMALY_MAP, OUTPUT_CLASS_MAP, OUTPUT_SCORES
from dda.station.context import Station
from dda.station.services.models import installed_dirs

HEADER_LENGTH = "Inference-Header-Content-Length"
MAX_REQUEST_BYTES = 256 * 1024 * 1024
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


def parse_request(body: bytes, header_length: str | None) -> InferRequest:
    if len(body) > MAX_REQUEST_BYTES:
        raise InvalidInput("the inference request is too large", hint="send a smaller image")
    split = int(header_length) if header_length else len(body)
    if not 0 <= split <= len(body):
        raise InvalidInput(f"{HEADER_LENGTH} is outside the request body")
    try:
        header = json.loads(body[:split])
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"the inference request is not JSON: {exc}") from exc
    binary, offset, inputs = body[split:], 0, {}
    for spec in header.get("inputs") or []:
        name, datatype, shape = spec.get("name"), spec.get("datatype"), spec.get("shape")
        if (
            datatype not in DTYPES
            or not isinstance(shape, list)
            or not all(isinstance(d, int) and d >= 0 for d in shape)
        ):
            raise InvalidInput(f"input {name!r}: bad datatype {datatype!r} or shape {shape!r}")
        dtype = DTYPES[datatype]
        size = (spec.get("parameters") or {}).get("binary_data_size")
        if size is not None:
            raw = binary[offset : offset + int(size)]
            offset += int(size)
            array = np.frombuffer(raw, dtype=dtype)
        else:
            array = np.asarray(spec.get("data", []), dtype=dtype)
        if array.size != int(np.prod(shape)):
            raise InvalidInput(f"input {name!r}: {array.size} values do not fill shape {shape}")
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
        if out_name not in outputs:
            raise InvalidInput(f"the model has no output {out_name!r}", hint=f"outputs: {sorted(outputs)}")
        array = np.ascontiguousarray(outputs[out_name])
        entry: dict[str, Any] = {"name": out_name, "datatype": datatype_of(array), "shape": list(array.shape)}
        if (item.get("parameters") or {}).get("binary_data"):
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
