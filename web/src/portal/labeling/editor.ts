// The labeling tool's canvas engine. Three stacked canvases keep a 5-megapixel photo smooth:
//   image  — the photo, redrawn only when the view changes (zoom, pan, resize);
//   mask   — the brush mask, redrawn whole on view changes, else only a stroke's dirty rectangle;
//   shapes — boxes, polygons, the brush cursor: cheap vector drawing, redrawn each frame needed.
// Every redraw is coalesced into one requestAnimationFrame. Pure logic lives in geometry.ts,
// mask.ts, history.ts and doc.ts (unit-tested); this file only wires it to the DOM.

import {
  boxFromDrag, closesPolygon, clampPoint, fitView, hitTest, moveBox, movePolygon, pan, toImage, toScreen, zoomAt,
  type Point, type ShapeRef, type View,
} from "./geometry";
import { History } from "./history";
import { LabelMask, colorize, encodeMaskPng, fromRgba, patchOf, toBase64, unionRect, type MaskPatch, type Rect } from "./mask";
import { LABEL_COLORS, colorOf, type Doc, type TaskType, type Tool } from "./doc";

type Entry = { kind: "doc"; before: Doc; after: Doc } | { kind: "mask"; patch: MaskPatch };
type Gesture =
  | { kind: "pan"; last: Point }
  | { kind: "box"; start: Point; now: Point }
  | { kind: "move"; ref: ShapeRef; start: Point; before: Doc }
  | { kind: "stroke"; last: Point; snapshot: Uint8Array; dirty: Rect | null; value: number };

export type EditorOptions = {
  taskType: TaskType;
  labels: string[];
  readOnly: boolean;
  onChange: () => void;
};

export class Editor {
  view: View = { scale: 1, offsetX: 0, offsetY: 0 };
  doc: Doc = { label: null, boxes: [], polygons: [] };
  mask: LabelMask | null = null;
  tool: Tool;
  labelIndex = 0;
  brushRadius = 24;
  selected: ShapeRef | null = null;
  spaceHeld = false;
  /** Frames drawn and their durations (ms), for the benchmark. */
  frameTimes: number[] = [];

  private readonly history = new History<Entry>(200);
  private readonly image: HTMLCanvasElement;
  private readonly maskView: HTMLCanvasElement;
  private readonly shapes: HTMLCanvasElement;
  private maskLayer: HTMLCanvasElement | null = null;
  private gesture: Gesture | null = null;
  private polygon: [number, number][] = [];
  private pointer: Point | null = null;
  private frame = 0;
  private dirty = { image: true, mask: true, maskRect: null as Rect | null, shapes: true };
  private readonly cleanup: (() => void)[] = [];

  constructor(
    private readonly host: HTMLElement,
    private readonly bitmap: ImageBitmap | HTMLCanvasElement,
    private readonly options: EditorOptions,
  ) {
    [this.image, this.maskView, this.shapes] = [0, 1, 2].map(() => {
      const canvas = document.createElement("canvas");
      canvas.style.position = "absolute";
      canvas.style.inset = "0";
      canvas.setAttribute("aria-hidden", "true");
      host.appendChild(canvas);
      return canvas;
    });
    this.shapes.removeAttribute("aria-hidden");
    this.shapes.setAttribute("role", "img");
    this.shapes.setAttribute("aria-label", "Image to label: drag to draw, wheel to zoom, space and drag to pan");
    this.shapes.dataset.testid = "label-canvas";
    this.shapes.style.touchAction = "none";
    this.tool = ({ classification: "select", bounding_box: "box", polygon: "polygon", mask: "brush" } as const)[options.taskType];
    if (options.taskType === "mask") this.setMask(new LabelMask(this.width, this.height));
    this.listen();
    this.resize();
    (host as HTMLElement & { labelEditor?: Editor }).labelEditor = this; // for bench/bench_labeling_ui.py
  }

  get width(): number {
    return this.bitmap.width;
  }

  get height(): number {
    return this.bitmap.height;
  }

  get canUndo(): boolean {
    return this.history.canUndo;
  }

  get canRedo(): boolean {
    return this.history.canRedo;
  }

  get drawingPolygon(): boolean {
    return this.polygon.length > 0;
  }

  destroy(): void {
    cancelAnimationFrame(this.frame);
    this.cleanup.forEach((fn) => fn());
    this.host.replaceChildren();
  }

  // ---------- document ----------

