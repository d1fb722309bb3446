/**
 * The chat WebSocket: connects with a fresh ID token, reconnects with backoff, keeps the socket
 * alive with pings, and resends every `send` that the server has not acknowledged yet, with the
 * same id (the backend deduplicates, so a resend never produces a second reply).
 *
 * One send at a time: the server handles frames concurrently (API Gateway invokes a Lambda per
 * frame), so two sends in flight together may be stored in either order, and a reload would
 * show the questions in another order than they were typed. The next send goes once the
 * previous one is acknowledged (or refused, or `ackWaitMs` passed without an answer).
 *
 * No React and no real socket in here: the socket constructor and the timers are the browser's
 * by default and replaceable in tests.
 */
import type { AbortFrame, ClientFrame, SendFrame, ServerFrame } from "../generated/contracts";
import { Backoff, type BackoffOptions } from "./backoff";

/** The part of the browser's WebSocket we use. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type SocketFactory = (url: string) => WebSocketLike;

export type ConnectionState = "idle" | "connecting" | "open" | "waiting" | "closed";

export interface ConnectionInfo {
  state: ConnectionState;
  /** Failed attempts since the last open socket. */
  attempt: number;
  /** When `state` is "waiting": epoch ms of the next attempt. */
  retryAt?: number;
}

/** Thrown by `getToken` when there is no session any more: stop instead of retrying. */
export class SignedOutError extends Error {
  constructor(message = "signed out") {
    super(message);
    this.name = "SignedOutError";
  }
}

export interface ChatSocketOptions {
  url: string;
  /** A valid ID token; `forceRefresh` when the last attempt was refused before it opened. */
  getToken: (options: { forceRefresh: boolean }) => Promise<string>;
  onFrame: (frame: ServerFrame) => void;
  onConnection?: (info: ConnectionInfo) => void;
  onSignedOut?: () => void;
  createSocket?: SocketFactory;
  backoff?: BackoffOptions;
  /** API Gateway closes idle sockets after 10 minutes. */
  pingIntervalMs?: number;
  /** No frame at all this long after a ping: the socket is dead even if the browser says not. */
  pongTimeoutMs?: number;
  /** How long the next send waits for the previous one's ack before it goes anyway. */
  ackWaitMs?: number;
  now?: () => number;
}

const OPEN = 1;
export const DEFAULT_PING_INTERVAL_MS = 5 * 60 * 1000;
export const DEFAULT_PONG_TIMEOUT_MS = 20 * 1000;
export const DEFAULT_ACK_WAIT_MS = 10 * 1000;

function isServerFrame(value: unknown): value is ServerFrame {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { type?: unknown }).type === "string"
  );
}

export function withToken(url: string, token: string): string {
  return `${url}${url.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}`;
}

export class ChatSocket {
  private readonly options: ChatSocketOptions;
  private readonly backoff: Backoff;
  private readonly createSocket: SocketFactory;
  private readonly now: () => number;
  private readonly pingIntervalMs: number;
  private readonly pongTimeoutMs: number;
  private readonly ackWaitMs: number;

  /** Sends not acknowledged yet, in the order they were made. */
  private readonly pending = new Map<string, SendFrame>();
  /** Aborts asked for while the socket was down; sent as soon as it opens. */
  private readonly controls: AbortFrame[] = [];
  /** Sends transmitted on the current socket (the last one may still wait for its ack). */
  private readonly transmitted = new Set<string>();
  private ackTimer: ReturnType<typeof setTimeout> | null = null;

  private ws: WebSocketLike | null = null;
  private opened = false;
  private running = false;
  private forcedRefresh = false;
  private lastAttemptOpened = true;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private pongTimer: ReturnType<typeof setTimeout> | null = null;
  private info: ConnectionInfo = { state: "idle", attempt: 0 };

  constructor(options: ChatSocketOptions) {
    this.options = options;
    this.backoff = new Backoff(options.backoff);
    this.createSocket = options.createSocket ?? ((url) => new WebSocket(url) as WebSocketLike);
    this.now = options.now ?? Date.now;
    this.pingIntervalMs = options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS;
    this.pongTimeoutMs = options.pongTimeoutMs ?? DEFAULT_PONG_TIMEOUT_MS;
    this.ackWaitMs = options.ackWaitMs ?? DEFAULT_ACK_WAIT_MS;
  }

  get connection(): ConnectionInfo {
    return this.info;
  }

  /** Ids of sends still waiting for their ack (they will be resent after a reconnect). */
  get unacknowledged(): string[] {
    return [...this.pending.keys()];
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.connect();
  }

