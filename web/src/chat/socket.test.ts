import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ServerFrame } from "../generated/contracts";
import { Backoff } from "./backoff";
import { ChatSocket, type ChatSocketOptions, type ConnectionInfo, SignedOutError } from "./socket";
import { FakeWebSocket } from "./testing";

interface Harness {
  socket: ChatSocket;
  frames: ServerFrame[];
  connections: ConnectionInfo[];
  getToken: ReturnType<typeof vi.fn>;
}

function harness(overrides: Partial<ChatSocketOptions> = {}): Harness {
  const frames: ServerFrame[] = [];
  const connections: ConnectionInfo[] = [];
  let n = 0;
  const getToken = vi.fn(async (_: { forceRefresh: boolean }) => `token-${++n}`);
  const socket = new ChatSocket({
    url: "ws://api.test/ws",
    getToken,
    onFrame: (f) => frames.push(f),
    onConnection: (c) => connections.push(c),
    createSocket: (url) => new FakeWebSocket(url),
    // random() = 1: every delay is its ceiling, so the schedule is exact.
    backoff: { initialMs: 1000, maxMs: 8000, factor: 2, random: () => 1 },
    ...overrides,
  });
  return { socket, frames, connections, getToken };
}

const send = (id: string, text = "hello", conversationId?: string) =>
  ({ action: "send", id, text, ...(conversationId ? { conversationId } : {}) }) as const;

/** Let the token promise resolve and the socket be created. */
const settle = () => vi.advanceTimersByTimeAsync(0);

async function connectOpen(_h: Harness): Promise<FakeWebSocket> {
  await settle();
  const ws = FakeWebSocket.latest();
  ws.serverOpen();
  return ws;
}

