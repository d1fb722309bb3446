/**
 * The REST API (docs/api.md) with the ID token as a bearer. A 401 is retried once with a
 * freshly refreshed token; errors become `ApiError` with the server's code and message.
 */
import type {
  AgentStatus,
  AttachmentLink,
  AttachmentUpload,
  AttachmentUploadRequest,
  Conversation,
  PageConversation,
  PageMessage,
  PairingCode,
  TelegramLink,
  UsageSummary,
  UserSettings,
  UserSettingsUpdate,
} from "../generated/contracts";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export type TokenSource = (options: { forceRefresh: boolean }) => Promise<string>;

export interface ApiClientOptions {
  baseUrl: string;
  getToken: TokenSource;
  fetchFn?: typeof fetch;
  /** Called when the API still says 401 with a fresh token: the session is gone. */
  onUnauthorized?: () => void;
}

function query(params: Record<string, string | number | undefined | null>): string {
  const entries = Object.entries(params).filter(
    (e): e is [string, string | number] => e[1] !== undefined && e[1] !== null && e[1] !== "",
  );
  if (!entries.length) return "";
  return `?${new URLSearchParams(entries.map(([k, v]) => [k, String(v)])).toString()}`;
}

export class ApiClient {
  private readonly baseUrl: string;
  private readonly getToken: TokenSource;
  private readonly fetchFn: typeof fetch;
  private readonly onUnauthorized: (() => void) | undefined;

  constructor(options: ApiClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.getToken = options.getToken;
    this.fetchFn = options.fetchFn ?? ((input, init) => fetch(input, init));
    this.onUnauthorized = options.onUnauthorized;
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const call = async (forceRefresh: boolean) => {
      const token = await this.getToken({ forceRefresh });
      const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
      if (body !== undefined) headers["Content-Type"] = "application/json";
      return this.fetchFn(`${this.baseUrl}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    };
    let response = await call(false);
    if (response.status === 401) {
      response = await call(true);
      if (response.status === 401) this.onUnauthorized?.();
    }
    if (!response.ok) throw await this.toError(response);
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  private async toError(response: Response): Promise<ApiError> {
    let code = `http_${response.status}`;
    let message = response.statusText || `HTTP ${response.status}`;
    try {
      const body = (await response.json()) as { error?: { code?: unknown; message?: unknown } };
      if (typeof body.error?.code === "string") code = body.error.code;
      if (typeof body.error?.message === "string") message = body.error.message;
    } catch {
      // Not our JSON error shape (a proxy's HTML page, an authorizer's plain message).
    }
    return new ApiError(response.status, code, message);
  }

  listConversations(params: { limit?: number; cursor?: string | null } = {}) {
    return this.request<PageConversation>("GET", `/api/conversations${query(params)}`);
  }

  getConversation(id: string) {
    return this.request<Conversation>("GET", `/api/conversations/${encodeURIComponent(id)}`);
  }

  deleteConversation(id: string) {
    return this.request<void>("DELETE", `/api/conversations/${encodeURIComponent(id)}`);
  }

  listMessages(id: string, params: { limit?: number; cursor?: string | null } = {}) {
    const path = `/api/conversations/${encodeURIComponent(id)}/messages${query(params)}`;
    return this.request<PageMessage>("GET", path);
  }

  getSettings() {
    return this.request<UserSettings>("GET", "/api/settings");
  }

  putSettings(update: UserSettingsUpdate) {
    return this.request<UserSettings>("PUT", "/api/settings", update);
  }

  getAgent() {
    return this.request<AgentStatus>("GET", "/api/agent");
  }

  agentAction(action: "start" | "stop" | "restart") {
    return this.request<AgentStatus>("POST", `/api/agent/${action}`);
  }

  getUsage() {
    return this.request<UsageSummary>("GET", "/api/usage");
  }

  backupAgent() {
    return this.request<unknown>("POST", "/api/agent/backup");
  }

  createPairingCode() {
    return this.request<PairingCode>("POST", "/api/telegram/pairing-code");
  }

  /** The linked chat, or null when none is linked (the API answers `null`). */
  async getTelegramLink(): Promise<TelegramLink | null> {
    return (await this.request<TelegramLink | null>("GET", "/api/telegram")) ?? null;
  }

  unlinkTelegram() {
    return this.request<void>("DELETE", "/api/telegram");
  }

  /** Ask for an upload: the attachment's id and the form that takes its bytes. */
  createUpload(request: AttachmentUploadRequest) {
    return this.request<AttachmentUpload>("POST", "/api/attachments", request);
  }

  /** A short-lived address of an attachment's bytes (images inline, files as a download). */
  attachmentLink(id: string) {
    return this.request<AttachmentLink>("GET", `/api/attachments/${encodeURIComponent(id)}`);
  }
}

/** The largest `limit` the API accepts on a listing (more is refused with 400). */
export const MAX_PAGE_LIMIT = 100;

/** All pages of a listing, oldest page first (for a conversation's full history). */
export async function allMessages(api: ApiClient, conversationId: string, limit = MAX_PAGE_LIMIT) {
  const items: PageMessage["items"] = [];
  let cursor: string | null | undefined;
  for (let page = 0; page < 50; page++) {
    const result = await api.listMessages(conversationId, { limit, cursor });
    items.push(...result.items);
    cursor = result.nextCursor;
    if (!cursor) break;
  }
  return items;
}
