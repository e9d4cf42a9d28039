import { describe, expect, it } from "vitest";
import type { JobEvent } from "../api-ml";
import { LOSS_KEYS, QUALITY_KEYS, epochSeries, extent, linear, pairedSeries, pathOf, shortNumber, ticks } from "./curves";
import { asMatrix, cellShade } from "./matrix";
import { duration, humanize, metricRows, orderedPlots, shortHash } from "./format-ml";

const metric = (seq: number, data: Record<string, unknown>): JobEvent => ({ seq, at: "2026-01-01T00:00:00Z", kind: "metric", level: "info", message: "", data });

describe("epochSeries", () => {
  it("draws one point per epoch, sorted, the last report of an epoch winning", () => {
    const events: JobEvent[] = [
      metric(3, { epoch: 2, train_loss: 0.5, val_loss: 0.6, val_f1: 0.7 }),
      { seq: 4, at: "", kind: "log", level: "info", message: "epoch 2", data: { epoch: 9, train_loss: 9 } },
      metric(1, { epoch: 1, train_loss: 0.9, val_loss: 1.0, val_f1: null }),
      metric(5, { epoch: 2, train_loss: 0.4, val_loss: 0.55, val_f1: 0.8 }),
    ];
    const [train, val] = epochSeries(events, LOSS_KEYS);
    expect(train.points).toEqual([{ x: 1, y: 0.9 }, { x: 2, y: 0.4 }]);
    expect(val.title).toBe("Validation loss");
    const [f1, auroc] = epochSeries(events, QUALITY_KEYS);
    expect(f1.points).toEqual([{ x: 2, y: 0.8 }]); // null F1 (one class in validation) left out
    expect(auroc.points).toEqual([]);
  });
  it("ignores events without a numeric epoch", () => {
    expect(epochSeries([metric(1, { epoch: "1", train_loss: 1 })], LOSS_KEYS)[0].points).toEqual([]);
  });
});

describe("scales", () => {
  it("pairs curve arrays, dropping nulls", () => {
    expect(pairedSeries("roc", "ROC", [0, null, 1], [0, 0.5, 1, 7]).points).toEqual([{ x: 0, y: 0 }, { x: 1, y: 1 }]);
  });
  it("widens a flat extent and defaults an empty one", () => {
    expect(extent([], "y")).toEqual([0, 1]);
    expect(extent([{ key: "a", title: "a", points: [{ x: 1, y: 2 }] }], "y")).toEqual([1, 3]);
    expect(extent([{ key: "a", title: "a", points: [{ x: 1, y: 0 }, { x: 3, y: 0 }] }], "x")).toEqual([1, 3]);
  });
  it("maps linearly, flipping for SVG's downward y", () => {
    const sy = linear([0, 1], [200, 0]);
    expect(sy(0)).toBe(200);
    expect(sy(0.25)).toBe(150);
  });
  it("picks round ticks", () => {
    expect(ticks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(ticks(1, 10, 5)).toEqual([2, 4, 6, 8, 10]);
    expect(ticks(0.31, 0.92, 4)).toEqual([0.4, 0.6, 0.8]);
    expect(ticks(5, 5)).toEqual([5]);
  });
  it("writes an SVG path", () => {
    const id = (v: number) => v;
    expect(pathOf([{ x: 0, y: 1 }, { x: 2, y: 3 }], id, id)).toBe("M0.0 1.0 L2.0 3.0");
  });
  it("shortens numbers", () => {
    expect(shortNumber(0.123456)).toBe("0.123");
    expect(shortNumber(12)).toBe("12");
    expect(shortNumber(0.00001234)).toBe("1.23e-5");
    expect(shortNumber(null)).toBe("—");
    expect(shortNumber(Number.NaN)).toBe("—");
  });
});

describe("confusion matrix", () => {
  it("accepts only a square grid of numbers", () => {
    expect(asMatrix([[1, 2], [3, 4]])).toEqual([[1, 2], [3, 4]]);
    expect(asMatrix([[1, 2]])).toBeNull();
    expect(asMatrix([[1, "2"], [3, 4]])).toBeNull();
    expect(asMatrix("x")).toBeNull();
  });
  it("shades by row share, blue on the diagonal, white text only on dark cells", () => {
    expect(cellShade(9, [9, 1], true)).toEqual({ background: "#08519c", color: "#ffffff" });
    expect(cellShade(1, [9, 1], false)).toEqual({ background: "#ffffff", color: "#000716" });
    expect(cellShade(0, [0, 0], true).background).toBe("#ffffff");
  });
});

describe("format", () => {
  it("formats durations", () => {
    expect(duration(null)).toBe("—");
    expect(duration(42.4)).toBe("42 s");
    expect(duration(185)).toBe("3 min 5 s");
    expect(duration(7440)).toBe("2 h 4 min");
  });
  it("shortens hashes", () => {
    expect(shortHash("abcdef0123456789")).toBe("abcdef012345…");
    expect(shortHash("abc")).toBe("abc");
    expect(shortHash(null)).toBe("—");
  });
  it("flattens scalar metrics, skipping curves and matrices", () => {
    expect(metricRows({ image: { accuracy: 0.9, confusion_matrix: [[1]] }, threshold: 0.5, note: "x" })).toEqual([
      ["image.accuracy", "0.9"],
      ["threshold", "0.5"],
      ["note", "x"],
    ]);
  });
  it("orders plots and names them", () => {
    expect(orderedPlots(["examples", "roc_curve", "training_curves"])).toEqual(["training_curves", "roc_curve", "examples"]);
    expect(humanize("pr_curve")).toBe("Pr curve");
  });
});
