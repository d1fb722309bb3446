import { useCallback, useEffect, useState } from "react";
import { ApiError, type ApiClient } from "../api/client";
import type { AgentState } from "../chat/reducer";
import type { AgentStatus, SpendPeriod, UsageSummary } from "../generated/contracts";
import { bytes, duration, timeAgo, tokens, usd } from "../lib/format";

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

function SpendRow({ label, period, testId }: { label: string; period: SpendPeriod; testId: string }) {
  const budget = period.budgetUsd ?? null;
  const share = budget !== null && budget > 0 ? Math.min(1, period.costUsd / budget) : budget === 0 ? 1 : null;
  return (
    <>
      <dt>{label}</dt>
      <dd data-testid={testId}>
        <span data-testid={`${testId}-cost`}>{usd(period.costUsd)}</span>
        {budget !== null ? ` of ${usd(budget)}` : ""} · {tokens(period.tokens)} tokens
        {period.unpricedTokens ? ` (${tokens(period.unpricedTokens)} without a price)` : ""}
        {share !== null ? (
          <div
            className={`spend-bar${share >= 1 ? " over" : ""}`}
            role="meter"
            aria-label={`${label} against the budget`}
            aria-valuemin={0}
            aria-valuemax={100}
            aria-valuenow={Math.round(share * 100)}
          >
            <span style={{ width: `${share * 100}%` }} />
          </div>
        ) : null}
      </dd>
    </>
  );
}

function Spending({ usage }: { usage: UsageSummary }) {
  return (
    <div data-testid="agent-spending">
      <h3>LLM spending (estimated)</h3>
      <dl className="facts">
        <SpendRow label="Today (UTC)" period={usage.today} testId="spend-today" />
        <SpendRow label="This month" period={usage.thisMonth} testId="spend-month" />
      </dl>
      {usage.budgetReached && usage.pausedUntil ? (
        <p className="notice warn" role="status" data-testid="budget-reached">
          {usage.budgetReached === "daily" ? "Today's" : "This month's"} budget is reached:
          automations and heartbeats are paused until {new Date(usage.pausedUntil).toLocaleString()}
          {usage.chatOverBudget === "stop" ? ", and so is chat." : "; chat continues."}
        </p>
      ) : null}
      <details>
        <summary>Prices used (USD per million tokens)</summary>
        <table className="prices" data-testid="price-table">
          <thead>
            <tr>
              <th scope="col">Model</th>
              <th scope="col">In</th>
              <th scope="col">Out</th>
              <th scope="col">Cache read</th>
              <th scope="col">Source</th>
            </tr>
          </thead>
          <tbody>
            {usage.prices.map((row) => (
              <tr key={row.model}>
                <td>{row.model}</td>
                <td>{row.inputUsdPerMtok}</td>
                <td>{row.outputUsdPerMtok}</td>
                <td>{row.cacheReadUsdPerMtok}</td>
                <td className="muted">
                  {row.source}
                  {row.asOf ? `, ${row.asOf}` : ""}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <p className="muted">
          Estimates from the tokens the model reported; your provider's invoice is what counts.
          Set your own prices and budgets in Settings.
        </p>
      </details>
    </div>
  );
}

export function AgentPanel({ api, liveState, onState }: Props) {
  const [status, setStatus] = useState<AgentStatus | null>(null);
  const [usage, setUsage] = useState<UsageSummary | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [pending, setPending] = useState<string | null>(null);
  const [now, setNow] = useState(() => Date.now());

  const load = useCallback(async () => {
    const [s, u] = await Promise.all([api.getAgent(), api.getUsage().catch(() => null)]);
    setStatus(s);
    setUsage(u);
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
      {usage ? <Spending usage={usage} /> : null}
    </section>
  );
}
