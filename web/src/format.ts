// Display helpers shared by the pages. Pure functions, tested in format.test.ts.

export function formatPercent(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  return `${(value * 100).toFixed(digits)}%`;
}

export function formatNumber(value: number | null | undefined, digits = 3): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  return Number(value.toFixed(digits)).toString();
}

export function formatMs(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  return value < 10 ? `${value.toFixed(2)} ms` : `${value.toFixed(1)} ms`;
}

const UNITS = ["B", "KB", "MB", "GB", "TB"];
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return "–";
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${UNITS[unit]}`;
}

const pad = (n: number, width = 2) => String(Math.trunc(Math.abs(n))).padStart(width, "0");

/**
 * An unambiguous time: ISO-like local date and time with the UTC offset, "2026-12-01 16:05:09 UTC+01:00".
 * `offsetMinutes` (east of UTC) defaults to the browser's offset at that instant (tests pass one).
 */
export function formatTime(iso: string | null | undefined, offsetMinutes?: number): string {
  if (!iso) return "–";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const offset = offsetMinutes ?? -date.getTimezoneOffset();
  const local = new Date(date.getTime() + offset * 60_000);
  const day = `${local.getUTCFullYear()}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}`;
  const time = `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}`;
  const zone = offset === 0 ? "UTC" : `UTC${offset > 0 ? "+" : "-"}${pad(offset / 60)}:${pad(offset % 60)}`;
  return `${day} ${time} ${zone}`;
}

/** Where a score sits on the fixed 0–1 scale (clamped), as a fraction. */
export function scoreFraction(value: number | null | undefined): number {
  if (value === null || value === undefined || !Number.isFinite(value)) return 0;
  return Math.min(1, Math.max(0, value));
}

/** The Live counters from a results summary: good, defect, and the defect rate. */
export function counters(summary: { normal: number; anomaly: number } | null | undefined): {
  good: number;
  defect: number;
  rate: string;
} {
  const good = summary?.normal ?? 0;
  const defect = summary?.anomaly ?? 0;
  const total = good + defect;
  return { good, defect, rate: total ? formatPercent(defect / total) : "–" };
}

/** A model's evaluation metrics as a short text: "auroc 0.98 · f1 0.91" (numbers only, 3 at most). */
export function formatMetrics(metrics: Record<string, unknown> | null | undefined, max = 3): string {
  if (!metrics) return "–";
  const parts = Object.entries(metrics)
    .filter(([, v]) => typeof v === "number" && Number.isFinite(v))
    .slice(0, max)
    .map(([k, v]) => `${k} ${formatNumber(v as number)}`);
  return parts.length ? parts.join(" · ") : "–";
}

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–";
  const s = Math.floor(seconds);
  const days = Math.floor(s / 86400);
  const hours = Math.floor((s % 86400) / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  if (days) return `${days}d ${hours}h`;
  if (hours) return `${hours}h ${minutes}m`;
  if (minutes) return `${minutes}m ${s % 60}s`;
  return `${s}s`;
}

/** The verdict to show: a human override wins over the model's prediction. */
export function effectiveVerdict(result: {
  prediction: string;
  human_classification?: string | null;
}): { verdict: string; overridden: boolean } {
  const human = result.human_classification;
  if (human && human !== result.prediction) return { verdict: human, overridden: true };
  return { verdict: result.prediction, overridden: false };
}

export function isAnomaly(verdict: string): boolean {
  return verdict.toLowerCase() !== "normal";
}

/** A short, stable label for a plugin config list: "timer (every 5 s), mqtt". */
export function describeConfigs(configs: { type: string; [key: string]: unknown }[] | undefined): string {
  if (!configs || configs.length === 0) return "–";
  return configs.map((c) => c.type).join(", ");
}

/** Validate an ISO-like local date/time range; returns an error message or null. */
export function rangeError(since: string | undefined, until: string | undefined): string | null {
  if (!since || !until) return null;
  const a = new Date(since).getTime();
  const b = new Date(until).getTime();
  if (Number.isNaN(a) || Number.isNaN(b)) return "Enter valid dates.";
  return a > b ? "The start must be before the end." : null;
}

/** The most recent of some results (by created_at), ignoring missing ones. */
export function newest<T extends { created_at: string }>(results: (T | null | undefined)[]): T | null {
  let best: T | null = null;
  for (const r of results) {
    if (r && (!best || new Date(r.created_at).getTime() > new Date(best.created_at).getTime())) best = r;
  }
  return best;
}
