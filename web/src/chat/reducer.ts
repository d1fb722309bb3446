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
  error?: { code: string; message: string };
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
  | { type: "dismissError" };

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
  return { ...state, messages: { ...state.messages, [message.conversationId]: next } };
}

function withoutKey<T>(record: Record<string, T>, key: string): Record<string, T> {
  if (!(key in record)) return record;
  const { [key]: _removed, ...rest } = record;
  return rest;
}

function fromHistory(message: Message): ChatMessage {
  return {
    key: message.role === "user" ? userKey(message.id) : assistantKey(message.id),
    id: message.id,
    conversationId: message.conversationId,
    role: message.role,
    text: message.text,
    // A stored question counts as answered for the stop button; a reply still running shows
    // up as a stream on the socket anyway.
    status: message.aborted ? "aborted" : "done",
    createdAt: message.createdAt,
    proactive: message.proactive,
    source: message.source,
  };
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
        m.status === "queued" ? { ...m, status: "sent" } : m,
      );
    }
    case "status":
      return { ...state, agent: { state: frame.agent, phase: frame.phase ?? null } };
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
      // A reply means the question was received, even if its ack got lost.
      next = updateMessage(next, conversationId, userKey(frame.id), (m) =>
        m.status === "queued" ? { ...m, status: "sent" } : m,
      );
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
        m.status === "streaming" ? { ...m, text: m.text + frame.text } : m,
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
        status: frame.aborted ? "aborted" : "done",
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
      return {
        ...state,
        messages: { ...state.messages, [action.conversationId]: [...stored, ...local] },
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
  }
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
