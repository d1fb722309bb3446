import { type FormEvent, useEffect, useState } from "react";
import type { ApiClient } from "../api/client";
import type { LlmPrice, UserSettings } from "../generated/contracts";
import { choices, defaults, maxLength, range } from "../lib/settingsSchema";

const PROVIDER_LABEL: Record<string, string> = {
  offline: "Offline model (built-in, for testing)",
  anthropic: "Anthropic",
  openai: "OpenAI",
  bedrock: "Amazon Bedrock",
  "openai-compatible": "OpenAI-compatible endpoint",
};

const HEARTBEAT_LABEL: Record<string, string> = {
  off: "Off",
  "active-hours": "During active hours",
  openclaw: "As OpenClaw schedules it",
};

const OVER_BUDGET_LABEL: Record<string, string> = {
  stop: "Stop chat too until it resets",
  continue: "Keep chatting",
};

const WAKES_LABEL: Record<string, string> = {
  "own-jobs": "For jobs I scheduled",
  "all-jobs": "For all scheduled jobs",
  none: "Never",
};

function NumberField(props: {
  id: string;
  label: string;
  name: keyof UserSettings;
  value: number;
  hint?: string;
  onChange: (value: number) => void;
}) {
  const { min, max } = range(props.name);
  return (
    <div className="field">
      <label htmlFor={props.id}>{props.label}</label>
      <input
        id={props.id}
        data-testid={props.id}
        type="number"
        inputMode="numeric"
        min={min}
        max={max}
        step={1}
        required
        value={Number.isFinite(props.value) ? props.value : ""}
        onChange={(e) => props.onChange(e.target.valueAsNumber)}
        aria-describedby={props.hint ? `${props.id}-hint` : undefined}
      />
      {props.hint ? (
        <small id={`${props.id}-hint`} className="hint">
          {props.hint}
        </small>
      ) : null}
    </div>
  );
}

/** A dollar amount that may be left empty (no limit). */
function MoneyField(props: {
  id: string;
  label: string;
  name: keyof UserSettings;
  value: number | null | undefined;
  hint?: string;
  onChange: (value: number | null) => void;
}) {
  const { min, max } = range(props.name);
  return (
    <div className="field">
      <label htmlFor={props.id}>{props.label}</label>
      <input
        id={props.id}
        data-testid={props.id}
        type="number"
        inputMode="decimal"
        min={min}
        max={max}
        step={0.01}
        placeholder="no limit"
        value={props.value ?? ""}
        onChange={(e) => props.onChange(e.target.value === "" ? null : e.target.valueAsNumber)}
        aria-describedby={props.hint ? `${props.id}-hint` : undefined}
      />
      {props.hint ? (
        <small id={`${props.id}-hint`} className="hint">
          {props.hint}
        </small>
      ) : null}
    </div>
  );
}

interface PriceDraft {
  model: string;
  input: string;
  output: string;
}

function toDrafts(prices: UserSettings["llmPrices"]): PriceDraft[] {
  return Object.entries(prices ?? {}).map(([model, p]) => ({
    model,
    input: String(p?.inputUsdPerMtok ?? ""),
    output: String(p?.outputUsdPerMtok ?? ""),
  }));
}

function fromDrafts(drafts: PriceDraft[], before: UserSettings["llmPrices"]): Record<string, LlmPrice> {
  const out: Record<string, LlmPrice> = {};
  for (const d of drafts) {
    const model = d.model.trim();
    if (!model) continue;
    const kept = before?.[model];
    out[model] = {
      ...(kept ?? {}),
      inputUsdPerMtok: Number(d.input),
      outputUsdPerMtok: Number(d.output),
    };
  }
  return out;
}

