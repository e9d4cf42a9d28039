import { describe, expect, it } from "vitest";
import { bytes, folderTrail, manifestPrefix, splitFractions, summarize } from "./data-format";

describe("bytes", () => {
  it("picks a unit", () => {
    expect(bytes(812)).toBe("812 B");
    expect(bytes(3.4 * 1024 * 1024)).toBe("3.4 MB");
    expect(bytes(250 * 1024)).toBe("250 KB");
    expect(bytes(-1)).toBe("—");
  });
});

describe("folderTrail", () => {
  it("lists every parent from the top", () => {
    expect(folderTrail("a/b")).toEqual([
      { name: "All data", path: "" },
      { name: "a", path: "a" },
      { name: "b", path: "a/b" },
    ]);
    expect(folderTrail("")).toHaveLength(1);
  });
});

describe("manifestPrefix", () => {
  const line = (ref: string) => JSON.stringify({ "source-ref": ref, job: 1 });
  it("finds the directory shared by every URI", () => {
    const text = [line("s3://b/cookies/imgs/a.jpg"), line("s3://b/cookies/imgs/sub/b.jpg"), ""].join("\n");
    expect(manifestPrefix(text)).toBe("s3://b/cookies/imgs/");
    expect(manifestPrefix([line("s3://b/x/1.jpg"), line("s3://b/y/2.jpg")].join("\n"))).toBe("s3://b/");
  });
  it("is null for relative paths or text that is not JSON Lines", () => {
    expect(manifestPrefix(line("imgs/a.jpg"))).toBeNull();
    expect(manifestPrefix("not json")).toBeNull();
  });
});

describe("splitFractions", () => {
  it("accepts percentages adding up to 100", () => {
    expect(splitFractions(70, 15, 15)).toEqual({ train: 0.7, val: 0.15, test: 0.15 });
    expect(splitFractions(70, 20, 15)).toBeNull();
    expect(splitFractions(-5, 90, 15)).toBeNull();
  });
});

describe("summarize", () => {
  it("names one file's outcome and a refusal's reason and fix", () => {
    expect(summarize([{ name: "a.jpg", status: "stored" }])).toEqual({ outcome: "stored", error: null });
    expect(summarize([{ name: "b.jpg", status: "rejected", error: "not an image", hint: "send JPEG or PNG" }])).toEqual({
      outcome: "refused",
      error: "b.jpg: not an image (send JPEG or PNG)",
    });
  });
  it("counts the images of an archive", () => {
    const outcomes = [
      { name: "x/1.jpg", status: "stored" as const },
      { name: "x/2.jpg", status: "duplicate" as const },
      { name: "x/3.txt", status: "rejected" as const, error: "not an image" },
    ];
    expect(summarize(outcomes)).toEqual({ outcome: "2 of 3 images stored", error: "x/3.txt: not an image" });
  });
});
