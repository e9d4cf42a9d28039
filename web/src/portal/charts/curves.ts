// Pure helpers behind the portal's SVG charts: series from job metric events, scales and ticks.
import type { JobEvent } from "../api-ml";

export type Point = { x: number; y: number };
export type Series = { key: string; title: string; points: Point[] };

/** The per-epoch curves of a training job, from its `metric` events (one event per epoch). */
export const LOSS_KEYS: [string, string][] = [
  ["train_loss", "Training loss"],
  ["val_loss", "Validation loss"],
];
export const QUALITY_KEYS: [string, string][] = [
  ["val_f1", "Validation F1"],
  ["val_auroc", "Validation AUROC"],
];

/**
 * One series per key: (epoch, value) points sorted by epoch, the last event of an epoch winning
 * (a retried job may report an epoch twice); missing or non-finite values are left out.
 */
export function epochSeries(events: JobEvent[], keys: [string, string][]): Series[] {
  const byEpoch = new Map<number, Record<string, unknown>>();
  for (const e of events) {
    if (e.kind !== "metric") continue;
    const epoch = e.data.epoch;
    if (typeof epoch === "number" && Number.isFinite(epoch)) byEpoch.set(epoch, e.data);
  }
  const epochs = [...byEpoch.keys()].sort((a, b) => a - b);
  return keys.map(([key, title]) => ({
    key,
    title,
    points: epochs
      .map((x) => ({ x, y: byEpoch.get(x)?.[key] }))
      .filter((p): p is Point => typeof p.y === "number" && Number.isFinite(p.y)),
  }));
}

/** A curve given as two parallel arrays (an evaluation's ROC or PR curve); null pairs dropped. */
export function pairedSeries(key: string, title: string, xs: (number | null)[] | undefined, ys: (number | null)[] | undefined): Series {
  const points: Point[] = [];
  const n = Math.min(xs?.length ?? 0, ys?.length ?? 0);
  for (let i = 0; i < n; i += 1) {
    const x = xs?.[i];
    const y = ys?.[i];
    if (typeof x === "number" && typeof y === "number" && Number.isFinite(x) && Number.isFinite(y)) points.push({ x, y });
  }
  return { key, title, points };
}

/** [min, max] over every point's coordinate, widened when flat so a scale never divides by zero. */
export function extent(series: Series[], axis: "x" | "y"): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of series) {
    for (const p of s.points) {
      lo = Math.min(lo, p[axis]);
      hi = Math.max(hi, p[axis]);
    }
  }
  if (lo === Infinity) return [0, 1];
  if (lo === hi) return [lo - (Math.abs(lo) || 1) * 0.5, hi + (Math.abs(hi) || 1) * 0.5];
  return [lo, hi];
}

/** A linear map from a domain onto a pixel range. */
export function linear(domain: [number, number], range: [number, number]): (v: number) => number {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  const span = d1 - d0 || 1;
  return (v) => r0 + ((v - d0) / span) * (r1 - r0);
}

/** About `count` round tick values covering [lo, hi] (steps of 1, 2 or 5 times a power of ten). */
export function ticks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo) || count < 1) return [lo];
  const raw = (hi - lo) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const first = Math.ceil(lo / step - 1e-9) * step;
  const out: number[] = [];
  for (let v = first; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** An SVG path through the points ("M x y L x y ..."), in pixels. */
export function pathOf(points: Point[], sx: (v: number) => number, sy: (v: number) => number): string {
  return points.map((p, i) => `${i ? "L" : "M"}${sx(p.x).toFixed(1)} ${sy(p.y).toFixed(1)}`).join(" ");
}

/** A short label for a metric value: 3 significant digits, "—" when absent. */
export function shortNumber(v: unknown): string {
  if (typeof v !== "number" || !Number.isFinite(v)) return "—";
  if (Number.isInteger(v)) return String(v);
  const abs = Math.abs(v);
  return abs !== 0 && (abs < 0.001 || abs >= 1e5) ? v.toExponential(2) : String(Number(v.toPrecision(3)));
}
