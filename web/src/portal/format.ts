/** Short local date-time for tables ("—" when absent). */
export function when(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** A number from a heartbeat's loosely-typed metrics (null when missing or not a number). */
export function metric(metrics: Record<string, unknown> | undefined, key: string): number | null {
  const value = metrics?.[key];
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/** Parse the wave list typed as "10%, 50%, 100%" or "1, 100%"; null when a part is malformed. */
export function parseWaves(text: string): string[] | null {
  const parts = text.split(",").map((p) => p.trim()).filter(Boolean);
  if (parts.length === 0 || parts.length > 10) return null;
  for (const part of parts) {
    const m = /^(\d+)(%?)$/.exec(part);
    if (!m) return null;
    const n = Number(m[1]);
    if (n < 1 || (m[2] && n > 100)) return null;
  }
  return parts;
}

/** The optional station configuration typed as JSON: undefined when blank, null when not a JSON object. */
export function parseConfig(text: string): Record<string, unknown> | null | undefined {
  if (!text.trim()) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