function PriceOverrides(props: { drafts: PriceDraft[]; onChange: (drafts: PriceDraft[]) => void }) {
  const { drafts, onChange } = props;
  const edit = (i: number, change: Partial<PriceDraft>) =>
    onChange(drafts.map((d, j) => (j === i ? { ...d, ...change } : d)));
  return (
    <div className="field" data-testid="settings-prices">
      <span className="label">Your prices (USD per million tokens)</span>
      {drafts.map((d, i) => (
        <div className="field-row" key={i}>
          <input
            aria-label="Model (provider/model)"
            data-testid={`settings-price-model-${i}`}
            placeholder="anthropic/claude-sonnet-5"
            value={d.model}
            onChange={(e) => edit(i, { model: e.target.value })}
          />
          <input
            aria-label="Input price"
            data-testid={`settings-price-input-${i}`}
            type="number"
            min={0}
            step="any"
            required
            value={d.input}
            onChange={(e) => edit(i, { input: e.target.value })}
          />
          <input
            aria-label="Output price"
            data-testid={`settings-price-output-${i}`}
            type="number"
            min={0}
            step="any"
            required
            value={d.output}
            onChange={(e) => edit(i, { output: e.target.value })}
          />
          <button
            type="button"
            className="button secondary small"
            onClick={() => onChange(drafts.filter((_, j) => j !== i))}
          >
            Remove
          </button>
        </div>
      ))}
      <button
        type="button"
        className="button secondary small"
        data-testid="settings-price-add"
        onClick={() => onChange([...drafts, { model: "", input: "", output: "" }])}
      >
        Add a price
      </button>
      <small className="hint">
        Overrides the built-in price of a model (listed on the Agent page), or prices one it does
        not know. Cache reads and writes are charged at the input price unless set through the API.
      </small>
    </div>
  );
}

function SelectField(props: {
  id: string;
  label: string;
  value: string;
  options: Array<[string, string]>;
  onChange: (value: string) => void;
}) {
  return (
    <div className="field">
      <label htmlFor={props.id}>{props.label}</label>
      <select
        id={props.id}
        data-testid={props.id}
        value={props.value}
        onChange={(e) => props.onChange(e.target.value)}
      >
        {props.options.map(([value, label]) => (
          <option key={value} value={value}>
            {label}
          </option>
        ))}
      </select>
    </div>
  );
}