beforeEach(() => {
  vi.useFakeTimers();
  FakeWebSocket.reset();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("Backoff", () => {
  it("grows exponentially up to the cap and resets", () => {
    const b = new Backoff({ initialMs: 1000, maxMs: 8000, factor: 2, random: () => 1 });
    expect([b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([
      1000, 2000, 4000, 8000, 8000,
    ]);
    b.reset();
    expect(b.next()).toBe(1000);
  });

  it("jitters each delay between half and all of its ceiling", () => {
    const low = new Backoff({ initialMs: 1000, factor: 2, random: () => 0 });
    expect([low.next(), low.next(), low.next()]).toEqual([500, 1000, 2000]);
    const values = new Set<number>();
    const real = new Backoff({ initialMs: 1000, factor: 1 });
    for (let i = 0; i < 50; i++) {
      const d = real.next();
      expect(d).toBeGreaterThanOrEqual(500);
      expect(d).toBeLessThanOrEqual(1000);
      values.add(d);
    }
    expect(values.size).toBeGreaterThan(1);
  });
});

describe("ChatSocket", () => {
  it("connects with the ID token in the query string and asks for the agent status", async () => {
    const h = harness();
    h.socket.start();
    const ws = await connectOpen(h);
    expect(ws.url).toBe("ws://api.test/ws?token=token-1");
    expect(ws.frames()).toEqual([{ action: "status" }]);
    expect(h.socket.connection.state).toBe("open");
  });

  it("forwards server frames and forgets a send once it is acknowledged", async () => {
    const h = harness();
    h.socket.start();
    const ws = await connectOpen(h);
    h.socket.send(send("msg-00000001"));
    expect(ws.frames().at(-1)).toEqual(send("msg-00000001"));
    expect(h.socket.unacknowledged).toEqual(["msg-00000001"]);
    ws.serverSend({ type: "ack", id: "msg-00000001", conversationId: "main" });
    expect(h.socket.unacknowledged).toEqual([]);
    expect(h.frames).toEqual([{ type: "ack", id: "msg-00000001", conversationId: "main" }]);
  });

  it("queues sends made while disconnected and delivers them in order once open", async () => {
    const h = harness();
    h.socket.send(send("msg-00000001", "first"));
    h.socket.send(send("msg-00000002", "second", "c-1"));
    h.socket.start();
    const ws = await connectOpen(h);
    expect(ws.frames()).toEqual([{ action: "status" }, send("msg-00000001", "first")]);
    ws.serverSend({ type: "ack", id: "msg-00000001", conversationId: "main" });
    expect(ws.frames()).toEqual([
      { action: "status" },
      send("msg-00000001", "first"),
      send("msg-00000002", "second", "c-1"),
    ]);
  });

  it("sends one message at a time, so the server stores them in the order they were typed", async () => {
    const h = harness();
    h.socket.start();
    const ws = await connectOpen(h);
    h.socket.send(send("msg-00000001", "one"));
    h.socket.send(send("msg-00000002", "two"));
    h.socket.send(send("msg-00000003", "three"));
    expect(ws.frames().slice(1)).toEqual([send("msg-00000001", "one")]);
    // A refusal answers a send as much as an ack does.
    ws.serverSend({ type: "error", id: "msg-00000001", code: "rate_limited", message: "slow down" });
    expect(ws.frames().slice(1)).toEqual([send("msg-00000001", "one"), send("msg-00000002", "two")]);
    // No answer at all (a lost frame): the next one goes after a while all the same.
    await vi.advanceTimersByTimeAsync(9_999);
    expect(ws.frames()).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(1);
    expect(ws.frames().slice(1)).toEqual([
      send("msg-00000001", "one"),
      send("msg-00000002", "two"),
      send("msg-00000003", "three"),
    ]);
    expect(h.socket.unacknowledged).toEqual(["msg-00000002", "msg-00000003"]);
  });

  it("reconnects after a drop and resends only unacknowledged messages, with the same id", async () => {
    const h = harness();
    h.socket.start();
    const first = await connectOpen(h);
    h.socket.send(send("msg-00000001", "acked"));
    h.socket.send(send("msg-00000002", "lost"));
    first.serverSend({ type: "ack", id: "msg-00000001", conversationId: "main" });

    first.serverClose(1006);
    expect(h.socket.connection.state).toBe("waiting");
    await vi.advanceTimersByTimeAsync(999);
    expect(FakeWebSocket.instances).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(FakeWebSocket.instances).toHaveLength(2);

    const second = FakeWebSocket.latest();
    second.serverOpen();
    expect(second.frames()).toEqual([{ action: "status" }, send("msg-00000002", "lost")]);
    // A fresh token for the new connection.
    expect(second.url).toBe("ws://api.test/ws?token=token-2");
    second.serverSend({ type: "ack", id: "msg-00000002", conversationId: "main" });
    expect(h.socket.unacknowledged).toEqual([]);
  });

  it("backs off exponentially while the server stays down, then resets after a success", async () => {
    const h = harness();
    h.socket.start();
    const ws = await connectOpen(h);
    ws.serverClose();
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const info = h.socket.connection;
      expect(info.state).toBe("waiting");
      delays.push((info.retryAt ?? 0) - Date.now());
      await vi.advanceTimersByTimeAsync((info.retryAt ?? 0) - Date.now());
      FakeWebSocket.latest().serverClose(); // refused again
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 8000]);

    await vi.advanceTimersByTimeAsync(8000);
    FakeWebSocket.latest().serverOpen();
    FakeWebSocket.latest().serverClose();
    expect((h.socket.connection.retryAt ?? 0) - Date.now()).toBe(1000);
  });

  it("forces a token refresh once per outage when a connection is refused before opening", async () => {
    const h = harness();
    h.socket.start();
    const ws = await connectOpen(h);
    ws.serverClose(); // dropped after being open: the token was fine
    await vi.advanceTimersByTimeAsync(1000);
    FakeWebSocket.latest().serverClose(); // refused before open (e.g. 401)
    await vi.advanceTimersByTimeAsync(2000);
    FakeWebSocket.latest().serverClose(); // refused again
    await vi.advanceTimersByTimeAsync(4000);
    expect(h.getToken.mock.calls.map((c) => c[0])).toEqual([
      { forceRefresh: false },
      { forceRefresh: false },
      { forceRefresh: true },
      { forceRefresh: false },
    ]);
  });

  it("retries with backoff when the token cannot be fetched, and stops when signed out", async () => {
    let fail = true;
    const onSignedOut = vi.fn();
    const h = harness({
      onSignedOut,
      getToken: vi.fn(async () => {
        if (fail) throw new Error("network down");
        throw new SignedOutError();
      }),
    });
    h.socket.start();
    await settle();
    expect(h.socket.connection.state).toBe("waiting");
    expect(FakeWebSocket.instances).toHaveLength(0);
    fail = false;
    await vi.advanceTimersByTimeAsync(1000);
    expect(onSignedOut).toHaveBeenCalledOnce();
    expect(h.socket.connection.state).toBe("closed");
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeWebSocket.instances).toHaveLength(0);
  });

  it("does not resend a message the server refused with an error", async () => {
    const h = harness();
    h.socket.start();
    const ws = await connectOpen(h);
    h.socket.send(send("msg-00000001", "x".repeat(10)));
    ws.serverSend({ type: "error", id: "msg-00000001", code: "quota_exceeded", message: "slow" });
    ws.serverClose();
    await vi.advanceTimersByTimeAsync(1000);
    const next = FakeWebSocket.latest();
    next.serverOpen();
    expect(next.frames()).toEqual([{ action: "status" }]);
    expect(h.frames.at(-1)).toMatchObject({ type: "error", code: "quota_exceeded" });
  });

  it("pings every five minutes and drops a socket that stops answering", async () => {
    const h = harness({ pongTimeoutMs: 20_000 });
    h.socket.start();
    const ws = await connectOpen(h);
    await vi.advanceTimersByTimeAsync(5 * 60 * 1000 - 1);
    expect(ws.frames()).toEqual([{ action: "status" }]);
    await vi.advanceTimersByTimeAsync(1);
    expect(ws.frames().at(-1)).toEqual({ action: "ping" });
    ws.serverSend({ type: "pong" });
    await vi.advanceTimersByTimeAsync(5 * 60 * 1000);
    expect(ws.frames().filter((f) => f.action === "ping")).toHaveLength(2);
    expect(h.socket.connection.state).toBe("open");

    // No answer this time: after the timeout the client gives up on it and reconnects.
    await vi.advanceTimersByTimeAsync(20_000);
    expect(ws.closedWith?.code).toBe(4000);
    expect(h.socket.connection.state).toBe("waiting");
    await vi.advanceTimersByTimeAsync(1000);
    expect(FakeWebSocket.instances).toHaveLength(2);
  });

  it("sends an abort asked for while disconnected as soon as the socket opens", async () => {
    const h = harness();
    h.socket.start();
    await settle();
    h.socket.abort("c-1");
    FakeWebSocket.latest().serverOpen();
    expect(FakeWebSocket.latest().frames()).toEqual([
      { action: "status" },
      { action: "abort", conversationId: "c-1" },
    ]);
  });

  it("reconnects immediately when asked (browser back online)", async () => {
    const h = harness();
    h.socket.start();
    const ws = await connectOpen(h);
    ws.serverClose();
    h.socket.reconnectNow();
    await settle();
    expect(FakeWebSocket.instances).toHaveLength(2);
  });

  it("stays closed after stop() and ignores late events of the old socket", async () => {
    const h = harness();
    h.socket.start();
    const ws = await connectOpen(h);
    h.socket.stop();
    expect(ws.closedWith?.code).toBe(1000);
    ws.serverClose();
    await vi.advanceTimersByTimeAsync(120_000);
    expect(FakeWebSocket.instances).toHaveLength(1);
    expect(h.connections.at(-1)?.state).toBe("closed");
  });

  it("ignores frames that are not JSON objects with a type", async () => {
    const h = harness();
    h.socket.start();
    const ws = await connectOpen(h);
    ws.onmessage?.({ data: "not json" });
    ws.onmessage?.({ data: JSON.stringify({ hello: 1 }) });
    ws.onmessage?.({ data: new ArrayBuffer(2) });
    expect(h.frames).toEqual([]);
  });
});
