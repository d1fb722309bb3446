/**
 * One line that says what is going on: the connection first (if it is not open), then the
 * agent's state. A cold start shows each phase the agent reports and the time spent so far,
 * so waking up reads as progress, not as a hang.
 */
import { type ReactNode, useEffect, useState } from "react";
import type { ChatState } from "../chat/reducer";
import type { ConnectionInfo } from "../chat/socket";
import { duration } from "../lib/format";

interface Props {
  agent: ChatState["agent"];
  connection: ConnectionInfo;
  onRetry: () => void;
}

function useNow(active: boolean, everyMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [active, everyMs]);
  return now;
}

export function StatusBanner({ agent, connection, onRetry }: Props) {
  const waking = agent?.state === "starting";
  const [wakingSince, setWakingSince] = useState<number | null>(null);
  const [phases, setPhases] = useState<string[]>([]);
  const now = useNow(waking || connection.state === "waiting");

  const phase = agent?.phase ?? null;
  useEffect(() => {
    if (waking) {
      setWakingSince((since) => since ?? Date.now());
      if (phase) setPhases((seen) => (seen.at(-1) === phase ? seen : [...seen, phase]));
    } else {
      setWakingSince(null);
      setPhases([]);
    }
  }, [waking, phase]);

  let tone = "info";
  let title: string;
  let detail: string | null = null;
  let action: ReactNode = null;
  let busy = false;
  if (connection.state === "waiting") {
    tone = "warn";
    title = "Connection lost. Reconnecting";
    const seconds = Math.max(0, Math.ceil(((connection.retryAt ?? now) - now) / 1000));
    detail = seconds > 0 ? `next try in ${seconds} s` : "trying now";
    action = (
      <button type="button" className="link-button" onClick={onRetry}>
        Retry now
      </button>
    );
  } else if (connection.state === "connecting" || connection.state === "idle" || !agent) {
    title = "Connecting…";
    busy = true;
  } else if (connection.state === "closed") {
    tone = "warn";
    title = "Disconnected";
  } else if (agent.state === "starting") {
    tone = "progress";
    busy = true;
    title = "Waking up your agent";
    const elapsed = wakingSince ? duration(now - wakingSince) : null;
    detail = [agent.phase, elapsed].filter(Boolean).join(" · ") || null;
  } else if (agent.state === "running") {
    tone = "ok";
    title = "Agent ready";
  } else if (agent.state === "stopping") {
    tone = "muted";
    title = "Agent is going to sleep";
    detail = "messages you send now wake it again";
  } else {
    tone = "muted";
    title = "Agent is asleep";
    detail = "it wakes up when you send a message";
  }

  return (
    <div
      className={`status-banner tone-${tone}`}
      role="status"
      aria-live="polite"
      aria-busy={busy}
      data-testid="status-banner"
      data-agent={agent?.state ?? "unknown"}
      data-phase={waking ? (phase ?? undefined) : undefined}
      data-connection={connection.state}
    >
      <span className="status-dot" aria-hidden="true" />
      <span className="status-title">{title}</span>
      {detail ? <span className="status-detail">{detail}</span> : null}
      {waking && phases.length > 1 ? (
        <ol className="status-phases" aria-label="Start-up steps">
          {phases.map((p, i) => (
            <li key={`${i}-${p}`} data-done={i < phases.length - 1}>
              {p}
            </li>
          ))}
        </ol>
      ) : null}
      {action}
    </div>
  );
}
