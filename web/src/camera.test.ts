import { describe, expect, it } from "vitest";
import { cameraErrors, cameraFromForm, cameraToForm, describeCamera } from "./camera";

describe("camera settings form", () => {
  it("round-trips the API shape", () => {
    const camera = {
      exposure_us: 5000,
      gain: 2,
      roi: { x: 10, y: 20, width: 300, height: 200 },
      pipeline: [{ op: "rotate" as const, degrees: 90 as const }, { op: "grayscale" as const }],
    };
    const form = cameraToForm(camera);
    expect(cameraErrors(form)).toEqual({});
    expect(cameraFromForm(form)).toEqual(camera);
    expect(describeCamera(camera)).toBe("exposure 5000 µs, gain 2, ROI 300×200+10+20, rotate 90°, grayscale");
  });

  it("treats empty inputs as the source defaults", () => {
    const form = cameraToForm(undefined);
    expect(cameraErrors(form)).toEqual({});
    expect(cameraFromForm(form)).toEqual({ exposure_us: null, gain: null, roi: null, pipeline: [] });
  });

  it("rejects bad values with a message per field", () => {
    const form = { ...cameraToForm(undefined), exposure_us: "0", gain: "-1", roi_x: "1.5", roi_width: "100" };
    const errors = cameraErrors(form);
    expect(Object.keys(errors).sort()).toEqual(["exposure_us", "gain", "roi_height", "roi_x"]);
  });
});
