import { describe, expect, it, vi } from "vitest";
import {
  boxFromDrag, closesPolygon, fitView, hitTest, inPolygon, moveBox, movePolygon, pan, toImage, toScreen, zoomAt,
} from "./geometry";
import { History } from "./history";
import { LabelMask, colorize, crc32, encodeMaskPng, patchOf, unionRect } from "./mask";
import { annotationOf, debounce, docFrom, keyAction, toolsFor } from "./doc";

describe("view transform", () => {
  it("fits a 5 MP photo and maps points both ways", () => {
    const view = fitView(2592, 1944, 1296, 1000);
    expect(view.scale).toBeCloseTo(0.5);
    const p = toImage(view, toScreen(view, { x: 100, y: 200 }));
    expect(p.x).toBeCloseTo(100);
    expect(p.y).toBeCloseTo(200);
  });
  it("zooms about the cursor: the image point under it stays put", () => {
    const view = { scale: 0.5, offsetX: 10, offsetY: 20 };
    const anchor = { x: 300, y: 250 };
    const before = toImage(view, anchor);
    const zoomed = zoomAt(view, anchor, 2);
    expect(zoomed.scale).toBe(1);
    const after = toImage(zoomed, anchor);
    expect(after.x).toBeCloseTo(before.x);
    expect(after.y).toBeCloseTo(before.y);
    expect(zoomAt(view, anchor, 1e6).scale).toBe(32);
  });
  it("pans by screen pixels", () => {
    expect(pan({ scale: 2, offsetX: 0, offsetY: 0 }, 5, -3)).toEqual({ scale: 2, offsetX: 5, offsetY: -3 });
  });
});

describe("shapes", () => {
  it("a drag in any direction spans a box clamped to the image", () => {
    expect(boxFromDrag("crack", { x: 50, y: 40 }, { x: -10, y: 10 }, 100, 80)).toEqual({
      label: "crack", left: 0, top: 10, width: 50, height: 30,
    });
  });
  it("hit tests: polygons above boxes, last drawn on top, misses are null", () => {
    const boxes = [{ label: "a", left: 0, top: 0, width: 10, height: 10 }, { label: "b", left: 5, top: 5, width: 10, height: 10 }];
    const polygons = [{ label: "c", points: [[20, 20], [30, 20], [25, 30]] as [number, number][] }];
    expect(hitTest(boxes, polygons, { x: 7, y: 7 })).toEqual({ kind: "box", index: 1 });
    expect(hitTest(boxes, polygons, { x: 2, y: 2 })).toEqual({ kind: "box", index: 0 });
    expect(hitTest(boxes, polygons, { x: 25, y: 23 })).toEqual({ kind: "polygon", index: 0 });
    expect(hitTest(boxes, polygons, { x: 50, y: 50 })).toBeNull();
    expect(inPolygon(polygons[0].points, { x: 21, y: 29 })).toBe(false);
  });
  it("moves keep shapes inside the image", () => {
    expect(moveBox({ label: "a", left: 5, top: 5, width: 10, height: 10 }, 100, -100, 50, 50)).toMatchObject({ left: 40, top: 0 });
    const moved = movePolygon({ label: "a", points: [[10, 10], [20, 10], [15, 20]] }, -50, 5, 100, 100);
    expect(moved.points).toEqual([[0, 15], [10, 15], [5, 25]]);
  });
  it("a click near the first point closes a polygon of three or more points", () => {
    const view = { scale: 2, offsetX: 0, offsetY: 0 };
    expect(closesPolygon(view, [[10, 10], [50, 10], [30, 40]], { x: 12, y: 11 })).toBe(true);
    expect(closesPolygon(view, [[10, 10], [50, 10], [30, 40]], { x: 20, y: 10 })).toBe(false);
    expect(closesPolygon(view, [[10, 10], [50, 10]], { x: 10, y: 10 })).toBe(false);
  });
});

describe("history", () => {
  it("undoes, redoes, and drops the redo branch on a new edit", () => {
    const h = new History<number>(2);
    h.push(1); h.push(2); h.push(3); // capacity 2: 1 falls off
    expect(h.undo()).toBe(3);
    expect(h.undo()).toBe(2);
    expect(h.undo()).toBeUndefined();
    expect(h.redo()).toBe(2);
    h.push(4);
    expect(h.canRedo).toBe(false);
    expect(h.undo()).toBe(4);
  });
});

