// Pure geometry of the labeling tool: the view transform (zoom about a point, pan), shapes in
// image pixels, hit tests and moves. No DOM here, so vitest covers it in plain Node.

export type Point = { x: number; y: number };
export type Box = { label: string; left: number; top: number; width: number; height: number };
export type Polygon = { label: string; points: [number, number][] };
/** Image pixel = (screen - offset) / scale. */
export type View = { scale: number; offsetX: number; offsetY: number };

export const MIN_SCALE = 0.02;
export const MAX_SCALE = 32;

export function toImage(view: View, p: Point): Point {
  return { x: (p.x - view.offsetX) / view.scale, y: (p.y - view.offsetY) / view.scale };
}

export function toScreen(view: View, p: Point): Point {
  return { x: p.x * view.scale + view.offsetX, y: p.y * view.scale + view.offsetY };
}

/** The view that shows the whole image centred in a canvas of the given size. */
export function fitView(imageW: number, imageH: number, canvasW: number, canvasH: number): View {
  const scale = Math.min(canvasW / imageW, canvasH / imageH) || 1;
  return { scale, offsetX: (canvasW - imageW * scale) / 2, offsetY: (canvasH - imageH * scale) / 2 };
}

/** Zoom by `factor` keeping the image point under `anchor` (screen) where it is. */
export function zoomAt(view: View, anchor: Point, factor: number): View {
  const scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, view.scale * factor));
  const under = toImage(view, anchor);
  return { scale, offsetX: anchor.x - under.x * scale, offsetY: anchor.y - under.y * scale };
}

export function pan(view: View, dx: number, dy: number): View {
  return { ...view, offsetX: view.offsetX + dx, offsetY: view.offsetY + dy };
}

export function clampPoint(p: Point, width: number, height: number): Point {
  return { x: Math.min(width, Math.max(0, p.x)), y: Math.min(height, Math.max(0, p.y)) };
}

/** The box spanned by a drag from `a` to `b` (any direction), clamped to the image. */
export function boxFromDrag(label: string, a: Point, b: Point, width: number, height: number): Box {
  const p = clampPoint(a, width, height);
  const q = clampPoint(b, width, height);
  return {
    label,
    left: Math.min(p.x, q.x),
    top: Math.min(p.y, q.y),
    width: Math.abs(q.x - p.x),
    height: Math.abs(q.y - p.y),
  };
}

export function inBox(box: Box, p: Point): boolean {
  return p.x >= box.left && p.x <= box.left + box.width && p.y >= box.top && p.y <= box.top + box.height;
}

/** Even-odd ray casting. */
export function inPolygon(points: [number, number][], p: Point): boolean {
  let inside = false;
  for (let i = 0, j = points.length - 1; i < points.length; j = i, i += 1) {
    const [xi, yi] = points[i];
    const [xj, yj] = points[j];
    if (yi > p.y !== yj > p.y && p.x < ((xj - xi) * (p.y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

export type ShapeRef = { kind: "box" | "polygon"; index: number };

/** The topmost shape under `p` (the last drawn wins), or null. */
export function hitTest(boxes: Box[], polygons: Polygon[], p: Point): ShapeRef | null {
  for (let i = polygons.length - 1; i >= 0; i -= 1) if (inPolygon(polygons[i].points, p)) return { kind: "polygon", index: i };
  for (let i = boxes.length - 1; i >= 0; i -= 1) if (inBox(boxes[i], p)) return { kind: "box", index: i };
  return null;
}

/** A box moved by (dx, dy), kept inside the image. */
export function moveBox(box: Box, dx: number, dy: number, width: number, height: number): Box {
  const left = Math.min(Math.max(0, box.left + dx), Math.max(0, width - box.width));
  const top = Math.min(Math.max(0, box.top + dy), Math.max(0, height - box.height));
  return { ...box, left, top };
}

/** A polygon moved by (dx, dy), the shift limited so every point stays inside the image. */
export function movePolygon(polygon: Polygon, dx: number, dy: number, width: number, height: number): Polygon {
  const xs = polygon.points.map((p) => p[0]);
  const ys = polygon.points.map((p) => p[1]);
  const mx = Math.min(Math.max(dx, -Math.min(...xs)), width - Math.max(...xs));
  const my = Math.min(Math.max(dy, -Math.min(...ys)), height - Math.max(...ys));
  return { ...polygon, points: polygon.points.map(([x, y]) => [x + mx, y + my]) };
}

export function distance(a: Point, b: Point): number {
  return Math.hypot(a.x - b.x, a.y - b.y);
}

/** Whether a click at `p` closes a polygon in progress: near its first point (in screen pixels). */
export function closesPolygon(view: View, points: [number, number][], p: Point, radiusPx = 8): boolean {
  if (points.length < 3) return false;
  const first = toScreen(view, { x: points[0][0], y: points[0][1] });
  return distance(first, toScreen(view, p)) <= radiusPx;
}

/** Round to 0.1 px: drafts stay small and exact enough for any trainer. */
export function roundBox(box: Box): Box {
  const r = (v: number) => Math.round(v * 10) / 10;
  return { label: box.label, left: r(box.left), top: r(box.top), width: r(box.width), height: r(box.height) };
}
