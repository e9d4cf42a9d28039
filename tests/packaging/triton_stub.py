"""A stand-in for ``triton_python_backend_utils``, which exists only inside a Triton server.

It implements the part of that module's interface the package's Python models use (Tensor,
InferenceRequest, InferenceResponse, TritonError, get_input_tensor_by_name), so the very model.py
files a package ships can be run here, with Triton's ``args["model_config"]`` built the way Triton
builds it: the config.pbtxt parsed with Triton's ModelConfig protobuf and serialised to JSON.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
from google.protobuf import json_format, text_format
from tritonclient.grpc import model_config_pb2


class Tensor:
    def __init__(self, name: str, array: np.ndarray) -> None:
        self._name, self._array = name, np.asarray(array)

    def name(self) -> str:
        return self._name

    def as_numpy(self) -> np.ndarray:
        return self._array


class TritonError:
    def __init__(self, message: str) -> None:
        self._message = message

    def message(self) -> str:
        return self._message


class InferenceRequest:
    def __init__(self, inputs: list[Tensor]) -> None:
        self.inputs = inputs


class InferenceResponse:
    def __init__(self, output_tensors: list[Tensor], error: TritonError | None = None) -> None:
        self.output_tensors, self.error = output_tensors, error

    def has_error(self) -> bool:
        return self.error is not None

    def outputs(self) -> dict[str, np.ndarray]:
        return {t.name(): t.as_numpy() for t in self.output_tensors}


def get_input_tensor_by_name(request: InferenceRequest, name: str) -> Tensor | None:
    return next((t for t in request.inputs if t.name() == name), None)


def parse_config(path: Path) -> model_config_pb2.ModelConfig:
    return text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())


def load_python_model(model_dir: Path) -> Any:
    """Import ``<model_dir>/1/model.py`` with this stub as triton_python_backend_utils and initialise it."""
    stub = types.ModuleType("triton_python_backend_utils")
    for name in (
        "Tensor",
        "TritonError",
        "InferenceRequest",
        "InferenceResponse",
        "get_input_tensor_by_name",
    ):
        setattr(stub, name, globals()[name])
    sys.modules["triton_python_backend_utils"] = stub
    sys.modules.pop("dda_postprocess", None)  # each package brings its own copy
    spec = importlib.util.spec_from_file_location(
        f"triton_model_{model_dir.name}", model_dir / "1" / "model.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = json_format.MessageToJson(
        parse_config(model_dir / "config.pbtxt"), preserving_proto_field_name=True
    )
    model = module.TritonPythonModel()
    model.initialize({"model_config": config, "model_name": model_dir.name, "model_version": "1"})
    return model
