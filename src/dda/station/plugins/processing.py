"""Camera settings shared by every source: exposure, gain, ROI crop and a processing pipeline.

A source applies what its hardware can (GigE: exposure, gain and ROI through GenICam) and says so;
the station applies the rest in software, in the order ROI crop -> pipeline steps.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from dda.core.errors import InvalidInput


class Roi(BaseModel):
    """Region of interest in sensor pixels: the part of the image the model sees."""

    model_config = ConfigDict(extra="forbid")

    x: int = Field(0, ge=0, le=65535)
    y: int = Field(0, ge=0, le=65535)
    width: int = Field(..., ge=1, le=65535)
    height: int = Field(..., ge=1, le=65535)


class RotateStep(BaseModel):
    model_config = ConfigDict(extra="forbid")
    op: Literal["rotate"] = "rotate"
    degrees: Literal[90, 180, 270] = 180


class FlipStep(BaseModel):
    model_config = ConfigDict(extra="forbid")
    op: Literal["flip"] = "flip"
    axis: Literal["horizontal", "vertical"] = "horizontal"


class GrayscaleStep(BaseModel):
    """Convert to gray, kept as 3 equal channels because models take RGB."""

    model_config = ConfigDict(extra="forbid")
    op: Literal["grayscale"] = "grayscale"


ProcessingStep = Annotated[RotateStep | FlipStep | GrayscaleStep, Field(discriminator="op")]


class CameraSettings(BaseModel):
    """Settings every source accepts. Exposure and gain only act on sources with hardware for them."""

    model_config = ConfigDict(extra="forbid")

    exposure_us: float | None = Field(
        default=None, gt=0, le=60_000_000, description="Exposure time in microseconds"
    )
    gain: float | None = Field(
        default=None, ge=0, le=1000, description="Analog gain (camera units, usually dB)"
    )
    roi: Roi | None = None
    pipeline: list[ProcessingStep] = Field(default_factory=list, max_length=16)


HARDWARE_ROI = "roi"


def crop_roi(image: np.ndarray, roi: Roi) -> np.ndarray:
    """Crop ``roi`` out of ``image``; a ROI outside the image is an error with the image size in it."""
    height, width = image.shape[:2]
    if roi.x + roi.width > width or roi.y + roi.height > height:
        raise InvalidInput(
            f"ROI x={roi.x} y={roi.y} {roi.width}x{roi.height} lies outside the {width}x{height} image",
            hint="edit the image source's ROI so that x+width and y+height fit the camera image",
        )
    return image[roi.y : roi.y + roi.height, roi.x : roi.x + roi.width]


def apply_step(image: np.ndarray, step: RotateStep | FlipStep | GrayscaleStep) -> np.ndarray:
    if isinstance(step, RotateStep):
        # np.rot90 turns counter-clockwise; camera UIs mean clockwise.
        return np.rot90(image, k=-(step.degrees // 90))
    if isinstance(step, FlipStep):
        return image[:, ::-1] if step.axis == "horizontal" else image[::-1]
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    gray = (image.astype(np.float32) @ weights).clip(0, 255).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=2)


def apply_camera_settings(image: np.ndarray, camera: CameraSettings, hardware: frozenset[str]) -> np.ndarray:
    """Apply what the source did not apply in hardware. Returns a C-contiguous RGB uint8 image."""
    if camera.roi is not None and HARDWARE_ROI not in hardware:
        image = crop_roi(image, camera.roi)
    for step in camera.pipeline:
        image = apply_step(image, step)
    return np.ascontiguousarray(image)
