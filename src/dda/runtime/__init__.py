"""Model runtime: loads a model package and runs pre-process, forward, post-process without torch.

Public API::

    load_predictor(package_dir, backend="auto"|"onnxruntime"|"openvino", *, threads=None,
                   trusted_keys=None) -> Predictor
    Predictor.predict(image: np.ndarray) -> Prediction;  Predictor.manifest;  Predictor.close()
    available_backends() -> list[str];  register_backend(name, factory, requires_module)
"""

from typing import TYPE_CHECKING, Any

from dda.runtime.postprocess import PostProcessConfig, decide, post_process, render_overlay
from dda.runtime.types import InferenceBackend, Prediction

if TYPE_CHECKING:
    from dda.runtime.backends import (
        BACKENDS,
        BackendOptions,
        OnnxRuntimeBackend,
        OpenVINOBackend,
        available_backends,
        create_backend,
        register_backend,
    )
    from dda.runtime.predictor import Predictor, load_predictor, prepare_image

# Loaded on first use: the predictor reads package manifests (dda.packaging), and dda.packaging
# ships this package's post-processing, so importing both eagerly would be circular.
_LAZY = {
    "BACKENDS": "dda.runtime.backends",
    "BackendOptions": "dda.runtime.backends",
    "OnnxRuntimeBackend": "dda.runtime.backends",
    "OpenVINOBackend": "dda.runtime.backends",
    "available_backends": "dda.runtime.backends",
    "create_backend": "dda.runtime.backends",
    "register_backend": "dda.runtime.backends",
    "Predictor": "dda.runtime.predictor",
    "load_predictor": "dda.runtime.predictor",
    "prepare_image": "dda.runtime.predictor",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dda.runtime' has no attribute {name!r}")


__all__ = [
    "BACKENDS",
    "BackendOptions",
    "InferenceBackend",
    "OnnxRuntimeBackend",
    "OpenVINOBackend",
    "PostProcessConfig",
    "Prediction",
    "Predictor",
    "available_backends",
    "create_backend",
    "decide",
    "load_predictor",
    "post_process",
    "prepare_image",
    "register_backend",
    "render_overlay",
]
