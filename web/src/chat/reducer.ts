/**
 * Chat state as a pure reducer: local echoes of what the person sends, the frames the server
 * pushes, and history loaded over REST, merged into one ordered list per conversation.
 *
 * Keys: a user message is `user:<id>`; a reply is `assistant:<id>` where `id` is the id the
 * server streams it under (the id of the message it answers, or of a proactive message).
 */
import type { AgentStatus, Message, ServerFrame } from "../generated/contracts";

export type AgentState = AgentStatus["state"];

export type MessageStatus =
  /** user: not acknowledged yet (will be resent after a reconnect) */
  | "queued"
  /** user: durably queued for the agent */
  | "sent"
  /** assistant: chunks arriving */
  | "streaming"
  | "done"
  | "aborted"
  | "failed";

export interface ChatMessage {
  key: string;
  id: string;
  conversationId: string;
  role: "user" | "assistant";
  text: string;
  status: MessageStatus;
  createdAt: string;
  proactive: boolean;
  source?: Message["source"];
  error?: { code: string; message: string; retryable?: boolean };
  /** user: ms of the last sign of progress (ack, status, reply frames) while unanswered. */
  progressAt?: number;
}

export interface ChatError {
  code: string;
  message: string;
}

export interface ChatState {
  /** The conversation on screen. */
  current: string;
  messages: Record<string, ChatMessage[]>;
  /** Stream id -> its conversation (chunks and ends carry only the id). */
  streams: Record<string, string>;
  /** Conversation -> id of the reply streaming in it, if any. */
  active: Record<string, string>;
  /** Conversations with replies that arrived while another one was on screen. */
  unread: Record<string, number>;
  /** Conversations whose history has been loaded at least once. */
  loaded: Record<string, boolean>;
  agent: { state: AgentState; phase: string | null } | null;
  lastError: ChatError | null;
}

export type ChatAction =
  | { type: "open"; conversationId: string }
  | {
      type: "sent";
      id: string;
      conversationId: string;
      text: string;
      createdAt: string;
    }
  | { type: "frame"; frame: ServerFrame; now: string }
  | { type: "history"; conversationId: string; items: Message[] }
  | { type: "agent"; state: AgentState; phase?: string | null }
  | { type: "forget"; conversationId: string }
  | { type: "dismissError" }
  /** Unanswered questions with no progress since `before` (ms) are given up on. */
  | { type: "expire"; before: number; streamingBefore: number };

/** How long a question may wait for any sign of progress before the page says so. */
export const NO_PROGRESS_MS = 120_000;
/** How long a reply may stall between chunks before the page says so. */
export const STALLED_REPLY_MS = 300_000;

/** The error shown when a question got no sign of life for `NO_PROGRESS_MS`. */
export const NO_PROGRESS_ERROR = {
  code: "no_progress",
  message: "No answer yet, and no sign of progress. Your message may still be answered; you can also send it again.",
  retryable: true,
};

export function initialChatState(current: string): ChatState {
  return {
    current,
    messages: {},
    streams: {},
    active: {},
    unread: {},
    loaded: {},
    agent: null,
    lastError: null,
  };
}

/** Marks a reply shown from the middle (its start arrived before this page connected). */
export const MISSED_START = "… ";

const userKey = (id: string) => `user:${id}`;
const assistantKey = (id: string) => `assistant:${id}`;

function findConversation(state: ChatState, key: string): string | undefined {
  for (const [conversationId, list] of Object.entries(state.messages)) {
    if (list.some((m) => m.key === key)) return conversationId;
  }
  return undefined;
}

function updateMessage(
  state: ChatState,
  conversationId: string,
  key: string,
  change: (message: ChatMessage) => ChatMessage,
): ChatState {
  const list = state.messages[conversationId];
  if (!list) return state;
  const index = list.findIndex((m) => m.key === key);
  if (index < 0) return state;
  const next = [...list];
  next[index] = change(list[index]!);
  return { ...state, messages: { ...state.messages, [conversationId]: next } };
}

