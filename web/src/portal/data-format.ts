// Pure helpers of the data and dataset pages (tested in data-format.test.ts).
import type { FileOutcome } from "./api-data";

/** A byte count for people: "812 B", "3.4 MB". */
export function bytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** The parent folders of a folder path, for a breadcrumb: "a/b" -> ["", "a", "a/b"]. */
export function folderTrail(folder: string): { name: string; path: string }[] {
  const parts = folder.split("/").filter(Boolean);
  return [{ name: "All data", path: "" }, ...parts.map((name, i) => ({ name, path: parts.slice(0, i + 1).join("/") }))];
}

/**
 * The image references of a manifest (JSON Lines: Ground Truth "source-ref", DDA "image") whose
 * directory is a URI or absolute path: the longest directory prefix they share, so that the UI
 * maps it onto the folder the images were uploaded to (the API's "map PREFIX=FOLDER").
 * Null when the manifest names relative paths only (then "images folder" alone places them).
 */
export function manifestPrefix(text: string, maxLines = 5000): string | null {
  const refs: string[] = [];
  for (const line of text.split("\n").slice(0, maxLines)) {
    if (!line.trim()) continue;
    try {
      const row = JSON.parse(line) as Record<string, unknown>;
      const ref = row["source-ref"] ?? row["image"];
      if (typeof ref === "string" && (/^[a-z][a-z0-9+.-]*:\/\//i.test(ref) || ref.startsWith("/"))) refs.push(ref);
    } catch {
      return null; // not JSON Lines: the server's validation report will say what is wrong
    }
  }
  if (!refs.length) return null;
  let prefix = refs[0].slice(0, refs[0].lastIndexOf("/") + 1);
  for (const ref of refs) {
    while (prefix && !ref.startsWith(prefix)) prefix = prefix.slice(0, prefix.slice(0, -1).lastIndexOf("/") + 1);
  }
  return prefix || null;
}

/** Split fractions from percentages; null unless they are numbers 0..100 that add up to 100. */
export function splitFractions(train: number, val: number, test: number): { train: number; val: number; test: number } | null {
  const all = [train, val, test];
  if (all.some((v) => !Number.isFinite(v) || v < 0 || v > 100)) return null;
  if (Math.abs(train + val + test - 100) > 1e-6) return null;
  return { train: train / 100, val: val / 100, test: test / 100 };
}

/** What one file's outcomes say, and its error (null when every image in it landed). */
export function summarize(outcomes: FileOutcome[]): { outcome: string; error: string | null } {
  const bad = outcomes.filter((o) => o.status === "rejected");
  const good = outcomes.length - bad.length;
  const error = bad.length
    ? bad.slice(0, 3).map((o) => `${o.name}: ${o.error ?? "refused"}${o.hint ? ` (${o.hint})` : ""}`).join("; ")
    : null;
  if (outcomes.length === 1) {
    const o = outcomes[0];
    const word = { stored: "stored", duplicate: "stored (same content as another image)", exists: "already there", rejected: "refused" }[o.status];
    return { outcome: word, error };
  }
  return { outcome: `${good} of ${outcomes.length} images stored`, error };
}

