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

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "–";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, { hour12: false });
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
