/** A confusion matrix from loosely-typed metrics (null unless a square grid of numbers). */
export function asMatrix(value: unknown): number[][] | null {
  if (!Array.isArray(value) || value.length === 0) return null;
  const rows = value as unknown[];
  const ok = rows.every((r) => Array.isArray(r) && r.length === rows.length && r.every((c) => typeof c === "number"));
  return ok ? (rows as number[][]) : null;
}

/**
 * Cell colours: blue for the diagonal (right), orange off it (wrong), stronger with the cell's
 * share of its row; white text only on the darkest shades so contrast stays above 4.5:1.
 */
export function cellShade(count: number, row: number[], diagonal: boolean): { background: string; color: string } {
  const total = row.reduce((a, b) => a + b, 0);
  const share = total > 0 ? count / total : 0;
  const level = Math.round(share * 4); // 0..4
  const blues = ["#ffffff", "#deebf7", "#9ecae1", "#2171b5", "#08519c"];
  const oranges = ["#ffffff", "#fee6ce", "#fdae6b", "#a63603", "#7f2704"];
  const background = (diagonal ? blues : oranges)[level];
  return { background, color: level >= 3 ? "#ffffff" : "#000716" };
}