function upsert(state: ChatState, message: ChatMessage): ChatState {
  const list = state.messages[message.conversationId] ?? [];
  const index = list.findIndex((m) => m.key === message.key);
  const next = index < 0 ? [...list, message] : list.map((m, i) => (i === index ? message : m));
  const placed = message.role === "assistant" && index < 0 ? placeReplies(next) : next;
  return { ...state, messages: { ...state.messages, [message.conversationId]: placed } };
}

function withoutKey<T>(record: Record<string, T>, key: string): Record<string, T> {
  if (!(key in record)) return record;
  const { [key]: _removed, ...rest } = record;
  return rest;
}

/** The id a reply streams under: the id of the question it answers. Stored replies carry it as
 * `inReplyTo` (older ones only as their own id `<question id>:r`). */
export function streamId(message: Message): string {
  if (message.role !== "assistant") return message.id;
  if (message.inReplyTo) return message.inReplyTo;
  return message.id.endsWith(":r") ? message.id.slice(0, -2) : message.id;
}

function fromHistory(message: Message): ChatMessage {
  const id = streamId(message);
  return {
    key: message.role === "user" ? userKey(id) : assistantKey(id),
    id,
    conversationId: message.conversationId,
    role: message.role,
    text: message.text,
    // A stored question counts as answered for the stop button; a reply still running shows
    // up as a stream on the socket anyway.
    status: message.error ? "failed" : message.aborted ? "aborted" : "done",
    createdAt: message.createdAt,
    proactive: message.proactive,
    source: message.source,
    ...(message.error ? { error: message.error } : {}),
  };
}

/** Every reply directly under the question it answers, whatever arrived in between. */
export function placeReplies(list: ChatMessage[]): ChatMessage[] {
  const replies = new Map<string, ChatMessage>();
  const questions = new Set<string>();
  for (const m of list) {
    if (m.role === "user") questions.add(m.id);
  }
  for (const m of list) {
    if (m.role === "assistant" && questions.has(m.id)) replies.set(m.id, m);
  }
  if (replies.size === 0) return list;
  const out: ChatMessage[] = [];
  for (const m of list) {
    if (m.role === "assistant" && replies.has(m.id)) continue;
    out.push(m);
    if (m.role === "user") {
      const reply = replies.get(m.id);
      if (reply) out.push(reply);
    }
  }
  return out;
}

/** The conversation a reply belongs to when its start was missed (e.g. during a reconnect). */
function replyConversation(state: ChatState, id: string): string | undefined {
  return state.streams[id] ?? findConversation(state, userKey(id));
}

