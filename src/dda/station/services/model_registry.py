"""Loaded models, shared by workflows, with leases so that unloading or switching a version never
drops or corrupts an inference in flight.

A lease holds a reference on one loaded (name, version). ``unload`` retires the entry: new leases
load a fresh predictor, and the retired one is closed when its last lease ends. Predictors are not
thread-safe, so each loaded model runs one inference at a time (the ONNX Runtime session itself
uses the cores).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from dda.core.errors import NotFound
from dda.core.logging import get_logger
from dda.runtime.types import Prediction

SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")  # a path segment, never ".." or "/"

log = get_logger(__name__)


class PredictorLike(Protocol):
    """What the station needs of ``dda.runtime.Predictor``."""

    @property
    def manifest(self) -> Any: ...

    def predict(self, image: np.ndarray, draw_overlay: bool = True) -> Prediction: ...

    def forward(self, image: np.ndarray) -> dict[str, np.ndarray]: ...

    def close(self) -> None: ...


Loader = Callable[[Path], PredictorLike]
ModelKey = tuple[str, str]


@dataclass
class _Loaded:
    predictor: PredictorLike
    leases: int = 0
    retired: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)  # one inference at a time


class ModelLease:
    """A loaded model held for the duration of one or more inferences."""

    def __init__(self, entry: _Loaded) -> None:
        self._entry = entry

    @property
    def manifest(self) -> Any:
        return self._entry.predictor.manifest

    def predict(self, image: np.ndarray, draw_overlay: bool = True) -> Prediction:
        with self._entry.lock:
            return self._entry.predictor.predict(image, draw_overlay=draw_overlay)

    def forward(self, image: np.ndarray) -> dict[str, np.ndarray]:
        with self._entry.lock:
            return self._entry.predictor.forward(image)


def default_loader(package_dir: Path) -> PredictorLike:
    from dda.runtime.predictor import load_predictor

    predictor: PredictorLike = load_predictor(package_dir)
    return predictor


class ModelRegistry:
    def __init__(self, model_repo: Path, loader: Loader = default_loader) -> None:
        self.model_repo = model_repo
        self._loader = loader
        self._loaded: dict[ModelKey, _Loaded] = {}
        self._lock = threading.Lock()
        self._loading: dict[ModelKey, threading.Lock] = {}

    def package_dir(self, name: str, version: str) -> Path:
        if not (SAFE_NAME.fullmatch(name) and SAFE_NAME.fullmatch(version)):
            raise NotFound(
                "no such model: names and versions are letters, digits, '.', '_', '+' and '-'",
                hint="GET /api/v1/models lists installed models",
            )
        path = self.model_repo / name / version
        if not (path / "manifest.json").is_file():
            raise NotFound(
                f"model {name} version {version} is not installed",
                hint="install its package (Models page, POST /api/v1/models or `dda station install-model`)",
            )
        return path

    def is_loaded(self, name: str, version: str) -> bool:
        with self._lock:
            entry = self._loaded.get((name, version))
            return entry is not None and not entry.retired

    def loaded_keys(self) -> list[ModelKey]:
        with self._lock:
            return [key for key, entry in self._loaded.items() if not entry.retired]

    def load(self, name: str, version: str) -> None:
        """Load (once) and keep loaded; loading runs outside the registry lock."""
        key = (name, version)
        with self._lock:
            if key in self._loaded:
                return
            per_key = self._loading.setdefault(key, threading.Lock())
        with per_key:
            with self._lock:
                if key in self._loaded:
                    return
            predictor = self._loader(self.package_dir(name, version))
            with self._lock:
                self._loaded[key] = _Loaded(predictor)
        log.info("model loaded", model=name, version=version)

    def unload(self, name: str, version: str) -> bool:
        """Retire a loaded model; it closes as soon as no inference holds it. False if not loaded."""
        with self._lock:
            entry = self._loaded.pop((name, version), None)
            if entry is None:
                return False
            entry.retired = True
            close_now = entry.leases == 0
        if close_now:
            entry.predictor.close()
        log.info("model unloaded", model=name, version=version, deferred=not close_now)
        return True

    @contextmanager
    def lease(self, name: str, version: str) -> Iterator[ModelLease]:
        """Hold a loaded model (loading it first if needed) for the duration of the block."""
        key = (name, version)
        while True:
            self.load(name, version)
            with self._lock:
                entry = self._loaded.get(key)
                if entry is not None:  # an unload may have raced the load: try again
                    entry.leases += 1
                    break
        try:
            yield ModelLease(entry)
        finally:
            with self._lock:
                entry.leases -= 1
                close_now = entry.retired and entry.leases == 0
            if close_now:
                entry.predictor.close()

    def close(self) -> None:
        for name, version in list(self.loaded_keys()):
            self.unload(name, version)
