import { type FormEvent, type KeyboardEvent, useEffect, useRef, useState } from "react";
import type { ChatMessage } from "../chat/reducer";
import { MAX_TEXT_BYTES } from "../generated/contracts";
import { utf8Length } from "../lib/format";
import { Markdown } from "./Markdown";

const STATUS_LABEL: Partial<Record<ChatMessage["status"], string>> = {
  queued: "sending…",
  aborted: "stopped",
  failed: "not delivered",
};

function MessageBubble({
  message,
  onRetry,
}: {
  message: ChatMessage;
  onRetry?: (id: string) => void;
}) {
  const label = message.role === "user" ? "You" : "Agent";
  const note = STATUS_LABEL[message.status];
  return (
    <li
      className={`message message-${message.role} status-${message.status}`}
      data-testid="message"
      data-role={message.role}
      data-status={message.status}
      data-id={message.id}
      aria-label={`${label}${message.proactive ? " (on its own)" : ""}`}
    >
      <div className="message-meta">
        <span className="message-author">{label}</span>
        {message.proactive ? <span className="badge">on its own</span> : null}
        {message.source === "telegram" ? <span className="badge">via Telegram</span> : null}
        {note ? <span className="message-note">{note}</span> : null}
      </div>
      <div className="message-body">
        {message.role === "assistant" ? (
          message.text ? (
            <Markdown text={message.text} />
          ) : (
            <span className="typing" aria-label="Agent is typing">
              <span />
              <span />
              <span />
            </span>
          )
        ) : (
          <p className="plain">{message.text}</p>
        )}
        {message.status === "streaming" && message.text ? (
          <span className="cursor" aria-hidden="true" />
        ) : null}
      </div>
      {message.error ? (
        <p className="message-error" role="alert">
          {message.error.message} <span className="code">({message.error.code})</span>
          {message.error.retryable && onRetry ? (
            <button
              type="button"
              className="button secondary small"
              data-testid="retry-button"
              onClick={() => onRetry(message.id)}
            >
              Send again
            </button>
          ) : null}
        </p>
      ) : null}
    </li>
  );
}

function MessageList({
  messages,
  loading,
  onRetry,
}: {
  messages: ChatMessage[];
  loading: boolean;
  onRetry?: (id: string) => void;
}) {
  const end = useRef<HTMLDivElement>(null);
  const last = messages[messages.length - 1];
  const streaming = messages.some((m) => m.status === "streaming");
  useEffect(() => {
    end.current?.scrollIntoView?.({ block: "end" });
  }, [messages.length, last?.text]);
  return (
    <div className="message-scroll">
      {messages.length === 0 ? (
        <p className="empty">{loading ? "Loading…" : "No messages yet. Say hello."}</p>
      ) : null}
      <ol
        className="message-list"
        data-testid="message-list"
        aria-label="Messages"
        aria-busy={streaming}
      >
        {messages.map((m) => (
          <MessageBubble key={m.key} message={m} onRetry={onRetry} />
        ))}
      </ol>
      <div ref={end} />
    </div>
  );
}

interface ComposerProps {
  busy: boolean;
  onSend: (text: string) => void;
  onStop: () => void;
}

function Composer({ busy, onSend, onStop }: ComposerProps) {
  const [text, setText] = useState("");
  const input = useRef<HTMLTextAreaElement>(null);
  const size = utf8Length(text);
  const tooLong = size > MAX_TEXT_BYTES;
  const canSend = text.trim().length > 0 && !tooLong;

  const submit = (event?: FormEvent) => {
    event?.preventDefault();
    if (!canSend) return;
    onSend(text);
    setText("");
    input.current?.focus();
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      submit();
    } else if (event.key === "Escape" && busy) {
      event.preventDefault();
      onStop();
    }
  };

  return (
    <form className="composer" onSubmit={submit} aria-label="Send a message">
      <label htmlFor="message-input" className="visually-hidden">
        Message
      </label>
      <div className="composer-row">
      <textarea
        id="message-input"
        ref={input}
        data-testid="message-input"
        value={text}
        rows={1}
        placeholder="Message your agent"
        aria-keyshortcuts="Enter Shift+Enter"
        title="Enter sends, Shift+Enter starts a new line, Escape stops the reply"
        onChange={(e) => setText(e.target.value)}
        onKeyDown={onKeyDown}
        aria-invalid={tooLong}
        aria-describedby={tooLong ? "message-too-long" : undefined}
      />
      <div className="composer-actions">
        {busy ? (
          <button
            type="button"
            className="button secondary"
            data-testid="stop-button"
            onClick={onStop}
            aria-keyshortcuts="Escape"
          >
            Stop
          </button>
        ) : null}
        <button type="submit" className="button" data-testid="send-button" disabled={!canSend}>
          Send
        </button>
      </div>
      </div>
      {tooLong ? (
        <p id="message-too-long" className="field-error">
          Too long: {Math.ceil(size / 1024)} KB of at most {MAX_TEXT_BYTES / 1024} KB.
        </p>
      ) : null}
    </form>
  );
}

interface ChatViewProps {
  title: string;
  messages: ChatMessage[];
  loading: boolean;
  busy: boolean;
  historyError: string | null;
  onSend: (text: string) => void;
  onStop: () => void;
  /** Send an unanswered question again (the id of the question or of its failed reply). */
  onRetry?: (id: string) => void;
}

export function ChatView({
  title,
  messages,
  loading,
  busy,
  historyError,
  onSend,
  onStop,
  onRetry,
}: ChatViewProps) {
  return (
    <section className="chat" aria-label={`Conversation: ${title}`}>
      <h2 className="visually-hidden">{title}</h2>
      {historyError ? (
        <p className="notice warn" role="alert">
          History could not be loaded: {historyError}
        </p>
      ) : null}
      <MessageList messages={messages} loading={loading} onRetry={onRetry} />
      <Composer busy={busy} onSend={onSend} onStop={onStop} />
    </section>
  );
}