function reduceFrame(state: ChatState, frame: ServerFrame, now: string): ChatState {
  switch (frame.type) {
    case "ack": {
      const where = findConversation(state, userKey(frame.id));
      if (!where) return state;
      return updateMessage(state, where, userKey(frame.id), (m) =>
        m.status === "queued" ? { ...m, status: "sent", progressAt: Date.parse(now) } : m,
      );
    }
    case "status": {
      const next = { ...state, agent: { state: frame.agent, phase: frame.phase ?? null } };
      // The agent waking up (a new phase) is progress for every question still waiting.
      const changed =
        state.agent?.state !== frame.agent || (state.agent?.phase ?? null) !== (frame.phase ?? null);
      return changed ? touchWaiting(next, Date.parse(now)) : next;
    }
    case "message": {
      // A question stored from another tab or channel (or the echo of this tab's own).
      const key = userKey(frame.id);
      const existing = state.messages[frame.conversationId]?.find((m) => m.key === key);
      const next = upsert(state, {
        key,
        id: frame.id,
        conversationId: frame.conversationId,
        role: "user",
        text: frame.text,
        status: existing?.status === "failed" ? "failed" : "sent",
        createdAt: existing?.createdAt ?? frame.createdAt,
        proactive: false,
        source: frame.source,
        progressAt: Date.parse(now),
        ...(existing?.error ? { error: existing.error } : {}),
      });
      if (existing || frame.conversationId === state.current) return next;
      return {
        ...next,
        unread: { ...next.unread, [frame.conversationId]: (next.unread[frame.conversationId] ?? 0) + 1 },
      };
    }
    case "stream_start": {
      const conversationId = frame.conversationId;
      let next = upsert(state, {
        key: assistantKey(frame.id),
        id: frame.id,
        conversationId,
        role: "assistant",
        text: "",
        status: "streaming",
        createdAt: now,
        proactive: frame.proactive,
        source: "agent",
      });
      // A reply means the question was received, even if its ack got lost (or the page had
      // given up waiting for it).
      next = updateMessage(next, conversationId, userKey(frame.id), (m) => {
        if (m.status === "queued") return { ...m, status: "sent" };
        if (m.error?.code === NO_PROGRESS_ERROR.code) {
          const { error: _gone, ...rest } = m;
          return { ...rest, status: "sent" };
        }
        return m;
      });
      const unread =
        conversationId === state.current
          ? next.unread
          : { ...next.unread, [conversationId]: (next.unread[conversationId] ?? 0) + 1 };
      return {
        ...next,
        streams: { ...next.streams, [frame.id]: conversationId },
        active: { ...next.active, [conversationId]: frame.id },
        unread,
      };
    }
    case "stream_chunk": {
      const conversationId = replyConversation(state, frame.id);
      if (!conversationId) return state;
      const key = assistantKey(frame.id);
      const exists = state.messages[conversationId]?.some((m) => m.key === key);
      if (!exists) {
        const started = reduceFrame(
          state,
          { type: "stream_start", id: frame.id, conversationId, proactive: false },
          now,
        );
        // The beginning went by while we were disconnected; stream_end brings the full text.
        return updateMessage(started, conversationId, key, (m) => ({
          ...m,
          text: `${MISSED_START}${frame.text}`,
        }));
      }
      return updateMessage(state, conversationId, key, (m) =>
        m.status === "streaming"
          ? { ...m, text: m.text + frame.text, progressAt: Date.parse(now) }
          : m,
      );
    }
    case "stream_end": {
      const conversationId = replyConversation(state, frame.id);
      if (!conversationId) return state;
      const key = assistantKey(frame.id);
      const existing = state.messages[conversationId]?.find((m) => m.key === key);
      const next = upsert(state, {
        key,
        id: frame.id,
        conversationId,
        role: "assistant",
        createdAt: existing?.createdAt ?? now,
        proactive: existing?.proactive ?? false,
        source: "agent",
        // The full reply replaces the chunks (the model may have rewritten its output).
        text: frame.text,
        status: frame.error ? "failed" : frame.aborted ? "aborted" : "done",
        ...(frame.error ? { error: frame.error } : {}),
      });
      const active =
        next.active[conversationId] === frame.id
          ? withoutKey(next.active, conversationId)
          : next.active;
      return { ...next, active, streams: withoutKey(next.streams, frame.id) };
    }
    case "error": {
      const error = { code: frame.code, message: frame.message };
      if (frame.id) {
        const asUser = findConversation(state, userKey(frame.id));
        if (asUser) {
          return updateMessage(state, asUser, userKey(frame.id), (m) => ({
            ...m,
            status: "failed",
            error,
          }));
        }
        const asReply = state.streams[frame.id];
        if (asReply) {
          const next = updateMessage(state, asReply, assistantKey(frame.id), (m) => ({
            ...m,
            status: "failed",
            error,
          }));
          return {
            ...next,
            active: withoutKey(next.active, asReply),
            streams: withoutKey(next.streams, frame.id),
          };
        }
      }
      return { ...state, lastError: error };
    }
    case "pong":
      return state;
    default:
      return state;
  }
}

