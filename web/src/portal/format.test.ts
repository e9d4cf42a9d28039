import { describe, expect, it } from "vitest";
import { metric, parseConfig, parseWaves, when } from "./format";

describe("parseWaves", () => {
  it("accepts percentages and counts", () => {
    expect(parseWaves("10%, 50% ,100%")).toEqual(["10%", "50%", "100%"]);
    expect(parseWaves("1, 100%")).toEqual(["1", "100%"]);
  });
  it("refuses malformed, empty, out-of-range and too many waves", () => {
    expect(parseWaves("")).toBeNull();
    expect(parseWaves("ten")).toBeNull();
    expect(parseWaves("150%")).toBeNull();
    expect(parseWaves("0")).toBeNull();
    expect(parseWaves(Array(11).fill("1").join(","))).toBeNull();
  });
});

describe("metric and when", () => {
  it("reads numbers only", () => {
    expect(metric({ cpu_pct: 12.5, x: "no" }, "cpu_pct")).toBe(12.5);
    expect(metric({ x: "no" }, "x")).toBeNull();
    expect(metric(undefined, "x")).toBeNull();
  });
  it("shows a dash for no time", () => {
    expect(when(null)).toBe("—");
  });
});

describe("parseConfig", () => {
  it("reads a JSON object, blank as none, anything else as invalid", () => {
    expect(parseConfig(' {"threshold": 0.5} ')).toEqual({ threshold: 0.5 });
    expect(parseConfig("  ")).toBeUndefined();
    expect(parseConfig("[1]")).toBeNull();
    expect(parseConfig("{oops")).toBeNull();
    expect(parseConfig("null")).toBeNull();
  });
});
