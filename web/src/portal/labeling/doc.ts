// What the labeler edits (one image's annotation) and how it maps to the portal's annotation
// body (schemas/labeling.py: exactly one of label, boxes, polygons, mask_png per task type),
// plus the keyboard map of the tool.

import { roundBox, type Box, type Polygon } from "./geometry";

export type TaskType = "classification" | "bounding_box" | "polygon" | "mask";
export type Annotation = { label?: string; boxes?: Box[]; polygons?: Polygon[]; mask_png?: string };
/** The vector part of an image's annotation; the mask lives in a LabelMask (mask.ts). */
export type Doc = { label: string | null; boxes: Box[]; polygons: Polygon[] };

export const EMPTY_DOC: Doc = { label: null, boxes: [], polygons: [] };

export function docFrom(annotation: Annotation | Record<string, unknown> | undefined): Doc {
  const a = (annotation ?? {}) as Annotation;
  return { label: a.label ?? null, boxes: [...(a.boxes ?? [])], polygons: [...(a.polygons ?? [])] };
}

/** The body to save, or null when the doc is not yet a valid annotation of the task type. */
export function annotationOf(type: TaskType, doc: Doc, maskPng?: string): Annotation | null {
  switch (type) {
    case "classification":
      return doc.label ? { label: doc.label } : null;
    case "bounding_box":
      return { boxes: doc.boxes.filter((b) => b.width > 0 && b.height > 0).map(roundBox) };
    case "polygon":
      return { polygons: doc.polygons.filter((p) => p.points.length >= 3) };
    case "mask":
      return maskPng ? { mask_png: maskPng } : null;
  }
}

export type Tool = "select" | "box" | "polygon" | "brush" | "eraser";

export function toolsFor(type: TaskType): Tool[] {
  return { classification: [], bounding_box: ["box", "select"], polygon: ["polygon", "select"], mask: ["brush", "eraser"] }[type] as Tool[];
}

export type KeyAction =
  | { kind: "label"; index: number }
  | { kind: "next" | "previous" | "submit" | "undo" | "redo" | "delete" | "cancel" }
  | { kind: "tool"; tool: Tool };

type KeyLike = { key: string; ctrlKey: boolean; metaKey: boolean; shiftKey: boolean };

const TOOL_KEYS: Record<string, Tool> = { b: "box", g: "polygon", v: "select", r: "brush", e: "eraser" };

/** The tool's shortcut for a key press, or null (then the key does what it normally does). */
export function keyAction(e: KeyLike): KeyAction | null {
  const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  if (e.ctrlKey || e.metaKey) {
    if (key === "z") return { kind: e.shiftKey ? "redo" : "undo" };
    if (key === "y") return { kind: "redo" };
    return null;
  }
  if (/^[1-9]$/.test(key)) return { kind: "label", index: Number(key) - 1 };
  if (key === "n") return { kind: "next" };
  if (key === "p") return { kind: "previous" };
  if (key === "Enter") return { kind: "submit" };
  if (key === "Delete" || key === "Backspace") return { kind: "delete" };
  if (key === "Escape") return { kind: "cancel" };
  if (TOOL_KEYS[key]) return { kind: "tool", tool: TOOL_KEYS[key] };
  return null;
}

/** A distinct colour per label (index), the same in every view. */
export const LABEL_COLORS: [number, number, number][] = [
  [230, 25, 75], [60, 180, 75], [0, 130, 200], [245, 130, 48], [145, 30, 180],
  [70, 240, 240], [240, 50, 230], [210, 245, 60], [0, 128, 128],
];

export function colorOf(index: number, alpha = 1): string {
  const [r, g, b] = LABEL_COLORS[((index % LABEL_COLORS.length) + LABEL_COLORS.length) % LABEL_COLORS.length];
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}

/** Wait `ms` after the last call before running `fn` (autosave); flush() runs a pending call now. */
export function debounce(fn: () => void, ms: number): { call: () => void; flush: () => void; cancel: () => void } {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const cancel = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
  };
  return {
    call: () => {
      cancel();
      timer = setTimeout(() => {
        timer = null;
        fn();
      }, ms);
    },
    flush: () => {
      if (timer === null) return;
      cancel();
      fn();
    },
    cancel,
  };
}