  load(doc: Doc): void {
    this.doc = doc;
    this.selected = null;
    this.polygon = [];
    this.history.clear();
    this.invalidate({ shapes: true });
  }

  /** The mask from the portal's base64 PNG (a draft or a model pre-label). */
  async loadMaskPng(base64: string): Promise<void> {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const decoded = await createImageBitmap(new Blob([bytes], { type: "image/png" }), { colorSpaceConversion: "none", premultiplyAlpha: "none" });
    const canvas = document.createElement("canvas");
    canvas.width = this.width;
    canvas.height = this.height;
    const ctx = canvas.getContext("2d", { willReadFrequently: true })!;
    ctx.drawImage(decoded, 0, 0, this.width, this.height);
    this.setMask(fromRgba(ctx.getImageData(0, 0, this.width, this.height).data, this.width, this.height));
    this.history.clear();
  }

  async maskPngBase64(): Promise<string | undefined> {
    return this.mask ? toBase64(await encodeMaskPng(this.mask)) : undefined;
  }

  private setMask(mask: LabelMask): void {
    this.mask = mask;
    const layer = document.createElement("canvas");
    layer.width = mask.width;
    layer.height = mask.height;
    this.maskLayer = layer;
    this.recolor({ x: 0, y: 0, w: mask.width, h: mask.height });
    this.invalidate({ mask: true });
  }

  private recolor(rect: Rect): void {
    if (!this.mask || !this.maskLayer || rect.w <= 0 || rect.h <= 0) return;
    const pixels = colorize(this.mask, rect, LABEL_COLORS);
    this.maskLayer.getContext("2d")!.putImageData(new ImageData(pixels as Uint8ClampedArray<ArrayBuffer>, rect.w, rect.h), rect.x, rect.y);
  }

  private commit(before: Doc, after: Doc): void {
    this.history.push({ kind: "doc", before, after });
    this.doc = after;
    this.invalidate({ shapes: true });
    this.options.onChange();
  }

  setLabel(index: number): void {
    if (index < 0 || index >= this.options.labels.length) return;
    this.labelIndex = index;
    const label = this.options.labels[index];
    if (this.options.readOnly) return this.invalidate({ shapes: true });
    if (this.options.taskType === "classification") {
      if (this.doc.label !== label) this.commit(this.doc, { ...this.doc, label });
    } else if (this.selected) {
      this.commit(this.doc, relabel(this.doc, this.selected, label));
    }
    this.invalidate({ shapes: true });
  }

  setTool(tool: Tool): void {
    this.tool = tool;
    this.polygon = [];
    this.invalidate({ shapes: true });
  }

  undo(): void {
    const entry = this.history.undo();
    if (entry) this.apply(entry, true);
  }

  redo(): void {
    const entry = this.history.redo();
    if (entry) this.apply(entry, false);
  }

  private apply(entry: Entry, back: boolean): void {
    if (entry.kind === "doc") {
      this.doc = back ? entry.before : entry.after;
      this.selected = null;
      this.invalidate({ shapes: true });
    } else if (this.mask) {
      this.mask.paste(entry.patch.rect, back ? entry.patch.before : entry.patch.after);
      this.recolor(entry.patch.rect);
      this.invalidate({ maskRect: entry.patch.rect });
    }
    this.options.onChange();
  }

  deleteSelected(): void {
    if (!this.selected || this.options.readOnly) return;
    const { kind, index } = this.selected;
    const after = kind === "box"
      ? { ...this.doc, boxes: this.doc.boxes.filter((_, i) => i !== index) }
      : { ...this.doc, polygons: this.doc.polygons.filter((_, i) => i !== index) };
    this.selected = null;
    this.commit(this.doc, after);
  }

  /** Escape: drop a polygon in progress, else the selection. */
  cancel(): void {
    if (this.polygon.length) this.polygon = [];
    else this.selected = null;
    this.invalidate({ shapes: true });
  }

  /** Close the polygon in progress (Enter or a double click); false when there is none to close. */
  closePolygon(): boolean {
    if (this.polygon.length < 3) return false;
    const polygon = { label: this.options.labels[this.labelIndex], points: this.polygon };
    this.polygon = [];
    this.commit(this.doc, { ...this.doc, polygons: [...this.doc.polygons, polygon] });
    return true;
  }

  fit(): void {
    this.view = fitView(this.width, this.height, this.shapes.width, this.shapes.height);
    this.invalidate({ image: true, mask: true, shapes: true });
  }

