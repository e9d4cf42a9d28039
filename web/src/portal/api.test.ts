import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError, allPages, api, getAccessToken, onUnauthorized, request, setTokens } from "./api";

// The browser's storage, in memory (vitest runs in Node).
class MemoryStorage {
  private data = new Map<string, string>();
  getItem(key: string) {
    return this.data.get(key) ?? null;
  }
  setItem(key: string, value: string) {
    this.data.set(key, value);
  }
  removeItem(key: string) {
    this.data.delete(key);
  }
}

type Call = { url: string; init: RequestInit };
const calls: Call[] = [];
let answers: Response[] = [];

function answer(status: number, body?: unknown): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}
const TOKENS = (n: number) => ({
  access_token: `access-${n}`,
  token_type: "bearer",
  expires_at: "2030-01-01T00:00:00Z",
  refresh_token: `refresh-${n}`,
  refresh_expires_at: "2030-01-01T00:00:00Z",
});

beforeEach(() => {
  vi.stubGlobal("localStorage", new MemoryStorage());
  calls.length = 0;
  answers = [];
  vi.stubGlobal("fetch", async (url: string, init: RequestInit = {}) => {
    calls.push({ url, init });
    const next = answers.shift();
    if (!next) throw new Error(`unexpected request ${url}`);
    return next;
  });
});
afterEach(() => {
  vi.unstubAllGlobals();
  onUnauthorized(null);
});

const authOf = (call: Call) => (call.init.headers as Record<string, string>).Authorization;

describe("request", () => {
  it("sends the access token and keeps the login's tokens", async () => {
    answers = [answer(200, TOKENS(1)), answer(200, { id: "u", roles: [] })];
    await api.login("admin", "pw");
    expect(getAccessToken()).toBe("access-1");
    await api.me();
    expect(calls[1].url).toBe("/api/v1/auth/me");
    expect(authOf(calls[1])).toBe("Bearer access-1");
  });

  it("renews an expired session once with the refresh token and retries", async () => {
    setTokens(TOKENS(1));
    answers = [answer(401, { error: "expired" }), answer(200, TOKENS(2)), answer(200, [])];
    await request("/usecases/uc1/members");
    expect(calls.map((c) => c.url)).toEqual([
      "/api/v1/usecases/uc1/members",
      "/api/v1/auth/refresh",
      "/api/v1/usecases/uc1/members",
    ]);
    expect(JSON.parse(String(calls[1].init.body))).toEqual({ refresh_token: "refresh-1" });
    expect(authOf(calls[2])).toBe("Bearer access-2");
  });

  it("signs out when the refresh fails too", async () => {
    setTokens(TOKENS(1));
    const handler = vi.fn();
    onUnauthorized(handler);
    answers = [answer(401, { error: "expired" }), answer(401, { error: "no" })];
    await expect(request("/auth/me")).rejects.toMatchObject({ status: 401 });
    expect(handler).toHaveBeenCalledOnce();
  });

  it("turns the portal's error body into an ApiError with its hint", async () => {
    answers = [answer(409, { error: "user exists", hint: "pick another name" })];
    const failure = await api.createUser({ username: "x" }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ApiError);
    expect(failure).toMatchObject({ status: 409, message: "user exists", hint: "pick another name" });
  });
});

describe("allPages", () => {
  it("follows next_cursor to the end", async () => {
    const pages: Record<string, { items: number[]; next_cursor: string | null }> = {
      start: { items: [1, 2], next_cursor: "b" },
      b: { items: [3], next_cursor: null },
    };
    const seen: (string | undefined)[] = [];
    const items = await allPages(async (cursor) => {
      seen.push(cursor);
      return pages[cursor ?? "start"];
    });
    expect(items).toEqual([1, 2, 3]);
    expect(seen).toEqual([undefined, "b"]);
  });

  it("stops after maxPages", async () => {
    const items = await allPages(async () => ({ items: [1], next_cursor: "again" }), 3);
    expect(items).toEqual([1, 1, 1]);
  });
});

describe("audit paths", () => {
  it("builds the use-case and global paths with filters", () => {
    expect(api.auditPath("uc1", { outcome: "denied", action: "" })).toBe("/usecases/uc1/audit?outcome=denied");
    expect(api.auditPath(null, { user: "bob" }, undefined, true)).toBe("/audit/export?user=bob");
  });
});
