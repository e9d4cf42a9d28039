import { describe, expect, it } from "vitest";
import { rangeToFilter } from "./range";

describe("rangeToFilter", () => {
  const now = new Date("2024-05-10T12:34:56.789Z");

  it("turns a relative range into `since`, rounded to the minute", () => {
    expect(rangeToFilter({ type: "relative", amount: 1, unit: "hour" }, now)).toEqual({ since: "2024-05-10T11:34:00.000Z" });
    expect(rangeToFilter({ type: "relative", amount: 7, unit: "day" }, now).since).toBe("2024-05-03T12:34:00.000Z");
  });

  it("keeps absolute date-times and makes a date-only end inclusive", () => {
    const range = { type: "absolute" as const, startDate: "2024-05-01T00:00:00Z", endDate: "2024-05-02" };
    const { since, until } = rangeToFilter(range, now);
    expect(since).toBe("2024-05-01T00:00:00.000Z");
    expect(new Date(until as string).getTime() - new Date("2024-05-02").getTime()).toBe(86_400_000 - 1);
  });

  it("means no filter without a range", () => {
    expect(rangeToFilter(null, now)).toEqual({});
  });
});