  /** Close for good (sign-out, page teardown). Unacknowledged sends are forgotten. */
  stop(): void {
    this.running = false;
    this.clearTimers();
    this.pending.clear();
    this.controls.length = 0;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      this.detach(ws);
      ws.close(1000, "bye");
    }
    this.setInfo({ state: "closed", attempt: 0 });
  }

  /** Skip the remaining wait (the browser came back online, the tab became visible). */
  reconnectNow(): void {
    if (!this.running || this.info.state !== "waiting") return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    void this.connect();
  }

  /** Queue a message; it is (re)sent whenever a socket opens until the server acks it. */
  send(frame: SendFrame): void {
    this.pending.set(frame.id, frame);
    this.transmitNext();
  }

  /** The oldest send not yet transmitted on this socket, unless another still waits for its ack. */
  private transmitNext(): void {
    if (!this.isOpen() || this.ackTimer !== null) return;
    const next = [...this.pending.values()].find((f) => !this.transmitted.has(f.id));
    if (!next) return;
    this.transmitted.add(next.id);
    this.transmit(next);
    this.ackTimer = setTimeout(() => {
      // No answer yet (a lost frame): the rest go; this one is resent after a reconnect.
      this.ackTimer = null;
      this.transmitNext();
    }, this.ackWaitMs);
  }

  private answered(id: string): void {
    this.pending.delete(id);
    if (!this.transmitted.delete(id)) return;
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    this.transmitNext();
  }

  abort(conversationId?: string): void {
    const frame: AbortFrame = conversationId
      ? { action: "abort", conversationId }
      : { action: "abort" };
    if (this.isOpen()) this.transmit(frame);
    else this.controls.push(frame);
  }

  requestStatus(): void {
    if (this.isOpen()) this.transmit({ action: "status" });
  }

  private isOpen(): boolean {
    return this.ws !== null && this.opened && this.ws.readyState === OPEN;
  }

  private transmit(frame: ClientFrame): void {
    try {
      this.ws?.send(JSON.stringify(frame));
    } catch {
      // The socket is closing; its close handler reconnects and pending sends go again.
    }
  }

  private setInfo(info: ConnectionInfo): void {
    this.info = info;
    this.options.onConnection?.(info);
  }

  private async connect(): Promise<void> {
    this.setInfo({ state: "connecting", attempt: this.backoff.attempts });
    // Refused before opening (typically 401 for an expired token): refresh once per outage.
    const forceRefresh = !this.lastAttemptOpened && !this.forcedRefresh;
    if (forceRefresh) this.forcedRefresh = true;
    let token: string;
    try {
      token = await this.options.getToken({ forceRefresh });
    } catch (error) {
      if (!this.running) return;
      if (error instanceof SignedOutError) {
        this.stop();
        this.options.onSignedOut?.();
        return;
      }
      this.lastAttemptOpened = false;
      this.scheduleReconnect();
      return;
    }
    if (!this.running) return;
    this.opened = false;
    let ws: WebSocketLike;
    try {
      ws = this.createSocket(withToken(this.options.url, token));
    } catch {
      this.lastAttemptOpened = false;
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => this.handleOpen(ws);
    ws.onmessage = (event) => this.handleMessage(ws, event.data);
    ws.onclose = () => this.handleClose(ws);
    ws.onerror = () => undefined; // a close event always follows
  }

  private handleOpen(ws: WebSocketLike): void {
    if (ws !== this.ws) return;
    this.opened = true;
    this.lastAttemptOpened = true;
    this.forcedRefresh = false;
    this.backoff.reset();
    this.setInfo({ state: "open", attempt: 0 });
    this.transmit({ action: "status" });
    for (const frame of this.controls.splice(0)) this.transmit(frame);
    this.transmitted.clear();
    this.transmitNext();
    this.pingTimer = setInterval(() => this.ping(), this.pingIntervalMs);
  }

  private handleMessage(ws: WebSocketLike, data: unknown): void {
    if (ws !== this.ws) return;
    if (this.pongTimer) {
      clearTimeout(this.pongTimer);
      this.pongTimer = null;
    }
    if (typeof data !== "string") return;
    let frame: unknown;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (!isServerFrame(frame)) return;
    // A send the server refused (too large, quota, ...) will not be acked: do not resend it.
    const answered = frame.type === "ack" || frame.type === "error" ? frame.id : undefined;
    if (answered) this.answered(answered);
    this.options.onFrame(frame);
  }

  private handleClose(ws: WebSocketLike): void {
    if (ws !== this.ws) return;
    this.detach(ws);
    this.ws = null;
    this.lastAttemptOpened = this.opened;
    this.opened = false;
    this.clearTimers();
    if (this.running) this.scheduleReconnect();
  }

  private ping(): void {
    if (!this.isOpen()) return;
    this.transmit({ action: "ping" });
    if (this.pongTimer) return;
    const ws = this.ws;
    this.pongTimer = setTimeout(() => {
      this.pongTimer = null;
      if (ws !== this.ws || !ws) return;
      // Dead without a close event (laptop slept, network changed): drop it ourselves.
      this.handleClose(ws);
      ws.close(4000, "no pong");
    }, this.pongTimeoutMs);
  }

  private scheduleReconnect(): void {
    const delay = this.backoff.next();
    this.setInfo({ state: "waiting", attempt: this.backoff.attempts, retryAt: this.now() + delay });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.running) void this.connect();
    }, delay);
  }

  private detach(ws: WebSocketLike): void {
    ws.onopen = null;
    ws.onmessage = null;
    ws.onclose = null;
    ws.onerror = null;
  }

  private clearTimers(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.pongTimer) clearTimeout(this.pongTimer);
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    this.transmitted.clear();
    this.retryTimer = null;
    this.pingTimer = null;
    this.pongTimer = null;
  }
}
