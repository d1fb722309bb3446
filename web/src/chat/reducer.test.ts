import { describe, expect, it } from "vitest";
import type { Message, ServerFrame } from "../generated/contracts";
import {
  type ChatAction,
  type ChatState,
  chatReducer,
  initialChatState,
  isBusy,
  visibleMessages,
} from "./reducer";

const NOW = "2026-01-01T10:00:00Z";

function run(state: ChatState, ...actions: ChatAction[]): ChatState {
  return actions.reduce(chatReducer, state);
}

const frame = (f: ServerFrame): ChatAction => ({ type: "frame", frame: f, now: NOW });
const sent = (id: string, text: string, conversationId = "main"): ChatAction => ({
  type: "sent",
  id,
  text,
  conversationId,
  createdAt: NOW,
});
const texts = (s: ChatState, conversationId = s.current) =>
  (s.messages[conversationId] ?? []).map((m) => [m.role, m.text, m.status]);

describe("chatReducer", () => {
  it("shows a sent message at once, as queued until the server acknowledges it", () => {
    let s = run(initialChatState("main"), sent("m-000001", "hi"));
    expect(texts(s)).toEqual([["user", "hi", "queued"]]);
    s = run(s, frame({ type: "ack", id: "m-000001", conversationId: "main" }));
    expect(texts(s)).toEqual([["user", "hi", "sent"]]);
    expect(isBusy(s)).toBe(true);
  });

  it("streams a reply: start, chunks append, end replaces with the full text", () => {
    let s = run(
      initialChatState("main"),
      sent("m-000001", "hi"),
      frame({ type: "stream_start", id: "m-000001", conversationId: "main", proactive: false }),
      frame({ type: "stream_chunk", id: "m-000001", text: "Hel" }),
      frame({ type: "stream_chunk", id: "m-000001", text: "lo" }),
    );
    expect(texts(s)).toEqual([
      ["user", "hi", "sent"], // the reply implies the ack
      ["assistant", "Hello", "streaming"],
    ]);
    expect(isBusy(s)).toBe(true);
    s = run(s, frame({ type: "stream_end", id: "m-000001", text: "Hello!", aborted: false }));
    expect(texts(s)).toEqual([
      ["user", "hi", "sent"],
      ["assistant", "Hello!", "done"],
    ]);
    expect(isBusy(s)).toBe(false);
  });

  it("marks an aborted reply and frees the stop button", () => {
    const s = run(
      initialChatState("main"),
      sent("m-000001", "write a novel"),
      frame({ type: "stream_start", id: "m-000001", conversationId: "main", proactive: false }),
      frame({ type: "stream_chunk", id: "m-000001", text: "Once upon" }),
      frame({ type: "stream_end", id: "m-000001", text: "Once upon", aborted: true }),
    );
    expect(texts(s).at(-1)).toEqual(["assistant", "Once upon", "aborted"]);
    expect(isBusy(s)).toBe(false);
  });

  it("restarts a reply that is streamed again (redelivery after the agent restarted)", () => {
    const s = run(
      initialChatState("main"),
      frame({ type: "stream_start", id: "m-000001", conversationId: "main", proactive: false }),
      frame({ type: "stream_chunk", id: "m-000001", text: "half" }),
      frame({ type: "stream_start", id: "m-000001", conversationId: "main", proactive: false }),
      frame({ type: "stream_chunk", id: "m-000001", text: "whole" }),
    );
    expect(texts(s)).toEqual([["assistant", "whole", "streaming"]]);
  });

  it("still shows a reply whose start was missed during a reconnect", () => {
    const s = run(
      initialChatState("main"),
      sent("m-000001", "hi", "c-2"),
      frame({ type: "stream_chunk", id: "m-000001", text: "partial" }),
    );
    expect(texts(s, "c-2")).toEqual([
      ["user", "hi", "sent"],
      ["assistant", "… partial", "streaming"],
    ]);
    const ended = run(
      initialChatState("main"),
      sent("m-000002", "hi"),
      frame({ type: "stream_end", id: "m-000002", text: "all of it", aborted: false }),
    );
    expect(texts(ended).at(-1)).toEqual(["assistant", "all of it", "done"]);
  });

  it("ignores chunks of a stream it knows nothing about", () => {
    const before = initialChatState("main");
    const after = run(before, frame({ type: "stream_chunk", id: "zz-000001", text: "?" }));
    expect(after).toBe(before);
  });

  it("puts a proactive message in its conversation and counts it unread elsewhere", () => {
    let s = run(
      initialChatState("c-1"),
      frame({ type: "stream_start", id: "hb-00000001", conversationId: "main", proactive: true }),
      frame({ type: "stream_end", id: "hb-00000001", text: "Reminder: stand up", aborted: false }),
    );
    expect(visibleMessages(s)).toEqual([]);
    expect(s.messages.main?.[0]).toMatchObject({
      role: "assistant",
      proactive: true,
      text: "Reminder: stand up",
    });
    expect(s.unread).toEqual({ main: 1 });
    s = run(s, { type: "open", conversationId: "main" });
    expect(s.unread).toEqual({});
    expect(visibleMessages(s)).toHaveLength(1);
  });

  it("attaches an error to the message it is about, and keeps other errors for a banner", () => {
    let s = run(
      initialChatState("main"),
      sent("m-000001", "hi"),
      frame({ type: "error", id: "m-000001", code: "quota_exceeded", message: "Too many" }),
    );
    expect(visibleMessages(s)[0]).toMatchObject({
      status: "failed",
      error: { code: "quota_exceeded", message: "Too many" },
    });
    expect(isBusy(s)).toBe(false);
    s = run(s, frame({ type: "error", code: "internal", message: "Oops" }));
    expect(s.lastError).toEqual({ code: "internal", message: "Oops" });
    s = run(s, { type: "dismissError" });
    expect(s.lastError).toBeNull();
  });

  it("fails a reply that errors mid-stream", () => {
    const s = run(
      initialChatState("main"),
      frame({ type: "stream_start", id: "m-000001", conversationId: "main", proactive: false }),
      frame({ type: "stream_chunk", id: "m-000001", text: "par" }),
      frame({ type: "error", id: "m-000001", code: "internal", message: "model crashed" }),
    );
    expect(visibleMessages(s)[0]).toMatchObject({ status: "failed", text: "par" });
    expect(isBusy(s)).toBe(false);
  });

  it("tracks the agent status with its phase", () => {
    let s = run(
      initialChatState("main"),
      frame({ type: "status", agent: "starting", phase: "restoring state" }),
    );
    expect(s.agent).toEqual({ state: "starting", phase: "restoring state" });
    s = run(s, frame({ type: "status", agent: "running" }));
    expect(s.agent).toEqual({ state: "running", phase: null });
    expect(run(s, frame({ type: "pong" }))).toBe(s);
  });

  it("replaces the list with history but keeps what is still in flight", () => {
    const stored: Message[] = [
      {
        id: "m-000001",
        conversationId: "main",
        role: "user",
        text: "earlier",
        createdAt: "2026-01-01T09:00:00Z",
        source: "telegram",
        aborted: false,
        proactive: false,
      },
      {
        id: "r-000001",
        conversationId: "main",
        role: "assistant",
        text: "answer",
        createdAt: "2026-01-01T09:00:05Z",
        source: "agent",
        aborted: false,
        proactive: false,
      },
    ];
    const s = run(
      initialChatState("main"),
      sent("m-000001", "earlier"),
      sent("m-000002", "not stored yet"),
      frame({ type: "stream_start", id: "m-000002", conversationId: "main", proactive: false }),
      frame({ type: "stream_chunk", id: "m-000002", text: "typing" }),
      { type: "history", conversationId: "main", items: stored },
    );
    expect(texts(s)).toEqual([
      ["user", "earlier", "done"],
      ["assistant", "answer", "done"],
      ["user", "not stored yet", "sent"],
      ["assistant", "typing", "streaming"],
    ]);
    expect(s.loaded.main).toBe(true);
  });

  it("forgets a deleted conversation", () => {
    const s = run(initialChatState("main"), sent("m-000001", "bye", "c-9"), {
      type: "forget",
      conversationId: "c-9",
    });
    expect(s.messages["c-9"]).toBeUndefined();
  });
});