  zoom(factor: number, anchor?: Point): void {
    this.view = zoomAt(this.view, anchor ?? { x: this.shapes.width / 2, y: this.shapes.height / 2 }, factor);
    this.invalidate({ image: true, mask: true, shapes: true });
  }

  panBy(dx: number, dy: number): void {
    this.view = pan(this.view, dx, dy);
    this.invalidate({ image: true, mask: true, shapes: true });
  }

  resize(): void {
    const { clientWidth: w, clientHeight: h } = this.host;
    for (const canvas of [this.image, this.maskView, this.shapes]) {
      canvas.width = Math.max(1, w);
      canvas.height = Math.max(1, h);
    }
    this.fit();
  }

  // ---------- input ----------

  private listen(): void {
    const on = <K extends keyof HTMLElementEventMap>(type: K, fn: (e: HTMLElementEventMap[K]) => void, opts?: AddEventListenerOptions) => {
      this.shapes.addEventListener(type, fn as EventListener, opts);
      this.cleanup.push(() => this.shapes.removeEventListener(type, fn as EventListener, opts));
    };
    on("pointerdown", (e) => this.down(e));
    on("pointermove", (e) => this.move(e));
    on("pointerup", (e) => this.up(e));
    on("pointercancel", (e) => this.up(e));
    on("pointerleave", () => {
      this.pointer = null;
      this.invalidate({ shapes: true });
    });
    on("dblclick", () => this.closePolygon());
    on("wheel", (e) => {
      e.preventDefault();
      this.zoom(Math.exp(-e.deltaY * 0.0015), this.local(e));
    }, { passive: false });
    on("contextmenu", (e) => e.preventDefault());
  }

  private local(e: MouseEvent): Point {
    const r = this.shapes.getBoundingClientRect();
    return { x: e.clientX - r.left, y: e.clientY - r.top };
  }

  private down(e: PointerEvent): void {
    const at = this.local(e);
    this.shapes.setPointerCapture?.(e.pointerId);
    if (e.button === 1 || (e.button === 0 && this.spaceHeld)) {
      e.preventDefault();
      this.gesture = { kind: "pan", last: at };
      return;
    }
    if (e.button !== 0 || this.options.readOnly) return;
    const p = clampPoint(toImage(this.view, at), this.width, this.height);
    if (this.tool === "box") this.gesture = { kind: "box", start: p, now: p };
    else if (this.tool === "polygon") this.addVertex(p);
    else if (this.tool === "select") this.startMove(p);
    else if ((this.tool === "brush" || this.tool === "eraser") && this.mask) {
      const value = this.tool === "eraser" ? 0 : this.labelIndex + 1;
      // The snapshot before the first dab: the stroke's undo patch is cut from it at the end.
      this.gesture = { kind: "stroke", last: p, snapshot: this.mask.data.slice(), dirty: null, value };
      this.paint(p);
    }
  }

  private addVertex(p: Point): void {
    if (closesPolygon(this.view, this.polygon, p)) {
      this.closePolygon();
      return;
    }
    this.polygon = [...this.polygon, [Math.round(p.x * 10) / 10, Math.round(p.y * 10) / 10]];
    this.invalidate({ shapes: true });
  }

  private startMove(p: Point): void {
    this.selected = hitTest(this.doc.boxes, this.doc.polygons, p);
    if (this.selected) {
      const label = this.selected.kind === "box" ? this.doc.boxes[this.selected.index].label : this.doc.polygons[this.selected.index].label;
      this.labelIndex = Math.max(0, this.options.labels.indexOf(label));
      this.gesture = { kind: "move", ref: this.selected, start: p, before: this.doc };
    }
    this.invalidate({ shapes: true });
    this.options.onChange();
  }

  private move(e: PointerEvent): void {
    const at = this.local(e);
    this.pointer = at;
    const g = this.gesture;
    if (!g) return this.invalidate({ shapes: true });
    const p = clampPoint(toImage(this.view, at), this.width, this.height);
    if (g.kind === "pan") {
      this.panBy(at.x - g.last.x, at.y - g.last.y);
      g.last = at;
    } else if (g.kind === "box") {
      g.now = p;
      this.invalidate({ shapes: true });
    } else if (g.kind === "move") {
      this.doc = moved(g.before, g.ref, p.x - g.start.x, p.y - g.start.y, this.width, this.height);
      this.invalidate({ shapes: true });
    } else {
      this.paint(p);
    }
  }

