"""Inference backends behind :class:`dda.runtime.types.InferenceBackend`: ONNX Runtime and OpenVINO.

A backend runs one exported model (pre-processing baked in) on one uint8 [H, W, 3] RGB image and
returns the contract's named outputs. Backends register a factory by name in :data:`BACKENDS`; the
conformance test in ``tests/runtime`` runs against every registered backend that is installed.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dda.core.errors import InvalidInput, NotFound, Unavailable
from dda.runtime.types import INPUT_NAME, InferenceBackend

# Preferred ONNX Runtime providers, best first; only those installed are used.
PREFERRED_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")


@dataclass(frozen=True)
class BackendOptions:
    """Tuning shared by every backend. ``threads=None`` lets the backend use the physical cores."""

    threads: int | None = None
    device: str = "CPU"  # OpenVINO device name; ONNX Runtime uses ``providers``
    precision_hint: str = "f32"  # OpenVINO inference precision: f32, bf16 or f16
    providers: tuple[str, ...] | None = None


def _check_model_file(path: Path, suffixes: Sequence[str]) -> Path:
    if not path.is_file():
        raise NotFound(f"model file {path} does not exist", hint="point at an exported model or package")
    if path.suffix not in suffixes:
        raise InvalidInput(
            f"{path.name} is not a model this backend reads (expected {', '.join(suffixes)})",
            hint="use backend='openvino' for .xml IR files and 'onnxruntime' for .onnx files",
        )
    return path


class OnnxRuntimeBackend:
    """ONNX Runtime with full graph optimisation and a fixed intra-op thread pool."""

    name = "onnxruntime"

    def __init__(self, model_path: Path, options: BackendOptions | None = None) -> None:
        import onnxruntime as ort

        options = options or BackendOptions()
        path = _check_model_file(Path(model_path), (".onnx",))
        session_options = ort.SessionOptions()
        session_options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session_options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # One image at a time: parallelism inside operators, none between them.
        session_options.intra_op_num_threads = options.threads or 0
        session_options.inter_op_num_threads = 1
        available = ort.get_available_providers()
        wanted = options.providers or PREFERRED_PROVIDERS
        providers = [p for p in wanted if p in available] or ["CPUExecutionProvider"]
        try:
            self._session = ort.InferenceSession(str(path), session_options, providers=providers)
        except Exception as exc:  # ORT raises its own exception types for bad files
            raise InvalidInput(
                f"ONNX Runtime cannot load {path}: {exc}", hint="re-export the model with `dda export`"
            ) from exc
        self._output_names = [o.name for o in self._session.get_outputs()]
        self.providers = tuple(self._session.get_providers())

    def forward(self, image: np.ndarray) -> dict[str, np.ndarray]:
        outputs = self._session.run(self._output_names, {INPUT_NAME: image})
        return dict(zip(self._output_names, outputs, strict=True))

    def close(self) -> None:
        self._session = None


class OpenVINOBackend:
    """OpenVINO (CPU plugin by default) with a latency hint; reads IR ``.xml`` or ``.onnx``."""

    name = "openvino"

    def __init__(self, model_path: Path, options: BackendOptions | None = None) -> None:
        try:
            import openvino as ov
        except ImportError as exc:
            raise Unavailable(
                "the OpenVINO backend needs the `openvino` package", hint="pip install 'dda[openvino]'"
            ) from exc
        options = options or BackendOptions()
        path = _check_model_file(Path(model_path), (".xml", ".onnx"))
        # f32 explicitly: on CPUs with bf16/AMX the plugin would otherwise drop to bf16 and break
        # the FP32 parity the export was checked for.
        config: dict[str, Any] = {
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": options.precision_hint,
        }
        if options.threads:
            config["INFERENCE_NUM_THREADS"] = options.threads
        core = ov.Core()
        try:
            self._compiled = core.compile_model(core.read_model(str(path)), options.device, config)
        except Exception as exc:  # OpenVINO raises RuntimeError subclasses with the reason
            raise InvalidInput(
                f"OpenVINO cannot load {path} on {options.device}: {exc}",
                hint="re-export with `dda export --target openvino` or use device='CPU'",
            ) from exc
        self._request = self._compiled.create_infer_request()
        self._outputs = [(out, out.get_any_name()) for out in self._compiled.outputs]

    def forward(self, image: np.ndarray) -> dict[str, np.ndarray]:
        self._request.infer({INPUT_NAME: image})
        # The request reuses its output buffers on the next call: hand out copies.
        return {name: np.array(self._request.get_tensor(out).data) for out, name in self._outputs}

    def close(self) -> None:
        self._request = None
        self._compiled = None


BackendFactory = Callable[[Path, BackendOptions], InferenceBackend]

BACKENDS: dict[str, tuple[BackendFactory, str]] = {
    "onnxruntime": (OnnxRuntimeBackend, "onnxruntime"),
    "openvino": (OpenVINOBackend, "openvino"),
}


def register_backend(name: str, factory: BackendFactory, requires_module: str) -> None:
    """Add a backend (e.g. a remote Triton client) under ``name``."""
    BACKENDS[name] = (factory, requires_module)


def available_backends() -> list[str]:
    """Registered backends whose Python package is installed here."""
    return [name for name, (_, module) in BACKENDS.items() if importlib.util.find_spec(module) is not None]


def create_backend(name: str, model_path: Path, options: BackendOptions | None = None) -> InferenceBackend:
    """Instantiate the backend registered as ``name`` for one model file."""
    if name not in BACKENDS:
        raise InvalidInput(
            f"unknown inference backend {name!r}", hint=f"use one of: {', '.join(sorted(BACKENDS))}"
        )
    factory, module = BACKENDS[name]
    if importlib.util.find_spec(module) is None:
        raise Unavailable(
            f"backend {name!r} needs the Python package {module!r}", hint=f"pip install {module}"
        )
    return factory(Path(model_path), options or BackendOptions())
