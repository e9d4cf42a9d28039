// Cloudscape DateRangePicker value -> the results API's since/until (ISO 8601). Pure; tested.

type Relative = { type: "relative"; amount: number; unit: string };
type Absolute = { type: "absolute"; startDate: string; endDate: string };
export type RangeValue = Relative | Absolute;

const UNIT_MS: Record<string, number> = {
  second: 1000,
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
  week: 7 * 86_400_000,
  month: 30 * 86_400_000,
  year: 365 * 86_400_000,
};

export function rangeToFilter(range: RangeValue | null, now: Date): { since?: string; until?: string } {
  if (!range) return {};
  if (range.type === "relative") {
    const ms = (UNIT_MS[range.unit] ?? 0) * range.amount;
    // Rounded to the minute so the filter (and the query it drives) is stable between renders.
    const minute = Math.floor(now.getTime() / 60_000) * 60_000;
    return { since: new Date(minute - ms).toISOString() };
  }
  const since = range.startDate ? new Date(range.startDate) : null;
  let until = range.endDate ? new Date(range.endDate) : null;
  // A date-only end ("2024-05-01") means the whole of that day.
  if (until && /^\d{4}-\d{2}-\d{2}$/.test(range.endDate)) until = new Date(until.getTime() + UNIT_MS.day - 1);
  return {
    since: since && !Number.isNaN(since.getTime()) ? since.toISOString() : undefined,
    until: until && !Number.isNaN(until.getTime()) ? until.toISOString() : undefined,
  };
}