  private paint(p: Point): void {
    const g = this.gesture;
    if (!g || g.kind !== "stroke" || !this.mask) return;
    const rect = this.mask.line(g.last, p, this.brushRadius, g.value);
    g.last = p;
    if (!rect) return;
    g.dirty = unionRect(g.dirty, rect);
    this.recolor(rect);
    this.invalidate({ maskRect: rect, shapes: true });
  }

  private up(e: PointerEvent): void {
    const g = this.gesture;
    this.gesture = null;
    this.shapes.releasePointerCapture?.(e.pointerId);
    if (!g) return;
    if (g.kind === "box") {
      const box = boxFromDrag(this.options.labels[this.labelIndex], g.start, g.now, this.width, this.height);
      const minimum = 3 / this.view.scale; // a click is not a box
      if (box.width >= minimum && box.height >= minimum) {
        this.selected = { kind: "box", index: this.doc.boxes.length };
        this.commit(this.doc, { ...this.doc, boxes: [...this.doc.boxes, box] });
      }
      this.invalidate({ shapes: true });
    } else if (g.kind === "move") {
      if (g.before !== this.doc) this.commit(g.before, this.doc);
    } else if (g.kind === "stroke" && g.dirty && this.mask) {
      this.history.push({ kind: "mask", patch: patchOf(this.mask, g.snapshot, g.dirty) });
      this.options.onChange();
    }
  }

  // ---------- drawing ----------

  private invalidate(what: Partial<{ image: boolean; mask: boolean; maskRect: Rect; shapes: boolean }>): void {
    this.dirty.image ||= !!what.image;
    this.dirty.mask ||= !!what.mask;
    this.dirty.shapes ||= !!what.shapes || !!what.maskRect;
    if (what.maskRect) this.dirty.maskRect = unionRect(this.dirty.maskRect, what.maskRect);
    if (!this.frame) this.frame = requestAnimationFrame(() => this.render());
  }

  private render(): void {
    this.frame = 0;
    const started = performance.now();
    const { image, mask, maskRect, shapes } = this.dirty;
    this.dirty = { image: false, mask: false, maskRect: null, shapes: false };
    if (image) this.drawImage();
    if (mask) this.drawMask(null);
    else if (maskRect) this.drawMask(maskRect);
    if (shapes) this.drawShapes();
    this.frameTimes.push(performance.now() - started);
    if (this.frameTimes.length > 5000) this.frameTimes.splice(0, 1000);
  }

  private drawImage(): void {
    const ctx = this.image.getContext("2d", { alpha: false })!;
    const { scale, offsetX, offsetY } = this.view;
    ctx.fillStyle = "#232f3e";
    ctx.fillRect(0, 0, this.image.width, this.image.height);
    ctx.imageSmoothingEnabled = scale < 2;
    ctx.drawImage(this.bitmap, offsetX, offsetY, this.width * scale, this.height * scale);
  }

  /** The whole mask, or only `rect` (image pixels) of it: a brush stroke repaints what it touched. */
  private drawMask(rect: Rect | null): void {
    if (!this.maskLayer) return;
    const ctx = this.maskView.getContext("2d")!;
    const { scale, offsetX, offsetY } = this.view;
    ctx.imageSmoothingEnabled = false;
    if (!rect) {
      ctx.clearRect(0, 0, this.maskView.width, this.maskView.height);
      ctx.drawImage(this.maskLayer, offsetX, offsetY, this.width * scale, this.height * scale);
      return;
    }
    // Whole screen pixels around the rectangle: clear and redraw exactly those (clipped), so a
    // stroke's repeated partial redraws never stack half-transparent edge pixels.
    const x0 = Math.floor(rect.x * scale + offsetX);
    const y0 = Math.floor(rect.y * scale + offsetY);
    const x1 = Math.ceil((rect.x + rect.w) * scale + offsetX);
    const y1 = Math.ceil((rect.y + rect.h) * scale + offsetY);
    const sx = Math.max(0, rect.x - 1);
    const sy = Math.max(0, rect.y - 1);
    const sw = Math.min(this.width, rect.x + rect.w + 1) - sx;
    const sh = Math.min(this.height, rect.y + rect.h + 1) - sy;
    ctx.save();
    ctx.beginPath();
    ctx.rect(x0, y0, x1 - x0, y1 - y0);
    ctx.clip();
    ctx.clearRect(x0, y0, x1 - x0, y1 - y0);
    ctx.drawImage(this.maskLayer, sx, sy, sw, sh, sx * scale + offsetX, sy * scale + offsetY, sw * scale, sh * scale);
    ctx.restore();
  }

