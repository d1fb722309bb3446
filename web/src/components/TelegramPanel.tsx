import { useCallback, useEffect, useState } from "react";
import type { ApiClient } from "../api/client";
import type { PairingCode, TelegramLink } from "../generated/contracts";
import { countdown, timeAgo } from "../lib/format";

const POLL_MS = 3000;

export function TelegramPanel({ api }: { api: ApiClient }) {
  const [link, setLink] = useState<TelegramLink | null | undefined>(undefined);
  const [code, setCode] = useState<PairingCode | null>(null);
  const [now, setNow] = useState(() => Date.now());
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);

  const report = (e: unknown) => setError(e instanceof Error ? e.message : String(e));

  const refresh = useCallback(async () => {
    const current = await api.getTelegramLink();
    setLink(current);
    if (current) setCode(null);
  }, [api]);

  useEffect(() => {
    refresh().catch(report);
  }, [refresh]);

  const expiresAt = code ? Date.parse(code.expiresAt) : 0;
  const expired = code !== null && now >= expiresAt;

  // While a code is on screen: tick the countdown and watch for the chat being linked.
  useEffect(() => {
    if (!code || expired) return;
    const tick = setInterval(() => setNow(Date.now()), 1000);
    const poll = setInterval(() => refresh().catch(report), POLL_MS);
    return () => {
      clearInterval(tick);
      clearInterval(poll);
    };
  }, [code, expired, refresh]);

  const newCode = async () => {
    setPending(true);
    setError(null);
    try {
      setCode(await api.createPairingCode());
      setNow(Date.now());
    } catch (e) {
      report(e);
    } finally {
      setPending(false);
    }
  };

  const unlink = async () => {
    setPending(true);
    setError(null);
    try {
      await api.unlinkTelegram();
      setLink(null);
    } catch (e) {
      report(e);
    } finally {
      setPending(false);
    }
  };

  return (
    <section className="panel" aria-labelledby="telegram-title">
      <h2 id="telegram-title">Telegram</h2>
      {link === undefined && !error ? <p>Loading…</p> : null}
      {link ? (
        <div data-testid="telegram-link">
          <p>
            Linked to{" "}
            <strong data-testid="telegram-chat">
              {link.username ? `@${link.username}` : `chat ${link.chatId}`}
            </strong>{" "}
            since {timeAgo(link.linkedAt)}. Messages there go to your main conversation.
          </p>
          <p className="hint" data-testid="telegram-one-chat">
            One chat at a time: pairing another chat unlinks this one, and the bot tells it so.
          </p>
          <button
            type="button"
            className="button danger"
            onClick={unlink}
            disabled={pending}
            data-testid="telegram-unlink"
          >
            Unlink
          </button>
        </div>
      ) : null}
      {link === null ? (
        <div>
          <p>Link a Telegram chat to talk to the same agent from your phone.</p>
          {code && !expired ? (
            <div className="pairing" data-testid="pairing">
              <p>Send this to the bot within the time shown (a new code replaces this one):</p>
              <p className="pairing-code">
                <code data-testid="pairing-code">/pair {code.code}</code>
              </p>
              <p>
                Expires in{" "}
                <span data-testid="pairing-countdown" aria-live="off">
                  {countdown(expiresAt - now)}
                </span>
              </p>
            </div>
          ) : null}
          {expired ? <p data-testid="pairing-expired">That code expired.</p> : null}
          <button
            type="button"
            className="button"
            onClick={newCode}
            disabled={pending}
            data-testid="telegram-pair"
          >
            {code ? "New code" : "Get a pairing code"}
          </button>
        </div>
      ) : null}
      {error ? (
        <p className="notice warn" role="alert">
          {error}
        </p>
      ) : null}
    </section>
  );
}
