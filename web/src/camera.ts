// Camera settings form <-> API shape (src/dda/station/plugins/processing.py). Pure; tested.

import type { CameraSettings, PipelineStep } from "./api";

export type CameraForm = {
  exposure_us: string;
  gain: string;
  roi_x: string;
  roi_y: string;
  roi_width: string;
  roi_height: string;
  pipeline: PipelineStep[];
};

export const MAX_PIPELINE_STEPS = 16;

const text = (v: unknown) => (v === null || v === undefined ? "" : String(v));

export function cameraToForm(camera: CameraSettings | undefined): CameraForm {
  const roi = camera?.roi;
  return {
    exposure_us: text(camera?.exposure_us),
    gain: text(camera?.gain),
    roi_x: text(roi?.x),
    roi_y: text(roi?.y),
    roi_width: text(roi?.width),
    roi_height: text(roi?.height),
    pipeline: camera?.pipeline ? [...camera.pipeline] : [],
  };
}

const ROI_KEYS = ["roi_x", "roi_y", "roi_width", "roi_height"] as const;

export function cameraErrors(form: CameraForm): Record<string, string> {
  const errors: Record<string, string> = {};
  const value = (key: (typeof ROI_KEYS)[number] | "exposure_us" | "gain") => form[key].trim();
  if (value("exposure_us") !== "" && !(Number(value("exposure_us")) > 0)) errors.exposure_us = "Enter an exposure time above 0 µs.";
  if (value("gain") !== "" && !(Number(value("gain")) >= 0)) errors.gain = "Enter a gain of 0 or more.";
  for (const key of ROI_KEYS) {
    const raw = value(key);
    if (raw === "") continue;
    const n = Number(raw);
    const min = key === "roi_x" || key === "roi_y" ? 0 : 1;
    if (!Number.isInteger(n) || n < min) errors[key] = min ? "Enter whole pixels, at least 1." : "Enter whole pixels, 0 or more.";
  }
  const filled = ROI_KEYS.filter((k) => value(k) !== "").length;
  const sizeFilled = value("roi_width") !== "" && value("roi_height") !== "";
  if (filled > 0 && !sizeFilled) {
    for (const key of ["roi_width", "roi_height"] as const) if (!value(key)) errors[key] = "Enter the ROI width and height, or clear the ROI.";
  }
  if (form.pipeline.length > MAX_PIPELINE_STEPS) errors.pipeline = `Use at most ${MAX_PIPELINE_STEPS} steps.`;
  return errors;
}

/** The API's camera object; call cameraErrors first. Empty inputs become null (source default). */
export function cameraFromForm(form: CameraForm): CameraSettings {
  const num = (v: string) => (v.trim() === "" ? null : Number(v));
  const hasRoi = form.roi_width.trim() !== "" && form.roi_height.trim() !== "";
  return {
    exposure_us: num(form.exposure_us),
    gain: num(form.gain),
    roi: hasRoi
      ? { x: Number(form.roi_x || 0), y: Number(form.roi_y || 0), width: Number(form.roi_width), height: Number(form.roi_height) }
      : null,
    pipeline: form.pipeline,
  };
}

export function describeStep(step: PipelineStep): string {
  switch (step.op) {
    case "rotate":
      return `rotate ${step.degrees}°`;
    case "flip":
      return `flip ${step.axis}`;
    default:
      return "grayscale";
  }
}

export function describeCamera(camera: CameraSettings | undefined): string {
  if (!camera) return "defaults";
  const parts: string[] = [];
  if (camera.exposure_us !== null && camera.exposure_us !== undefined) parts.push(`exposure ${camera.exposure_us} µs`);
  if (camera.gain !== null && camera.gain !== undefined) parts.push(`gain ${camera.gain}`);
  if (camera.roi) parts.push(`ROI ${camera.roi.width}×${camera.roi.height}+${camera.roi.x}+${camera.roi.y}`);
  for (const step of camera.pipeline ?? []) parts.push(describeStep(step));
  return parts.join(", ") || "defaults";
}
