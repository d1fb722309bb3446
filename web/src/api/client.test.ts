import { describe, expect, it, vi } from "vitest";
import { ApiClient, ApiError, MAX_PAGE_LIMIT, allMessages } from "./client";

type Call = { url: string; init: RequestInit };

function fakeFetch(responses: Array<() => Response>) {
  const calls: Call[] = [];
  const fn = (async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    const next = responses.shift();
    if (!next) throw new Error("unexpected request");
    return next();
  }) as unknown as typeof fetch;
  return { fn, calls };
}

const json = (body: unknown, status = 200) => () =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

const header = (c: Call, name: string) => (c.init.headers as Record<string, string>)[name];

describe("ApiClient", () => {
  it("sends the ID token as a bearer and JSON bodies", async () => {
    const { fn, calls } = fakeFetch([json({ idleTimeoutMinutes: 30 })]);
    const api = new ApiClient({ baseUrl: "https://api.test/", getToken: async () => "tok", fetchFn: fn });
    await api.putSettings({ idleTimeoutMinutes: 30 });
    expect(calls[0]?.url).toBe("https://api.test/api/settings");
    expect(calls[0]?.init.method).toBe("PUT");
    expect(header(calls[0]!, "Authorization")).toBe("Bearer tok");
    expect(calls[0]?.init.body).toBe('{"idleTimeoutMinutes":30}');
  });

  it("retries a 401 once with a refreshed token, then reports the session as gone", async () => {
    const getToken = vi.fn(async ({ forceRefresh }: { forceRefresh: boolean }) =>
      forceRefresh ? "fresh" : "stale",
    );
    const onUnauthorized = vi.fn();
    const ok = fakeFetch([json({}, 401), json({ items: [] })]);
    const api = new ApiClient({ baseUrl: "https://api.test", getToken, fetchFn: ok.fn, onUnauthorized });
    await expect(api.listConversations({ limit: 20 })).resolves.toEqual({ items: [] });
    expect(ok.calls.map((c) => header(c, "Authorization"))).toEqual(["Bearer stale", "Bearer fresh"]);
    expect(ok.calls[1]?.url).toBe("https://api.test/api/conversations?limit=20");
    expect(onUnauthorized).not.toHaveBeenCalled();

    const bad = fakeFetch([json({}, 401), json({}, 401)]);
    const api2 = new ApiClient({ baseUrl: "https://api.test", getToken, fetchFn: bad.fn, onUnauthorized });
    await expect(api2.getSettings()).rejects.toMatchObject({ status: 401 });
    expect(onUnauthorized).toHaveBeenCalledOnce();
  });

  it("turns the error body into an ApiError with the server's code and message", async () => {
    const { fn } = fakeFetch([json({ error: { code: "not_running", message: "Agent is idle" } }, 409)]);
    const api = new ApiClient({ baseUrl: "https://api.test", getToken: async () => "t", fetchFn: fn });
    const error = await api.backupAgent().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 409, code: "not_running", message: "Agent is idle" });
  });

  it("reads 204 as nothing and a missing Telegram link as null", async () => {
    const { fn } = fakeFetch([() => new Response(null, { status: 204 }), json(null)]);
    const api = new ApiClient({ baseUrl: "https://api.test", getToken: async () => "t", fetchFn: fn });
    await expect(api.deleteConversation("c 1")).resolves.toBeUndefined();
    await expect(api.getTelegramLink()).resolves.toBeNull();
  });

  it("asks for history in pages the API accepts (at most 100 items)", async () => {
    const { fn, calls } = fakeFetch([json({ items: [], nextCursor: null })]);
    const api = new ApiClient({ baseUrl: "https://api.test", getToken: async () => "t", fetchFn: fn });
    await allMessages(api, "main");
    expect(calls[0]?.url).toBe(`https://api.test/api/conversations/main/messages?limit=${MAX_PAGE_LIMIT}`);
    expect(MAX_PAGE_LIMIT).toBe(100);
  });

  it("follows cursors to load a whole history", async () => {
    const m = (id: string) => ({ id, conversationId: "main", role: "user", text: id, createdAt: "x", source: "web", aborted: false, proactive: false });
    const { fn, calls } = fakeFetch([
      json({ items: [m("a"), m("b")], nextCursor: "c2" }),
      json({ items: [m("c")], nextCursor: null }),
    ]);
    const api = new ApiClient({ baseUrl: "https://api.test", getToken: async () => "t", fetchFn: fn });
    const items = await allMessages(api, "main", 2);
    expect(items.map((i) => i.id)).toEqual(["a", "b", "c"]);
    expect(calls[1]?.url).toBe("https://api.test/api/conversations/main/messages?limit=2&cursor=c2");
  });
});
