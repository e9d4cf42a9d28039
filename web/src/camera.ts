// Camera settings form <-> API shape. Pure; tested in camera.test.ts.

import type { CameraSettings } from "./api";

export type CameraForm = {
  exposure: string;
  gain: string;
  roi_x: string;
  roi_y: string;
  roi_width: string;
  roi_height: string;
  pipeline: string;
};

const text = (v: unknown) => (v === null || v === undefined ? "" : String(v));

export function cameraToForm(camera: CameraSettings | undefined): CameraForm {
  const roi = camera?.roi;
  return {
    exposure: text(camera?.exposure),
    gain: text(camera?.gain),
    roi_x: text(roi?.x),
    roi_y: text(roi?.y),
    roi_width: text(roi?.width),
    roi_height: text(roi?.height),
    pipeline: camera?.pipeline && camera.pipeline.length ? JSON.stringify(camera.pipeline) : "",
  };
}

const ROI_KEYS = ["roi_x", "roi_y", "roi_width", "roi_height"] as const;

export function cameraErrors(form: CameraForm): Record<string, string> {
  const errors: Record<string, string> = {};
  const check = (key: keyof CameraForm, min: number, what: string) => {
    const value = form[key].trim();
    if (value === "") return;
    const n = Number(value);
    if (!Number.isFinite(n) || n < min) errors[key] = `Enter ${what}.`;
  };
  check("exposure", 0, "a positive exposure time");
  check("gain", 0, "a gain of 0 or more");
  for (const key of ROI_KEYS) {
    const whole = key === "roi_x" || key === "roi_y" ? 0 : 1;
    check(key, whole, whole ? "a size of at least 1 pixel" : "an offset of 0 or more");
    if (!errors[key] && form[key].trim() !== "" && !Number.isInteger(Number(form[key]))) errors[key] = "Enter whole pixels.";
  }
  const filled = ROI_KEYS.filter((k) => form[k].trim() !== "").length;
  if (filled > 0 && filled < 4) {
    for (const key of ROI_KEYS) if (!form[key].trim()) errors[key] = "Fill all four ROI values, or none.";
  }
  if (form.pipeline.trim()) {
    try {
      if (!Array.isArray(JSON.parse(form.pipeline))) errors.pipeline = "Enter a JSON list of steps.";
    } catch {
      errors.pipeline = "Enter valid JSON: a list of steps.";
    }
  }
  return errors;
}

/** The API's camera object; call cameraErrors first. Empty inputs become null (source default). */
export function cameraFromForm(form: CameraForm): CameraSettings {
  const num = (v: string) => (v.trim() === "" ? null : Number(v));
  const roiFilled = ROI_KEYS.every((k) => form[k].trim() !== "");
  return {
    exposure: num(form.exposure),
    gain: num(form.gain),
    roi: roiFilled
      ? { x: Number(form.roi_x), y: Number(form.roi_y), width: Number(form.roi_width), height: Number(form.roi_height) }
      : null,
    pipeline: form.pipeline.trim() ? (JSON.parse(form.pipeline) as unknown[]) : [],
  };
}