  private drawShapes(): void {
    const ctx = this.shapes.getContext("2d")!;
    ctx.clearRect(0, 0, this.shapes.width, this.shapes.height);
    const index = (label: string) => this.options.labels.indexOf(label);
    this.doc.boxes.forEach((box, i) => {
      const a = toScreen(this.view, { x: box.left, y: box.top });
      const selected = this.selected?.kind === "box" && this.selected.index === i;
      strokeShape(ctx, colorOf(index(box.label)), selected, () => ctx.rect(a.x, a.y, box.width * this.view.scale, box.height * this.view.scale));
      tag(ctx, box.label, a, colorOf(index(box.label)));
    });
    this.doc.polygons.forEach((polygon, i) => {
      const selected = this.selected?.kind === "polygon" && this.selected.index === i;
      const points = polygon.points.map(([x, y]) => toScreen(this.view, { x, y }));
      strokeShape(ctx, colorOf(index(polygon.label)), selected, () => path(ctx, points, true));
      tag(ctx, polygon.label, points[0], colorOf(index(polygon.label)));
    });
    this.drawGesture(ctx);
  }

  private drawGesture(ctx: CanvasRenderingContext2D): void {
    const color = colorOf(this.labelIndex);
    const g = this.gesture;
    if (g?.kind === "box") {
      const box = boxFromDrag("", g.start, g.now, this.width, this.height);
      const a = toScreen(this.view, { x: box.left, y: box.top });
      strokeShape(ctx, color, true, () => ctx.rect(a.x, a.y, box.width * this.view.scale, box.height * this.view.scale));
    }
    if (this.polygon.length) {
      const points = this.polygon.map(([x, y]) => toScreen(this.view, { x, y }));
      if (this.pointer) points.push(this.pointer);
      ctx.setLineDash([6, 4]);
      strokeShape(ctx, color, true, () => path(ctx, points, false));
      ctx.setLineDash([]);
    }
    if (this.pointer && (this.tool === "brush" || this.tool === "eraser") && !this.options.readOnly) {
      ctx.beginPath();
      ctx.arc(this.pointer.x, this.pointer.y, this.brushRadius * this.view.scale, 0, Math.PI * 2);
      ctx.strokeStyle = this.tool === "eraser" ? "#ffffff" : color;
      ctx.lineWidth = 1.5;
      ctx.stroke();
    }
  }
}

function relabel(doc: Doc, ref: ShapeRef, label: string): Doc {
  if (ref.kind === "box") return { ...doc, boxes: doc.boxes.map((b, i) => (i === ref.index ? { ...b, label } : b)) };
  return { ...doc, polygons: doc.polygons.map((p, i) => (i === ref.index ? { ...p, label } : p)) };
}

function moved(doc: Doc, ref: ShapeRef, dx: number, dy: number, width: number, height: number): Doc {
  if (ref.kind === "box") {
    return { ...doc, boxes: doc.boxes.map((b, i) => (i === ref.index ? moveBox(b, dx, dy, width, height) : b)) };
  }
  return { ...doc, polygons: doc.polygons.map((p, i) => (i === ref.index ? movePolygon(p, dx, dy, width, height) : p)) };
}

function path(ctx: CanvasRenderingContext2D, points: Point[], close: boolean): void {
  points.forEach((p, i) => (i === 0 ? ctx.moveTo(p.x, p.y) : ctx.lineTo(p.x, p.y)));
  if (close) ctx.closePath();
}

function strokeShape(ctx: CanvasRenderingContext2D, color: string, selected: boolean, trace: () => void): void {
  ctx.beginPath();
  trace();
  ctx.fillStyle = color.replace(/, 1\)$/, selected ? ", 0.25)" : ", 0.12)");
  ctx.fill();
  ctx.lineWidth = selected ? 3 : 2;
  ctx.strokeStyle = color;
  ctx.stroke();
}

function tag(ctx: CanvasRenderingContext2D, label: string, at: Point, color: string): void {
  ctx.font = "12px sans-serif";
  const width = ctx.measureText(label).width + 8;
  ctx.fillStyle = color;
  ctx.fillRect(at.x, at.y - 16, width, 16);
  ctx.fillStyle = "#ffffff";
  ctx.fillText(label, at.x + 4, at.y - 4);
}
