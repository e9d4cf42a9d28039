"""GigE Vision / USB3 Vision cameras through Aravis 0.8 (GObject introspection).

Exposure, gain and ROI are set on the camera through GenICam features, so the camera sends only
the region the model needs. The camera streams continuously into a few buffers; a grab first
returns the buffers that were already waiting (stale) and then takes the next frame, so a capture
never shows the scene from before its trigger. Mono8 frames become 3-channel gray; RGB8 passes through; Bayer
patterns are demosaiced with OpenCV.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Literal

import cv2
import numpy as np
from pydantic import Field

from dda.core.errors import InvalidInput, NotFound, Unavailable
from dda.station.plugins.processing import HARDWARE_ROI, CameraSettings
from dda.station.plugins.sources.base import Frame, SourceConfigBase, to_rgb


class GigESourceConfig(SourceConfigBase):
    title = "GigE Vision camera (Aravis)"
    type: Literal["gige"] = "gige"
    camera_id: str | None = Field(
        None, description="Aravis device id, e.g. 'Basler-21234567' or an IP address; empty: the first camera"
    )
    timeout_ms: int = Field(2000, ge=10, le=60_000, description="How long to wait for one frame")
    buffers: int = Field(4, ge=2, le=64, description="Stream buffers")


def load_aravis() -> Any:
    """Import Aravis 0.8 through PyGObject, or say exactly what is missing."""
    try:
        import gi

        gi.require_version("Aravis", "0.8")
        from gi.repository import Aravis
    except (ImportError, ValueError) as exc:
        raise Unavailable(
            f"Aravis 0.8 is not usable from Python: {exc}",
            hint="install it: `apt-get install gir1.2-aravis-0.8` and `pip install PyGObject` "
            "(which needs libgirepository1.0-dev and libcairo2-dev)",
        ) from exc
    return Aravis


def _bayer_code(pixel_format: int, aravis: Any) -> int | None:
    codes = {
        "PIXEL_FORMAT_BAYER_RG_8": cv2.COLOR_BayerRG2RGB,
        "PIXEL_FORMAT_BAYER_GR_8": cv2.COLOR_BayerGR2RGB,
        "PIXEL_FORMAT_BAYER_BG_8": cv2.COLOR_BayerBG2RGB,
        "PIXEL_FORMAT_BAYER_GB_8": cv2.COLOR_BayerGB2RGB,
    }
    for name, code in codes.items():
        if getattr(aravis, name, None) == pixel_format:
            return code
    return None


def buffer_to_rgb(data: bytes, width: int, height: int, pixel_format: int, aravis: Any) -> np.ndarray:
    """Turn an Aravis buffer's bytes into RGB uint8 for the supported pixel formats."""
    raw = np.frombuffer(data, dtype=np.uint8)
    if pixel_format == aravis.PIXEL_FORMAT_MONO_8:
        return to_rgb(raw[: width * height].reshape(height, width))
    if pixel_format == aravis.PIXEL_FORMAT_RGB_8_PACKED:
        return to_rgb(raw[: width * height * 3].reshape(height, width, 3))
    bayer = _bayer_code(pixel_format, aravis)
    if bayer is not None:
        return cv2.cvtColor(raw[: width * height].reshape(height, width), bayer)
    raise InvalidInput(
        f"the camera sends pixel format 0x{pixel_format:08x}, which the station cannot read",
        hint="set the camera's PixelFormat to Mono8, RGB8 or an 8-bit Bayer format",
    )


