import { useCallback, useEffect, useState } from "react";
import { ApiError, type ApiClient } from "../api/client";
import type { AgentState } from "../chat/reducer";
import type { AgentStatus } from "../generated/contracts";
import { bytes, duration, timeAgo } from "../lib/format";

const STATE_LABEL: Record<AgentState, string> = {
  idle: "Asleep",
  starting: "Waking up",
  running: "Running",
  stopping: "Going to sleep",
};

const REFRESH_MS = 10_000;

interface Props {
  api: ApiClient;
  /** The state the socket last reported; a change triggers a refresh. */
  liveState: AgentState | undefined;
  onState: (state: AgentState, phase?: string | null) => void;
}

export function AgentPanel({ api, liveState, onState }: Props) {
  const [status, setStatus] = useState<AgentStatus | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [pending, setPending] = useState<string | null>(null);
  const [now, setNow] = useState(() => Date.now());

  const load = useCallback(async () => {
    const s = await api.getAgent();
    setStatus(s);
    setNow(Date.now());
  }, [api]);

  useEffect(() => {
    let live = true;
    const run = () =>
      load().catch((e: unknown) => live && setError(e instanceof Error ? e.message : String(e)));
    void run();
    const timer = setInterval(run, REFRESH_MS);
    const tick = setInterval(() => setNow(Date.now()), 1000);
    return () => {
      live = false;
      clearInterval(timer);
      clearInterval(tick);
    };
  }, [load, liveState]);

  const act = async (name: "start" | "stop" | "restart" | "backup") => {
    setPending(name);
    setError(null);
    setNotice(null);
    try {
      if (name === "backup") {
        await api.backupAgent();
        setNotice("Backup requested; the time below updates when it is done.");
      } else {
        const next = await api.agentAction(name);
        setStatus(next);
        onState(next.state, next.phase);
      }
    } catch (e) {
      if (e instanceof ApiError && e.status === 409 && name === "backup") {
        setError("The agent is asleep: its state was backed up when it stopped.");
      } else {
        setError(e instanceof Error ? e.message : String(e));
      }
    } finally {
      setPending(null);
    }
  };

  const state = status?.state;
  const uptime =
    status?.startedAt && (state === "running" || state === "stopping")
      ? duration(now - Date.parse(status.startedAt))
      : "—";

  return (
    <section className="panel" aria-labelledby="agent-title">
      <h2 id="agent-title">Agent</h2>
      {status ? (
        <dl className="facts">
          <dt>State</dt>
          <dd data-testid="agent-state" data-state={status.state}>
            {STATE_LABEL[status.state]}
            {status.phase ? ` (${status.phase})` : ""}
          </dd>
          <dt>Up for</dt>
          <dd data-testid="agent-uptime">{uptime}</dd>
          <dt>Last activity</dt>
          <dd>{timeAgo(status.lastActivityAt, now)}</dd>
          <dt>Last backup</dt>
          <dd data-testid="agent-last-backup">
            {timeAgo(status.lastBackupAt, now)}
            {status.lastBackupBytes ? ` · ${bytes(status.lastBackupBytes)}` : ""}
          </dd>
          {status.nextWakeAt ? (
            <>
              <dt>Next scheduled wake</dt>
              <dd>
                {timeAgo(status.nextWakeAt, now)}
                {status.nextWakeJob ? ` · ${status.nextWakeJob}` : ""}
              </dd>
            </>
          ) : null}
          {status.lastError ? (
            <>
              <dt>Last error</dt>
              <dd className="error-text">{status.lastError}</dd>
            </>
          ) : null}
        </dl>
      ) : error ? null : (
        <p>Loading…</p>
      )}
      <div className="button-row">
        {state === "idle" ? (
          <button
            type="button"
            className="button"
            onClick={() => act("start")}
            disabled={pending !== null}
            data-testid="agent-start"
          >
            Wake up
          </button>
        ) : null}
        <button
          type="button"
          className="button secondary"
          onClick={() => act("backup")}
          disabled={pending !== null || state !== "running"}
          data-testid="agent-backup"
        >
          {pending === "backup" ? "Backing up…" : "Back up now"}
        </button>
        <button
          type="button"
          className="button secondary"
          onClick={() => act("restart")}
          disabled={pending !== null || state === "idle" || state === undefined}
          data-testid="agent-restart"
        >
          Restart
        </button>
        <button
          type="button"
          className="button danger"
          onClick={() => act("stop")}
          disabled={pending !== null || state === "idle" || state === "stopping" || !state}
          data-testid="agent-stop"
        >
          Stop
        </button>
      </div>
      <p role="status" aria-live="polite" className="muted">
        {notice ?? ""}
      </p>
      {error ? (
        <p className="notice warn" role="alert" data-testid="agent-error">
          {error}
        </p>
      ) : null}
    </section>
  );
}