export function chatReducer(state: ChatState, action: ChatAction): ChatState {
  switch (action.type) {
    case "open":
      return {
        ...state,
        current: action.conversationId,
        unread: withoutKey(state.unread, action.conversationId),
      };
    case "sent":
      return upsert(state, {
        key: userKey(action.id),
        id: action.id,
        conversationId: action.conversationId,
        role: "user",
        text: action.text,
        status: "queued",
        createdAt: action.createdAt,
        proactive: false,
        source: "web",
      });
    case "frame":
      return reduceFrame(state, action.frame, action.now);
    case "history": {
      const stored = action.items.map(fromHistory);
      const storedKeys = new Set(stored.map((m) => m.key));
      // Keep what is still in flight (not stored yet): unacked sends and streaming replies.
      const local = (state.messages[action.conversationId] ?? []).filter(
        (m) =>
          !storedKeys.has(m.key) &&
          (m.status === "queued" || m.status === "streaming" || m.role === "user"),
      );
      // A reply that was streaming when the socket dropped and is stored by now is finished:
      // nothing of it may stay "running" (no cursor, no stop button).
      let { active, streams } = state;
      for (const [id, where] of Object.entries(state.streams)) {
        if (where === action.conversationId && storedKeys.has(assistantKey(id))) {
          streams = withoutKey(streams, id);
          if (active[where] === id) active = withoutKey(active, where);
        }
      }
      return {
        ...state,
        active,
        streams,
        messages: {
          ...state.messages,
          [action.conversationId]: placeReplies([...stored, ...local]),
        },
        loaded: { ...state.loaded, [action.conversationId]: true },
      };
    }
    case "agent":
      return { ...state, agent: { state: action.state, phase: action.phase ?? null } };
    case "forget":
      return {
        ...state,
        messages: withoutKey(state.messages, action.conversationId),
        active: withoutKey(state.active, action.conversationId),
        unread: withoutKey(state.unread, action.conversationId),
        loaded: withoutKey(state.loaded, action.conversationId),
      };
    case "dismissError":
      return { ...state, lastError: null };
    case "expire":
      return expireWaiting(state, action);
  }
}

function answered(list: ChatMessage[], id: string): boolean {
  return list.some((m) => m.role === "assistant" && m.id === id);
}

/** Questions still waiting for their reply get a fresh progress mark. */
function touchWaiting(state: ChatState, at: number): ChatState {
  let changed = false;
  const messages: Record<string, ChatMessage[]> = {};
  for (const [conversationId, list] of Object.entries(state.messages)) {
    messages[conversationId] = list.map((m) => {
      if (m.role !== "user" || m.status !== "sent" || answered(list, m.id)) return m;
      changed = true;
      return { ...m, progressAt: at };
    });
  }
  return changed ? { ...state, messages } : state;
}

function expireWaiting(
  state: ChatState,
  { before, streamingBefore }: { before: number; streamingBefore: number },
): ChatState {
  let next = state;
  for (const [conversationId, list] of Object.entries(state.messages)) {
    for (const m of list) {
      if (m.role === "user" && m.status === "sent" && !answered(list, m.id)) {
        if ((m.progressAt ?? Date.parse(m.createdAt)) < before) {
          next = updateMessage(next, conversationId, m.key, (q) => ({
            ...q,
            status: "failed",
            error: NO_PROGRESS_ERROR,
          }));
        }
      } else if (m.role === "assistant" && m.status === "streaming") {
        if ((m.progressAt ?? Date.parse(m.createdAt)) < streamingBefore) {
          next = updateMessage(next, conversationId, m.key, (r) => ({
            ...r,
            status: "failed",
            error: { ...NO_PROGRESS_ERROR, message: "The reply stopped coming. You can send your message again." },
          }));
          next = {
            ...next,
            active: next.active[conversationId] === m.id ? withoutKey(next.active, conversationId) : next.active,
            streams: withoutKey(next.streams, m.id),
          };
        }
      }
    }
  }
  return next;
}

/** Messages of the conversation on screen. */
export function visibleMessages(state: ChatState): ChatMessage[] {
  return state.messages[state.current] ?? [];
}

/** Whether a reply is running (or about to) in the conversation: the stop button shows then. */
export function isBusy(state: ChatState, conversationId: string = state.current): boolean {
  if (state.active[conversationId]) return true;
  const list = state.messages[conversationId] ?? [];
  const last = list[list.length - 1];
  return last !== undefined && last.role === "user" && (last.status === "queued" || last.status === "sent");
}
