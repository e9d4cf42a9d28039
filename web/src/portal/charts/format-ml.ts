// Formatting for the ML pages: durations, hashes, metric tables.
import { shortNumber } from "./curves";

/** "42 s", "3 min 5 s", "2 h 4 min"; "—" when unknown. */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return "—";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** The first characters of a hash or fingerprint, enough to tell two apart. */
export function shortHash(value: string | null | undefined, length = 12): string {
  if (!value) return "—";
  return value.length > length ? `${value.slice(0, length)}…` : value;
}

/** The scalar metrics of a (possibly nested) metrics object as [name, text] rows: nested keys
 * joined with a dot, lists (curves, matrices) left out. */
export function metricRows(metrics: Record<string, unknown> | undefined, prefix = ""): [string, string][] {
  const rows: [string, string][] = [];
  for (const [key, value] of Object.entries(metrics ?? {})) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (typeof value === "number") rows.push([name, shortNumber(value)]);
    else if (typeof value === "string" || typeof value === "boolean") rows.push([name, String(value)]);
    else if (value && typeof value === "object" && !Array.isArray(value)) rows.push(...metricRows(value as Record<string, unknown>, name));
  }
  return rows;
}

/** The plot names of a registry version in the order people look at them. */
export function orderedPlots(plots: string[]): string[] {
  const first = ["training_curves", "confusion_matrix", "roc_curve", "pr_curve"];
  return [...first.filter((p) => plots.includes(p)), ...plots.filter((p) => !first.includes(p)).sort()];
}

/** "training_curves" -> "Training curves". */
export function humanize(name: string): string {
  const text = name.replace(/[_-]+/g, " ").trim();
  return text ? text[0].toUpperCase() + text.slice(1) : name;
}
