import { describe, expect, it } from "vitest";
import { queryString } from "./api";
import { counters, effectiveVerdict, formatBytes, formatDuration, formatMetrics, formatPercent, formatTime, rangeError, scoreFraction } from "./format";

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

describe("formatTime", () => {
  it("is ISO-like with the zone, never locale-dependent", () => {
    expect(formatTime("2026-12-01T15:05:09Z", 0)).toBe("2026-12-01 15:05:09 UTC");
    expect(formatTime("2026-12-01T15:05:09Z", 60)).toBe("2026-12-01 16:05:09 UTC+01:00");
    expect(formatTime("2026-12-01T23:30:00Z", -330)).toBe("2026-12-01 18:00:00 UTC-05:30");
    expect(formatTime("2026-12-31T23:30:00Z", 90)).toBe("2027-01-01 01:00:00 UTC+01:30");
    expect(formatTime(null)).toBe("–");
    expect(formatTime("not a date")).toBe("not a date");
  });
  it("uses the browser's offset by default", () => {
    expect(formatTime("2026-06-01T12:00:00Z")).toMatch(/^2026-06-01 \d\d:\d\d:00 UTC([+-]\d\d:\d\d)?$/);
  });
});

describe("scoreFraction / counters / formatMetrics", () => {
  it("places scores on a fixed 0-1 scale", () => {
    expect(scoreFraction(0.25)).toBe(0.25);
    expect(scoreFraction(3)).toBe(1);
    expect(scoreFraction(-1)).toBe(0);
    expect(scoreFraction(null)).toBe(0);
  });
  it("counts good and defect parts and the defect rate", () => {
    expect(counters({ normal: 3, anomaly: 1 })).toEqual({ good: 3, defect: 1, rate: "25.0%" });
    expect(counters(null)).toEqual({ good: 0, defect: 0, rate: "–" });
  });
  it("shows numeric metrics only", () => {
    expect(formatMetrics({ auroc: 0.98765, f1: 0.9, note: "x" })).toBe("auroc 0.988 · f1 0.9");
    expect(formatMetrics({})).toBe("–");
  });
});
