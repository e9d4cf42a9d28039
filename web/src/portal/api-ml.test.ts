import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { parseSse, streamJob, type Job, type JobEvent } from "./api-ml";
import { mergeEvents } from "./pages/JobsLive";

describe("parseSse", () => {
  it("splits complete messages and keeps the unfinished rest", () => {
    const text = 'id: 3\nevent: metric\ndata: {"a":1}\n\nevent: status\ndata: {"b"\r\n\r\n: comment\n\nevent: log\ndata: par';
    const { messages, rest } = parseSse(text);
    expect(messages).toEqual([
      { id: "3", event: "metric", data: '{"a":1}' },
      { id: null, event: "status", data: '{"b"' },
    ]);
    expect(rest).toBe("event: log\ndata: par");
  });
  it("joins multi-line data", () => {
    expect(parseSse("data: a\ndata: b\n\n").messages).toEqual([{ id: null, event: "message", data: "a\nb" }]);
  });
});

class MemoryStorage {
  private data = new Map<string, string>();
  getItem(key: string) { return this.data.get(key) ?? null; }
  setItem(key: string, value: string) { this.data.set(key, value); }
  removeItem(key: string) { this.data.delete(key); }
}

describe("streamJob", () => {
  let url = "";
  let headers: Record<string, string> = {};
  beforeEach(() => {
    const storage = new MemoryStorage();
    storage.setItem("dda.portal.access", "tok");
    vi.stubGlobal("localStorage", storage);
  });
  afterEach(() => vi.unstubAllGlobals());

  it("delivers events and status across chunk boundaries, with the token, until end", async () => {
    const event = { seq: 7, at: "2026-01-01T00:00:00Z", kind: "metric", level: "info", message: "", data: { epoch: 1 } };
    const body = `id: 7\nevent: metric\ndata: ${JSON.stringify(event)}\n\nevent: status\ndata: {"id":"j","status":"running"}\n\nevent: end\ndata: {}\n\nevent: log\ndata: {}\n\n`;
    const chunks = [body.slice(0, 10), body.slice(10, 57), body.slice(57)];
    vi.stubGlobal("fetch", async (u: string, init: RequestInit = {}) => {
      url = u;
      headers = init.headers as Record<string, string>;
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          for (const c of chunks) controller.enqueue(new TextEncoder().encode(c));
          controller.close();
        },
      });
      return new Response(stream, { status: 200, headers: { "Content-Type": "text/event-stream" } });
    });
    const events: JobEvent[] = [];
    const statuses: Job[] = [];
    await streamJob("uc 1", "j", 5, { onEvent: (e) => events.push(e), onStatus: (j) => statuses.push(j) }, new AbortController().signal);
    expect(url).toBe("/api/v1/usecases/uc%201/jobs/j/events?after=5");
    expect(headers.Authorization).toBe("Bearer tok");
    expect(events).toEqual([event]);
    expect(statuses.map((s) => s.status)).toEqual(["running"]);
  });

  it("rejects when the API refuses", async () => {
    vi.stubGlobal("fetch", async () => new Response(JSON.stringify({ detail: "no such job" }), { status: 404 }));
    await expect(streamJob("u", "j", 0, { onEvent: () => undefined, onStatus: () => undefined }, new AbortController().signal)).rejects.toThrow("no such job");
  });
});

describe("mergeEvents", () => {
  const e = (seq: number, kind: "log" | "metric" = "log"): JobEvent => ({ seq, at: "", kind, level: "info", message: String(seq), data: {} });
  it("dedupes by sequence and keeps order", () => {
    expect(mergeEvents([e(1), e(3)], [e(3), e(2)]).map((x) => x.seq)).toEqual([1, 2, 3]);
  });
  it("keeps every metric but only the newest 500 log lines", () => {
    const many = Array.from({ length: 600 }, (_, i) => e(i + 2));
    const merged = mergeEvents([e(1, "metric")], many);
    expect(merged.filter((x) => x.kind === "log")).toHaveLength(500);
    expect(merged[0]).toMatchObject({ seq: 1, kind: "metric" });
    expect(merged[1].seq).toBe(102);
  });
});