class GigESource:
    def __init__(self, config: GigESourceConfig) -> None:
        self.config = config
        self.live = True
        self._aravis: Any = None
        self._camera: Any = None
        self._stream: Any = None
        self._lock = threading.Lock()

    def open(self) -> None:
        aravis = load_aravis()
        aravis.update_device_list()
        wanted = self.config.camera_id or None
        try:
            camera = aravis.Camera.new(wanted)
        except Exception as exc:  # GLib.Error: no such camera
            found = [aravis.get_device_id(i) for i in range(aravis.get_n_devices())]
            raise NotFound(
                f"GigE camera {wanted or '(first found)'} is not reachable: {exc}",
                hint=f"cameras found: {found or 'none'}; check the cable, the IP setup and camera_id",
            ) from exc
        self._aravis, self._camera = aravis, camera

    def _require_open(self) -> Any:
        if self._camera is None:
            raise Unavailable("the GigE camera is not open", hint="open the source first")
        return self._camera

    def configure(self, camera: CameraSettings) -> frozenset[str]:
        cam = self._require_open()
        self._stop_stream()  # the ROI changes the payload size: new buffers after
        applied: set[str] = set()
        try:
            if camera.exposure_us is not None:
                low, high = cam.get_exposure_time_bounds()
                cam.set_exposure_time(float(np.clip(camera.exposure_us, low, high)))
                applied.add("exposure")
            if camera.gain is not None:
                low, high = cam.get_gain_bounds()
                cam.set_gain(float(np.clip(camera.gain, low, high)))
                applied.add("gain")
            if camera.roi is not None:
                roi = camera.roi
                cam.set_region(roi.x, roi.y, roi.width, roi.height)
                applied.add(HARDWARE_ROI)
        except Exception as exc:  # GLib.Error from a GenICam feature write
            raise InvalidInput(
                f"the camera refused a setting: {exc}",
                hint="check exposure/gain/ROI against the camera's limits (ROI within the sensor)",
            ) from exc
        return frozenset(applied)

    def region(self) -> tuple[int, int, int, int]:
        x, y, width, height = self._require_open().get_region()
        return int(x), int(y), int(width), int(height)

    def _start_stream(self) -> Any:
        if self._stream is None:
            cam = self._require_open()
            stream = cam.create_stream(None, None)
            payload = cam.get_payload()
            for _ in range(self.config.buffers):
                stream.push_buffer(self._aravis.Buffer.new_allocate(payload))
            cam.set_acquisition_mode(self._aravis.AcquisitionMode.CONTINUOUS)
            cam.start_acquisition()
            self._stream = stream
        return self._stream

    def _stop_stream(self) -> None:
        if self._stream is not None:
            with contextlib.suppress(Exception):  # GLib.Error: the camera may already be gone
                self._camera.stop_acquisition()
            self._stream = None

    def _next_fresh_buffer(self, stream: Any, timeout_us: int) -> Any:
        while (stale := stream.try_pop_buffer()) is not None:
            stream.push_buffer(stale)  # taken before the trigger: give it back for reuse
        return stream.timeout_pop_buffer(timeout_us)

    def grab(self, timeout_s: float) -> Frame:
        with self._lock:
            stream = self._start_stream()
            timeout_us = max(int(min(timeout_s * 1e6, self.config.timeout_ms * 1000)), 10_000)
            buffer = self._next_fresh_buffer(stream, timeout_us)
            if buffer is None:
                raise Unavailable(
                    f"no frame from the GigE camera within {timeout_us // 1000} ms",
                    hint="check the camera link, its trigger mode and frame rate",
                )
            try:
                if buffer.get_status() != self._aravis.BufferStatus.SUCCESS:
                    raise Unavailable(
                        f"the GigE camera sent a bad frame ({buffer.get_status()})",
                        hint="check the link: packet loss on GigE needs jumbo frames or a lower rate",
                    )
                frame_id = int(buffer.get_frame_id())
                image = buffer_to_rgb(
                    bytes(buffer.get_data()),
                    buffer.get_image_width(),
                    buffer.get_image_height(),
                    buffer.get_image_pixel_format(),
                    self._aravis,
                )
            finally:
                stream.push_buffer(buffer)
        origin = self.config.camera_id or str(self._camera.get_device_id())
        return Frame(image=image, origin=origin, metadata={"frame_id": frame_id})

    def close(self) -> None:
        with self._lock:
            if self._camera is not None:
                self._stop_stream()
            self._camera = None  # GObject reference dropped: Aravis closes the control link
