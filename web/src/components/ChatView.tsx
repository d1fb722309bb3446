import {
  type ClipboardEvent,
  type DragEvent,
  type FormEvent,
  type KeyboardEvent,
  useEffect,
  useRef,
  useState,
} from "react";
import { MessageAttachments, PendingTray } from "../attachments/AttachmentViews";
import { ACCEPT, LIMITS_TEXT } from "../attachments/rules";
import type { Uploader } from "../attachments/upload";
import {
  type PendingAttachments,
  usePendingAttachments,
} from "../attachments/usePendingAttachments";
import type { ChatMessage } from "../chat/reducer";
import { type Attachment, MAX_TEXT_BYTES } from "../generated/contracts";
import { tokens, usd, utf8Length } from "../lib/format";
import { Markdown } from "./Markdown";

const STATUS_LABEL: Partial<Record<ChatMessage["status"], string>> = {
  queued: "sending…",
  aborted: "stopped",
  failed: "not delivered",
};

function UsageLine({ usage }: { usage: NonNullable<ChatMessage["usage"]> }) {
  const total =
    usage.inputTokens + usage.outputTokens + usage.cacheReadTokens + usage.cacheWriteTokens;
  const detail =
    `${tokens(usage.inputTokens)} in, ${tokens(usage.outputTokens)} out` +
    (usage.cacheReadTokens ? `, ${tokens(usage.cacheReadTokens)} from cache` : "") +
    (usage.cacheWriteTokens ? `, ${tokens(usage.cacheWriteTokens)} cached` : "") +
    (usage.model ? ` · ${usage.model}` : "");
  return (
    <small className="message-usage" data-testid="message-usage" title={detail}>
      {tokens(total)} tokens · {usage.costUsd === null || usage.costUsd === undefined ? "no price" : `~${usd(usage.costUsd)}`}
    </small>
  );
}

function MessageBubble({
  message,
  onRetry,
  uploader,
}: {
  message: ChatMessage;
  onRetry?: (id: string) => void;
  uploader?: Uploader | undefined;
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
        ) : message.text ? (
          <p className="plain">{message.text}</p>
        ) : null}
        {message.attachments?.length ? (
          <MessageAttachments attachments={message.attachments} uploader={uploader} />
        ) : null}
        {message.status === "streaming" && message.text ? (
          <span className="cursor" aria-hidden="true" />
        ) : null}
      </div>
      {message.usage && message.status !== "streaming" ? <UsageLine usage={message.usage} /> : null}
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
  uploader,
}: {
  messages: ChatMessage[];
  loading: boolean;
  onRetry?: (id: string) => void;
  uploader?: Uploader | undefined;
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
          <MessageBubble key={m.key} message={m} onRetry={onRetry} uploader={uploader} />
        ))}
      </ol>
      <div ref={end} />
    </div>
  );
}

interface ComposerProps {
  busy: boolean;
  onSend: (text: string, attachments?: Attachment[]) => void;
  onStop: () => void;
  pending: PendingAttachments;
  /** Whether files can be attached (an uploader was given). */
  canAttach: boolean;
}

function Composer({ busy, onSend, onStop, pending, canAttach }: ComposerProps) {
  const [text, setText] = useState("");
  const input = useRef<HTMLTextAreaElement>(null);
  const picker = useRef<HTMLInputElement>(null);
  const size = utf8Length(text);
  const tooLong = size > MAX_TEXT_BYTES;
  const files = pending.attachments;
  const waiting = pending.uploading || pending.failed;
  const canSend = (text.trim().length > 0 || files.length > 0) && !tooLong && !waiting;

  const submit = (event?: FormEvent) => {
    event?.preventDefault();
    if (!canSend) return;
    if (files.length) onSend(text, files);
    else onSend(text);
    setText("");
    pending.clear();
    input.current?.focus();
  };

  const onPaste = (event: ClipboardEvent<HTMLTextAreaElement>) => {
    const pasted = Array.from(event.clipboardData?.files ?? []);
    if (!canAttach || pasted.length === 0) return;
    // A picture copied from a page or a screenshot: attach it. Text pastes as usual.
    if (!event.clipboardData.getData("text/plain")) event.preventDefault();
    pending.add(pasted);
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
        onPaste={onPaste}
        aria-invalid={tooLong}
        aria-describedby={tooLong ? "message-too-long" : undefined}
      />
      <div className="composer-actions">
        {canAttach ? (
          <>
            <input
              ref={picker}
              type="file"
              multiple
              accept={ACCEPT}
              className="visually-hidden"
              data-testid="attachment-input"
              aria-label="Attach files"
              tabIndex={-1}
              onChange={(e) => {
                pending.add(Array.from(e.target.files ?? []));
                e.target.value = "";
              }}
            />
            <button
              type="button"
              className="button secondary"
              data-testid="attach-button"
              title={LIMITS_TEXT}
              aria-describedby="attachment-limits"
              onClick={() => picker.current?.click()}
            >
              Attach
            </button>
          </>
        ) : null}
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
      <PendingTray items={pending.items} errors={pending.errors} onRemove={pending.remove} />
      {canAttach ? (
        <p id="attachment-limits" className="attachment-limits" data-testid="attachment-limits">
          {LIMITS_TEXT} Drop or paste files here too.
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
  onSend: (text: string, attachments?: Attachment[]) => void;
  onStop: () => void;
  /** Send an unanswered question again (the id of the question or of its failed reply). */
  onRetry?: (id: string) => void;
  /** Uploads files and links to them; without it the composer takes no files. */
  uploader?: Uploader;
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
  uploader,
}: ChatViewProps) {
  const pending = usePendingAttachments(uploader);
  const [dragging, setDragging] = useState(false);
  const hasFiles = (event: DragEvent) => Array.from(event.dataTransfer?.types ?? []).includes("Files");
  const drop = uploader
    ? {
        onDragOver: (event: DragEvent) => {
          if (!hasFiles(event)) return;
          event.preventDefault();
          setDragging(true);
        },
        onDragLeave: (event: DragEvent) => {
          if (event.currentTarget === event.target) setDragging(false);
        },
        onDrop: (event: DragEvent) => {
          if (!hasFiles(event)) return;
          event.preventDefault();
          setDragging(false);
          pending.add(Array.from(event.dataTransfer.files));
        },
      }
    : {};
  return (
    <section
      className={`chat${dragging ? " dragging" : ""}`}
      aria-label={`Conversation: ${title}`}
      data-testid="chat"
      {...drop}
    >
      <h2 className="visually-hidden">{title}</h2>
      {dragging ? (
        <div className="drop-hint" aria-hidden="true">
          Drop files to attach them
        </div>
      ) : null}
      {historyError ? (
        <p className="notice warn" role="alert">
          History could not be loaded: {historyError}
        </p>
      ) : null}
      <MessageList messages={messages} loading={loading} onRetry={onRetry} uploader={uploader} />
      <Composer
        busy={busy}
        onSend={onSend}
        onStop={onStop}
        pending={pending}
        canAttach={uploader !== undefined}
      />
    </section>
  );
}
