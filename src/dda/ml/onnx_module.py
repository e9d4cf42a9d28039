"""A contract ONNX graph (see docs/model-contract.md) used where dda.ml expects a deploy module.

Imported models (:mod:`dda.ml.onnx_import`) have no PyTorch weights: their artifact holds the
wrapped ``model.onnx``. :class:`OnnxContractModule` runs it with ONNX Runtime and returns torch
tensors, so prediction, evaluation and the export parity gate treat it like our deploy modules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from dda.ml.deploy import output_names
from dda.runtime.types import INPUT_NAME


class OnnxContractModule(nn.Module):
    """uint8 [H, W, 3] RGB -> the contract outputs, computed by ONNX Runtime on the stored graph."""

    def __init__(self, onnx_bytes: bytes, model_type: str) -> None:
        super().__init__()
        self.onnx_bytes = onnx_bytes
        self.model_type = model_type
        self._session: Any = None

    def _run(self, image: np.ndarray) -> list[np.ndarray]:
        if self._session is None:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.log_severity_level = 3
            self._session = ort.InferenceSession(
                self.onnx_bytes, sess_options=options, providers=["CPUExecutionProvider"]
            )
        names = output_names(self.model_type)
        return list(self._session.run(names, {INPUT_NAME: np.ascontiguousarray(image, dtype=np.uint8)}))

    def forward(self, image: Tensor) -> tuple[Tensor, ...]:
        return tuple(torch.from_numpy(out) for out in self._run(image.detach().cpu().numpy()))

    def run_batch(self, images: Tensor) -> list[tuple[np.ndarray, ...]]:
        """Contract outputs of a batch of uint8 NHWC images (one run per image)."""
        return [tuple(self._run(image)) for image in images.detach().cpu().numpy()]

    def save(self, path: Path) -> Path:
        path = Path(path)
        path.write_bytes(self.onnx_bytes)
        return path

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_session"] = None
        return state