export function SettingsPanel({ api }: { api: ApiClient }) {
  const [settings, setSettings] = useState<UserSettings | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const [saving, setSaving] = useState(false);
  const [prices, setPrices] = useState<PriceDraft[]>([]);

  useEffect(() => {
    let live = true;
    api
      .getSettings()
      .then((s) => {
        if (!live) return;
        setSettings({ ...defaults(), ...s });
        setPrices(toDrafts(s.llmPrices));
      })
      .catch((e: unknown) => live && setError(e instanceof Error ? e.message : String(e)));
    return () => {
      live = false;
    };
  }, [api]);

  if (!settings) {
    return (
      <section className="panel" aria-labelledby="settings-title">
        <h2 id="settings-title">Settings</h2>
        {error ? (
          <p className="notice warn" role="alert">
            {error}
          </p>
        ) : (
          <p>Loading…</p>
        )}
      </section>
    );
  }

  const set = <K extends keyof UserSettings>(key: K, value: UserSettings[K]) => {
    setSaved(false);
    setSettings({ ...settings, [key]: value });
  };

  const save = async (event: FormEvent) => {
    event.preventDefault();
    setSaving(true);
    setError(null);
    try {
      const stored = await api.putSettings({
        ...settings,
        modelId: settings.modelId?.trim() ? settings.modelId.trim() : null,
        llmPrices: fromDrafts(prices, settings.llmPrices),
      });
      setSettings({ ...defaults(), ...stored });
      setPrices(toDrafts(stored.llmPrices));
      setSaved(true);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setSaving(false);
    }
  };

  const providers: Array<[string, string]> = [
    ["", "Deployment default"],
    ...choices("modelProvider").map((p): [string, string] => [p, PROVIDER_LABEL[p] ?? p]),
  ];

  return (
    <section className="panel" aria-labelledby="settings-title">
      <h2 id="settings-title">Settings</h2>
      <form onSubmit={save} className="settings-form" data-testid="settings-form">
        <fieldset>
          <legend>Model</legend>
          <SelectField
            id="settings-model-provider"
            label="Provider"
            value={settings.modelProvider ?? ""}
            options={providers}
            onChange={(v) =>
              set("modelProvider", v === "" ? null : (v as UserSettings["modelProvider"]))
            }
          />
          <div className="field">
            <label htmlFor="settings-model-id">Model id</label>
            <input
              id="settings-model-id"
              data-testid="settings-model-id"
              value={settings.modelId ?? ""}
              maxLength={maxLength("modelId")}
              placeholder="the provider's default"
              onChange={(e) => set("modelId", e.target.value)}
            />
          </div>
        </fieldset>

        <fieldset>
          <legend>Sleep and wake</legend>
          <NumberField
            id="settings-idle-timeout"
            label="Sleep after this many idle minutes"
            name="idleTimeoutMinutes"
            value={settings.idleTimeoutMinutes}
            onChange={(v) => set("idleTimeoutMinutes", v)}
          />
          <div className="field checkbox">
            <input
              id="settings-wake-on-connect"
              data-testid="settings-wake-on-connect"
              type="checkbox"
              checked={settings.wakeOnConnect}
              onChange={(e) => set("wakeOnConnect", e.target.checked)}
            />
            <label htmlFor="settings-wake-on-connect">
              Wake the agent when I open this page
            </label>
          </div>
          <SelectField
            id="settings-heartbeat"
            label="Heartbeat (the agent checks in on its own)"
            value={settings.heartbeat}
            options={choices("heartbeat").map((h) => [h, HEARTBEAT_LABEL[h] ?? h])}
            onChange={(v) => set("heartbeat", v as UserSettings["heartbeat"])}
          />
          <div className="field-row">
            <NumberField
              id="settings-active-hours-start"
              label="Active from (hour)"
              name="activeHoursStart"
              value={settings.activeHoursStart}
              onChange={(v) => set("activeHoursStart", v)}
            />
            <NumberField
              id="settings-active-hours-end"
              label="until (hour)"
              name="activeHoursEnd"
              value={settings.activeHoursEnd}
              onChange={(v) => set("activeHoursEnd", v)}
            />
          </div>
          <div className="field">
            <label htmlFor="settings-timezone">Time zone</label>
            <input
              id="settings-timezone"
              data-testid="settings-timezone"
              value={settings.timezone}
              maxLength={maxLength("timezone")}
              list="timezones"
              onChange={(e) => set("timezone", e.target.value)}
            />
            <datalist id="timezones">
              <option value={Intl.DateTimeFormat().resolvedOptions().timeZone} />
              <option value="UTC" />
            </datalist>
          </div>
        </fieldset>

        <fieldset>
          <legend>Scheduled wakes</legend>
          <SelectField
            id="settings-scheduled-wakes"
            label="Wake for scheduled jobs"
            value={settings.scheduledWakes}
            options={choices("scheduledWakes").map((w) => [w, WAKES_LABEL[w] ?? w])}
            onChange={(v) => set("scheduledWakes", v as UserSettings["scheduledWakes"])}
          />
          <NumberField
            id="settings-wake-lead"
            label="Wake this many seconds early"
            name="wakeLeadSeconds"
            value={settings.wakeLeadSeconds}
            onChange={(v) => set("wakeLeadSeconds", v)}
          />
          <NumberField
            id="settings-max-wakes"
            label="At most this many scheduled wakes a day"
            name="maxScheduledWakesPerDay"
            value={settings.maxScheduledWakesPerDay}
            onChange={(v) => set("maxScheduledWakesPerDay", v)}
          />
        </fieldset>

        <fieldset>
          <legend>Spending</legend>
          <MoneyField
            id="settings-daily-budget"
            label="Daily LLM budget (USD, UTC day)"
            name="dailyBudgetUsd"
            value={settings.dailyBudgetUsd}
            onChange={(v) => set("dailyBudgetUsd", v)}
          />
          <MoneyField
            id="settings-monthly-budget"
            label="Monthly LLM budget (USD)"
            name="monthlyBudgetUsd"
            value={settings.monthlyBudgetUsd}
            hint="When a budget is reached, automations and heartbeats pause until it resets and you are told on the web and in Telegram."
            onChange={(v) => set("monthlyBudgetUsd", v)}
          />
          <SelectField
            id="settings-chat-over-budget"
            label="When a budget is reached"
            value={settings.chatOverBudget}
            options={choices("chatOverBudget").map((c) => [c, OVER_BUDGET_LABEL[c] ?? c])}
            onChange={(v) => set("chatOverBudget", v as UserSettings["chatOverBudget"])}
          />
          <PriceOverrides
            drafts={prices}
            onChange={(next) => {
              setSaved(false);
              setPrices(next);
            }}
          />
        </fieldset>

        <div className="form-actions">
          <button type="submit" className="button" disabled={saving} data-testid="settings-save">
            {saving ? "Saving…" : "Save"}
          </button>
          <span role="status" aria-live="polite" data-testid="settings-status">
            {saved ? "Saved." : ""}
          </span>
        </div>
        {error ? (
          <p className="notice warn" role="alert" data-testid="settings-error">
            {error}
          </p>
        ) : null}
      </form>
    </section>
  );
}
