"""A synthetic camera for demos and tests: renders products with the ML-core's data generator."""

from __future__ import annotations

import threading
import time
from typing import Literal

import numpy as np
from pydantic import Field

from dda.core.errors import Unavailable
from dda.station.plugins.processing import CameraSettings
from dda.station.plugins.sources.base import Frame, SourceConfigBase, to_rgb


class SyntheticSourceConfig(SourceConfigBase):
    title = "Synthetic camera (demo)"
    type: Literal["synthetic"] = "synthetic"
    product: str = Field("cookie", min_length=1, max_length=64, description="What the generator draws")
    defect_rate: float = Field(0.3, ge=0, le=1, description="Share of frames that show a defect")
    width: int = Field(768, ge=32, le=4096)
    height: int = Field(576, ge=32, le=4096)
    fps: float = Field(0, ge=0, le=1000, description="Frame rate limit; 0: as fast as it renders")
    seed: int | None = Field(None, ge=0, le=2**63 - 1, description="Fixed seed for a repeatable sequence")


class SyntheticSource:
    def __init__(self, config: SyntheticSourceConfig) -> None:
        self.config = config
        self.live = False
        self._rng = np.random.default_rng(config.seed)
        self._render = None
        self._last = 0.0
        self._closed = threading.Event()
        self.gain = 1.0
        self._count = 0

    def open(self) -> None:
        try:
            from dda.formats.synthetic import render_sample
        except ImportError as exc:
            raise Unavailable(
                "the synthetic data generator (dda.formats.synthetic) is not installed",
                hint="install DDA with its formats package",
            ) from exc
        self._render = render_sample  # type: ignore[assignment]
        self._closed.clear()

    def configure(self, camera: CameraSettings) -> frozenset[str]:
        # A simulated sensor: gain scales brightness like an analog gain would.
        self.gain = 1.0 if camera.gain is None else float(10 ** (camera.gain / 20))
        return frozenset({"gain"}) if camera.gain is not None else frozenset()

    def grab(self, timeout_s: float) -> Frame:
        if self._render is None or self._closed.is_set():
            raise Unavailable("the synthetic camera is not open", hint="open the source first")
        if self.config.fps > 0:
            wait = self._last + 1 / self.config.fps - time.monotonic()
            if wait > 0 and self._closed.wait(wait):
                raise Unavailable("the synthetic camera was closed")
        self._last = time.monotonic()
        defect = bool(self._rng.random() < self.config.defect_rate)
        image, _mask = self._render(
            self._rng, self.config.product, defect, (self.config.height, self.config.width)
        )
        if self.gain != 1.0:
            image = (image.astype(np.float32) * self.gain).clip(0, 255).astype(np.uint8)
        self._count += 1
        return Frame(
            image=to_rgb(image), origin="synthetic", metadata={"defect": defect, "frame": self._count}
        )

    def close(self) -> None:
        self._closed.set()