describe("mask", () => {
  it("a brush stroke paints label values and reports its dirty rect; erasing restores 0", () => {
    const mask = new LabelMask(100, 50);
    const rect = mask.line({ x: 10, y: 25 }, { x: 60, y: 25 }, 5, 2);
    expect(rect).toEqual({ x: 5, y: 20, w: 61, h: 11 });
    expect(mask.data[25 * 100 + 30]).toBe(2);
    expect(mask.data[10 * 100 + 30]).toBe(0);
    mask.line({ x: 0, y: 25 }, { x: 99, y: 25 }, 10, 0);
    expect(mask.isEmpty()).toBe(true);
  });
  it("a disc off the image touches nothing", () => {
    expect(new LabelMask(10, 10).disc(-50, -50, 3, 1)).toBeNull();
  });
  it("a patch undoes and redoes exactly the stroke", () => {
    const mask = new LabelMask(40, 40);
    mask.disc(5, 5, 3, 1);
    const snapshot = mask.data.slice();
    const rect = mask.line({ x: 10, y: 10 }, { x: 30, y: 30 }, 4, 2)!;
    const after = mask.data.slice();
    const patch = patchOf(mask, snapshot, rect);
    mask.paste(patch.rect, patch.before);
    expect(mask.data).toEqual(snapshot);
    mask.paste(patch.rect, patch.after);
    expect(mask.data).toEqual(after);
  });
  it("colours only labelled pixels", () => {
    const mask = new LabelMask(2, 1, new Uint8Array([0, 2]));
    expect(Array.from(colorize(mask, { x: 0, y: 0, w: 2, h: 1 }, [[1, 2, 3], [4, 5, 6]], 99))).toEqual([0, 0, 0, 0, 4, 5, 6, 99]);
    expect(unionRect({ x: 0, y: 0, w: 2, h: 2 }, { x: 5, y: 1, w: 1, h: 4 })).toEqual({ x: 0, y: 0, w: 6, h: 5 });
  });
  it("encodes a valid greyscale PNG whose pixels are the label values", async () => {
    const mask = new LabelMask(7, 3);
    mask.disc(3, 1, 1.5, 3);
    const png = await encodeMaskPng(mask);
    expect(Array.from(png.subarray(0, 8))).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
    const view = new DataView(png.buffer);
    expect([view.getUint32(16), view.getUint32(20), png[24], png[25]]).toEqual([7, 3, 8, 0]);
    expect(view.getUint32(29)).toBe(crc32(png.subarray(12, 29)));
    const idatLength = view.getUint32(33);
    const idat = new Blob([png.slice(41, 41 + idatLength)]).stream().pipeThrough(new DecompressionStream("deflate"));
    const raw = new Uint8Array(await new Response(idat).arrayBuffer());
    const rows = Array.from({ length: 3 }, (_, y) => Array.from(raw.subarray(y * 8 + 1, y * 8 + 8)));
    expect(rows.flat()).toEqual(Array.from(mask.data));
  });
});

describe("annotation documents and keys", () => {
  it("builds the body the portal expects per task type", () => {
    const doc = docFrom({ boxes: [{ label: "a", left: 1.234, top: 2, width: 3, height: 4 }] });
    expect(annotationOf("bounding_box", doc)).toEqual({ boxes: [{ label: "a", left: 1.2, top: 2, width: 3, height: 4 }] });
    expect(annotationOf("classification", doc)).toBeNull();
    expect(annotationOf("classification", { ...doc, label: "ok" })).toEqual({ label: "ok" });
    expect(annotationOf("polygon", { label: null, boxes: [], polygons: [{ label: "a", points: [[0, 0], [1, 1]] }] })).toEqual({ polygons: [] });
    expect(annotationOf("mask", doc, "iVBO")).toEqual({ mask_png: "iVBO" });
    expect(toolsFor("mask")).toEqual(["brush", "eraser"]);
  });
  it("maps shortcuts", () => {
    const k = (key: string, mods: Partial<{ ctrlKey: boolean; shiftKey: boolean; metaKey: boolean }> = {}) =>
      keyAction({ key, ctrlKey: false, metaKey: false, shiftKey: false, ...mods });
    expect(k("3")).toEqual({ kind: "label", index: 2 });
    expect(k("0")).toBeNull();
    expect(k("N")).toEqual({ kind: "next" });
    expect(k("Enter")).toEqual({ kind: "submit" });
    expect(k("z", { ctrlKey: true })).toEqual({ kind: "undo" });
    expect(k("Z", { ctrlKey: true, shiftKey: true })).toEqual({ kind: "redo" });
    expect(k("Delete")).toEqual({ kind: "delete" });
    expect(k("b")).toEqual({ kind: "tool", tool: "box" });
  });
  it("debounces autosave and flushes on demand", () => {
    vi.useFakeTimers();
    const fn = vi.fn();
    const d = debounce(fn, 500);
    d.call(); d.call();
    vi.advanceTimersByTime(400);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(200);
    expect(fn).toHaveBeenCalledTimes(1);
    d.call();
    d.flush();
    expect(fn).toHaveBeenCalledTimes(2);
    vi.useRealTimers();
  });
});
