import { describe, expect, it } from "vitest";
import { queryString } from "./api";
import { effectiveVerdict, formatBytes, formatDuration, formatPercent, rangeError } from "./format";

describe("format helpers", () => {
  it("formats numbers for display", () => {
    expect(formatPercent(0.9567)).toBe("95.7%");
    expect(formatPercent(null)).toBe("–");
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(3 * 1024 * 1024)).toBe("3.0 MB");
    expect(formatDuration(3725)).toBe("1h 2m");
  });

  it("lets a human classification override the prediction", () => {
    expect(effectiveVerdict({ prediction: "anomaly", human_classification: "normal" })).toEqual({
      verdict: "normal",
      overridden: true,
    });
    expect(effectiveVerdict({ prediction: "normal", human_classification: null }).overridden).toBe(false);
  });

  it("checks date ranges", () => {
    expect(rangeError("2024-01-02T00:00", "2024-01-01T00:00")).toMatch(/before/);
    expect(rangeError("2024-01-01T00:00", "2024-01-02T00:00")).toBeNull();
    expect(rangeError(undefined, "x")).toBeNull();
  });

  it("builds query strings from defined values only", () => {
    expect(queryString({ a: 1, b: undefined, c: "", d: false, e: "x y" })).toBe("?a=1&d=false&e=x+y");
    expect(queryString({})).toBe("");
  });
});
