// A segmentation mask as the portal stores it: one byte per image pixel, 0 background, 1..N the
// job's labels (pixel value = label index + 1). Brush and eraser paint discs along a stroke and
// report the dirty rectangle, so the tool recolours and redraws only that part; undo keeps only
// the changed rectangle (before and after), not a copy of a 5-megapixel mask per stroke.

import type { Point } from "./geometry";

export type Rect = { x: number; y: number; w: number; h: number };
export type MaskPatch = { rect: Rect; before: Uint8Array; after: Uint8Array };

export function unionRect(a: Rect | null, b: Rect | null): Rect | null {
  if (!a) return b;
  if (!b) return a;
  const x = Math.min(a.x, b.x);
  const y = Math.min(a.y, b.y);
  return { x, y, w: Math.max(a.x + a.w, b.x + b.w) - x, h: Math.max(a.y + a.h, b.y + b.h) - y };
}

export class LabelMask {
  readonly data: Uint8Array;

  constructor(readonly width: number, readonly height: number, data?: Uint8Array) {
    if (data && data.length !== width * height) throw new Error(`mask has ${data.length} pixels, the image ${width * height}`);
    this.data = data ?? new Uint8Array(width * height);
  }

  /** Fill a disc; returns the touched rectangle (null when it misses the image). */
  disc(cx: number, cy: number, radius: number, value: number): Rect | null {
    const r = Math.max(0.5, radius);
    const y0 = Math.max(0, Math.floor(cy - r));
    const y1 = Math.min(this.height - 1, Math.ceil(cy + r));
    const x0 = Math.max(0, Math.floor(cx - r));
    const x1 = Math.min(this.width - 1, Math.ceil(cx + r));
    if (x0 > x1 || y0 > y1) return null;
    for (let y = y0; y <= y1; y += 1) {
      const dy = y + 0.5 - cy;
      const half = Math.sqrt(Math.max(0, r * r - dy * dy));
      const from = Math.max(x0, Math.ceil(cx - half - 0.5));
      const to = Math.min(x1, Math.floor(cx + half - 0.5));
      if (from <= to) this.data.fill(value, y * this.width + from, y * this.width + to + 1);
    }
    return { x: x0, y: y0, w: x1 - x0 + 1, h: y1 - y0 + 1 };
  }

  /** Discs every radius/2 along a -> b (a stroke segment); value 0 erases. */
  line(a: Point, b: Point, radius: number, value: number): Rect | null {
    const steps = Math.max(1, Math.ceil(Math.hypot(b.x - a.x, b.y - a.y) / Math.max(1, radius / 2)));
    let dirty: Rect | null = null;
    for (let i = 0; i <= steps; i += 1) {
      const t = i / steps;
      dirty = unionRect(dirty, this.disc(a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t, radius, value));
    }
    return dirty;
  }

  crop(rect: Rect): Uint8Array {
    const out = new Uint8Array(rect.w * rect.h);
    for (let row = 0; row < rect.h; row += 1) {
      const start = (rect.y + row) * this.width + rect.x;
      out.set(this.data.subarray(start, start + rect.w), row * rect.w);
    }
    return out;
  }

  paste(rect: Rect, values: Uint8Array): void {
    for (let row = 0; row < rect.h; row += 1) {
      this.data.set(values.subarray(row * rect.w, (row + 1) * rect.w), (rect.y + row) * this.width + rect.x);
    }
  }

  isEmpty(): boolean {
    return !this.data.some((v) => v !== 0);
  }
}

/** The undo entry of a stroke: the rectangle it changed, before (from a snapshot) and after. */
export function patchOf(mask: LabelMask, snapshot: Uint8Array, rect: Rect): MaskPatch {
  const before = new LabelMask(mask.width, mask.height, snapshot).crop(rect);
  return { rect, before, after: mask.crop(rect) };
}

/** RGBA pixels of a rectangle of the mask, each label in its colour at `alpha`, background clear. */
export function colorize(mask: LabelMask, rect: Rect, colors: [number, number, number][], alpha = 110): Uint8ClampedArray {
  const out = new Uint8ClampedArray(rect.w * rect.h * 4);
  for (let row = 0; row < rect.h; row += 1) {
    let src = (rect.y + row) * mask.width + rect.x;
    let dst = row * rect.w * 4;
    for (let col = 0; col < rect.w; col += 1, src += 1, dst += 4) {
      const value = mask.data[src];
      if (value === 0) continue;
      const [r, g, b] = colors[(value - 1) % colors.length];
      out[dst] = r;
      out[dst + 1] = g;
      out[dst + 2] = b;
      out[dst + 3] = alpha;
    }
  }
  return out;
}

// ---------- PNG: 8-bit greyscale, what the portal's check_annotation accepts ----------

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n += 1) {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i += 1) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, body.length);
  for (let i = 0; i < 4; i += 1) out[4 + i] = type.charCodeAt(i);
  out.set(body, 8);
  view.setUint32(8 + body.length, crc32(out.subarray(4, 8 + body.length)));
  return out;
}

async function zlib(raw: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([raw as BlobPart]).stream().pipeThrough(new CompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The mask as an 8-bit greyscale PNG (filter 0 on every row). */
export async function encodeMaskPng(mask: LabelMask): Promise<Uint8Array> {
  const raw = new Uint8Array((mask.width + 1) * mask.height);
  for (let y = 0; y < mask.height; y += 1) {
    raw.set(mask.data.subarray(y * mask.width, (y + 1) * mask.width), y * (mask.width + 1) + 1);
  }
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, mask.width);
  view.setUint32(4, mask.height);
  header.set([8, 0, 0, 0, 0], 8); // bit depth 8, colour type 0 (greyscale), deflate, filter, no interlace
  const parts = [
    new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk("IHDR", header),
    chunk("IDAT", await zlib(raw)),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export function toBase64(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

/** Greyscale values from RGBA pixels (a decoded PNG drawn to a canvas): the red channel. */
export function fromRgba(rgba: Uint8ClampedArray, width: number, height: number): LabelMask {
  const data = new Uint8Array(width * height);
  for (let i = 0; i < data.length; i += 1) data[i] = rgba[i * 4];
  return new LabelMask(width, height, data);
}
