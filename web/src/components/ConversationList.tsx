import { useState } from "react";
import type { Conversation } from "../generated/contracts";
import { timeAgo } from "../lib/format";

interface Props {
  conversations: Conversation[];
  current: string | null;
  unread: Record<string, number>;
  hasMore: boolean;
  error: string | null;
  onOpen: (id: string) => void;
  onNew: () => void;
  onDelete: (id: string) => void;
  onMore: () => void;
}

export function ConversationList({
  conversations,
  current,
  unread,
  hasMore,
  error,
  onOpen,
  onNew,
  onDelete,
  onMore,
}: Props) {
  const [confirming, setConfirming] = useState<string | null>(null);
  return (
    <nav className="conversations" aria-label="Conversations">
      <div className="conversations-head">
        <h2>Conversations</h2>
        <button type="button" className="button small" onClick={onNew} data-testid="new-conversation">
          New
        </button>
      </div>
      {error ? (
        <p className="notice warn" role="alert">
          {error}
        </p>
      ) : null}
      <ul className="conversation-list">
        {conversations.map((c) => {
          const selected = c.id === current;
          const count = unread[c.id] ?? 0;
          return (
            <li
              key={c.id}
              className={selected ? "selected" : undefined}
              data-testid="conversation-item"
              data-id={c.id}
            >
              <button
                type="button"
                className="conversation-open"
                aria-current={selected ? "page" : undefined}
                onClick={() => onOpen(c.id)}
              >
                <span className="conversation-title">{c.title || "Untitled"}</span>
                <time className="conversation-time" dateTime={c.updatedAt}>
                  {timeAgo(c.updatedAt)}
                </time>
                {count ? (
                  <span className="badge unread" aria-label={`${count} new`}>
                    {count}
                  </span>
                ) : null}
              </button>
              {confirming === c.id ? (
                <span className="confirm">
                  <button
                    type="button"
                    className="button danger small"
                    onClick={() => {
                      setConfirming(null);
                      onDelete(c.id);
                    }}
                    data-testid="confirm-delete-conversation"
                  >
                    Delete
                  </button>
                  <button
                    type="button"
                    className="button secondary small"
                    onClick={() => setConfirming(null)}
                  >
                    Keep
                  </button>
                </span>
              ) : (
                <button
                  type="button"
                  className="icon-button"
                  aria-label={`Delete conversation ${c.title || c.id}`}
                  data-testid="delete-conversation"
                  onClick={() => setConfirming(c.id)}
                >
                  ×
                </button>
              )}
            </li>
          );
        })}
      </ul>
      {hasMore ? (
        <button type="button" className="button secondary small more" onClick={onMore}>
          Load older
        </button>
      ) : null}
    </nav>
  );
}