describe("one conversation everywhere", () => {
  const question = (id: string, text: string, extra: Partial<Message> = {}): Message => ({
    id,
    conversationId: "main",
    role: "user",
    text,
    createdAt: NOW,
    source: "web",
    aborted: false,
    proactive: false,
    ...extra,
  });
  const reply = (questionId: string, text: string, extra: Partial<Message> = {}): Message => ({
    id: `${questionId}:r`,
    conversationId: "main",
    role: "assistant",
    text,
    createdAt: NOW,
    source: "agent",
    aborted: false,
    proactive: false,
    inReplyTo: questionId,
    ...extra,
  });

  it("shows a question typed in another tab, then its reply under it", () => {
    const s = run(
      initialChatState("main"),
      frame({
        type: "message",
        id: "m-other01",
        conversationId: "main",
        text: "from the other tab",
        source: "web",
        createdAt: NOW,
      }),
      frame({ type: "stream_start", id: "m-other01", conversationId: "main", proactive: false }),
      frame({ type: "stream_end", id: "m-other01", text: "answer", aborted: false }),
    );
    expect(texts(s)).toEqual([
      ["user", "from the other tab", "sent"],
      ["assistant", "answer", "done"],
    ]);
  });

  it("shows a message sent from Telegram with its source", () => {
    const s = run(
      initialChatState("main"),
      frame({
        type: "message",
        id: "tg-1234567",
        conversationId: "main",
        text: "hello from my phone",
        source: "telegram",
        createdAt: NOW,
      }),
    );
    expect(visibleMessages(s)[0]).toMatchObject({ role: "user", source: "telegram", status: "sent" });
  });

  it("keeps this tab's own echo once when the server reports the stored message", () => {
    const s = run(
      initialChatState("main"),
      sent("m-000001", "hi"),
      frame({ type: "message", id: "m-000001", conversationId: "main", text: "hi", source: "web", createdAt: NOW }),
    );
    expect(texts(s)).toEqual([["user", "hi", "sent"]]);
  });

  it("puts each reply directly under its question, live", () => {
    const s = run(
      initialChatState("main"),
      sent("m-000001", "one"),
      sent("m-000002", "two"),
      sent("m-000003", "three"),
      frame({ type: "stream_start", id: "m-000001", conversationId: "main", proactive: false }),
      frame({ type: "stream_end", id: "m-000001", text: "1", aborted: false }),
      frame({ type: "stream_start", id: "m-000002", conversationId: "main", proactive: false }),
      frame({ type: "stream_end", id: "m-000002", text: "2", aborted: false }),
    );
    expect(texts(s).map(([, text]) => text)).toEqual(["one", "1", "two", "2", "three"]);
  });

  it("after a reconnect mid-reply ends with one bubble per message and nothing running", () => {
    let s = run(
      initialChatState("main"),
      sent("m-000001", "hi"),
      frame({ type: "ack", id: "m-000001", conversationId: "main" }),
      frame({ type: "stream_start", id: "m-000001", conversationId: "main", proactive: false }),
      frame({ type: "stream_chunk", id: "m-000001", text: "Hel" }),
    );
    expect(isBusy(s)).toBe(true);
    // The socket dropped; the reply finished meanwhile and is stored under its own id.
    s = run(s, {
      type: "history",
      conversationId: "main",
      items: [question("m-000001", "hi"), reply("m-000001", "Hello there")],
    });
    expect(texts(s)).toEqual([
      ["user", "hi", "done"],
      ["assistant", "Hello there", "done"],
    ]);
    expect(isBusy(s)).toBe(false);
    expect(s.active).toEqual({});
    expect(s.streams).toEqual({});
  });

  it("lists stored replies of older servers (id <question>:r) in place too", () => {
    const s = run(initialChatState("main"), {
      type: "history",
      conversationId: "main",
      items: [question("m-000001", "hi"), reply("m-000001", "yo", { inReplyTo: null })],
    });
    expect(visibleMessages(s).map((m) => m.key)).toEqual(["user:m-000001", "assistant:m-000001"]);
  });

  it("shows a stored error reply as an error with its reason", () => {
    const s = run(initialChatState("main"), {
      type: "history",
      conversationId: "main",
      items: [
        question("m-000001", "bad"),
        reply("m-000001", "This message cannot be passed to the agent.", {
          error: { code: "rejected", message: "The message contains a NUL character.", retryable: false },
        }),
      ],
    });
    const [, answer] = visibleMessages(s);
    expect(answer).toMatchObject({ status: "failed", error: { code: "rejected" } });
  });

  it("shows an error reply streamed live, with a retry when it may help", () => {
    const s = run(
      initialChatState("main"),
      sent("m-000001", "hi"),
      frame({
        type: "stream_end",
        id: "m-000001",
        text: "The agent could not answer.",
        aborted: false,
        error: { code: "model_unavailable", message: "The model did not answer.", retryable: true },
      }),
    );
    const [, answer] = visibleMessages(s);
    expect(answer).toMatchObject({ status: "failed", error: { retryable: true } });
    expect(isBusy(s)).toBe(false);
  });

  it("gives up waiting on a question with no progress, and takes it back when a reply starts", () => {
    const sentAt = Date.parse(NOW);
    let s = run(
      initialChatState("main"),
      sent("m-000001", "hi"),
      frame({ type: "ack", id: "m-000001", conversationId: "main" }),
    );
    s = run(s, { type: "expire", before: sentAt - 1, streamingBefore: sentAt - 1 });
    expect(texts(s)).toEqual([["user", "hi", "sent"]]);
    s = run(s, { type: "expire", before: sentAt + 1, streamingBefore: sentAt + 1 });
    expect(visibleMessages(s)[0]).toMatchObject({ status: "failed", error: { code: "no_progress", retryable: true } });
    expect(isBusy(s)).toBe(false);
    s = run(s, frame({ type: "stream_start", id: "m-000001", conversationId: "main", proactive: false }));
    expect(visibleMessages(s)[0]).toMatchObject({ status: "sent" });
    expect(visibleMessages(s)[0]?.error).toBeUndefined();
  });

  it("counts the agent waking up as progress", () => {
    const sentAt = Date.parse(NOW);
    const later = new Date(sentAt + 60_000).toISOString();
    let s = run(
      initialChatState("main"),
      sent("m-000001", "hi"),
      frame({ type: "ack", id: "m-000001", conversationId: "main" }),
      { type: "frame", frame: { type: "status", agent: "starting", phase: "restoring memory" }, now: later },
    );
    s = run(s, { type: "expire", before: sentAt + 30_000, streamingBefore: sentAt + 30_000 });
    expect(texts(s)).toEqual([["user", "hi", "sent"]]);
  });
});
