// @vitest-environment jsdom
import { act, cleanup, render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiClient } from "../../api/client";
import { AgentPanel } from "../AgentPanel";
import { ConversationList } from "../ConversationList";
import { SettingsPanel } from "../SettingsPanel";
import { TelegramPanel } from "../TelegramPanel";

afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

type Handler = (method: string, path: string, body: unknown) => [number, unknown];

/** An ApiClient over a fake fetch that answers like the documented API. */
function api(handler: Handler) {
  const calls: Array<[string, string, unknown]> = [];
  const fetchFn = (async (url: string, init: RequestInit) => {
    const path = new URL(url).pathname;
    const body = init.body ? JSON.parse(String(init.body)) : undefined;
    calls.push([init.method ?? "GET", path, body]);
    const [status, payload] = handler(init.method ?? "GET", path, body);
    return new Response(payload === undefined ? null : JSON.stringify(payload), { status });
  }) as unknown as typeof fetch;
  return { client: new ApiClient({ baseUrl: "https://api.test", getToken: async () => "t", fetchFn }), calls };
}

const SETTINGS = {
  modelProvider: null,
  modelId: null,
  idleTimeoutMinutes: 15,
  wakeOnConnect: true,
  heartbeat: "off",
  activeHoursStart: 8,
  activeHoursEnd: 22,
  timezone: "UTC",
  scheduledWakes: "own-jobs",
  wakeLeadSeconds: 120,
  maxScheduledWakesPerDay: 12,
};

describe("SettingsPanel", () => {
  it("loads the settings, applies the schema's limits, and saves changes", async () => {
    const { client, calls } = api((method, _path, body) =>
      method === "PUT" ? [200, { ...SETTINGS, ...(body as object) }] : [200, SETTINGS],
    );
    const user = userEvent.setup();
    render(<SettingsPanel api={client} />);
    const idle = await screen.findByTestId("settings-idle-timeout");
    expect(idle.getAttribute("min")).toBe("1");
    expect(idle.getAttribute("max")).toBe("1440");
    const provider = screen.getByLabelText("Provider") as HTMLSelectElement;
    expect([...provider.options].map((o) => o.value)).toEqual([
      "",
      "offline",
      "anthropic",
      "openai",
      "bedrock",
      "openai-compatible",
    ]);

    await user.selectOptions(provider, "anthropic");
    await user.clear(idle);
    await user.type(idle, "45");
    await user.click(screen.getByTestId("settings-wake-on-connect"));
    await user.click(screen.getByTestId("settings-save"));
    expect(await screen.findByText("Saved.")).toBeTruthy();
    const put = calls.find(([m]) => m === "PUT");
    expect(put?.[1]).toBe("/api/settings");
    expect(put?.[2]).toMatchObject({
      modelProvider: "anthropic",
      modelId: null,
      idleTimeoutMinutes: 45,
      wakeOnConnect: false,
    });
  });

  it("sets budgets, what chat does over budget, and a price of my own", async () => {
    const { client, calls } = api((method, _path, body) =>
      method === "PUT" ? [200, { ...SETTINGS, ...(body as object) }] : [200, SETTINGS],
    );
    const user = userEvent.setup();
    render(<SettingsPanel api={client} />);
    const daily = await screen.findByTestId("settings-daily-budget");
    expect(daily.getAttribute("min")).toBe("0");
    await user.type(daily, "2.5");
    await user.selectOptions(screen.getByTestId("settings-chat-over-budget"), "continue");
    await user.click(screen.getByTestId("settings-price-add"));
    await user.type(screen.getByTestId("settings-price-model-0"), "custom/my-model");
    await user.type(screen.getByTestId("settings-price-input-0"), "0.5");
    await user.type(screen.getByTestId("settings-price-output-0"), "1.5");
    await user.click(screen.getByTestId("settings-save"));
    expect(await screen.findByText("Saved.")).toBeTruthy();
    const put = calls.find(([m]) => m === "PUT");
    expect(put?.[2]).toMatchObject({
      dailyBudgetUsd: 2.5,
      monthlyBudgetUsd: null,
      chatOverBudget: "continue",
      llmPrices: { "custom/my-model": { inputUsdPerMtok: 0.5, outputUsdPerMtok: 1.5 } },
    });
    // What the server stored comes back into the form.
    expect((screen.getByTestId("settings-price-model-0") as HTMLInputElement).value).toBe("custom/my-model");

    // Clearing a budget means no limit (null), not 0 (which pauses everything).
    await user.clear(screen.getByTestId("settings-daily-budget"));
    await user.click(screen.getByTestId("settings-save"));
    await waitFor(() => expect(calls.filter(([m]) => m === "PUT")).toHaveLength(2));
    expect(calls.filter(([m]) => m === "PUT")[1]?.[2]).toMatchObject({ dailyBudgetUsd: null });
  });

  it("shows the server's refusal", async () => {
    const { client } = api((method) =>
      method === "PUT"
        ? [422, { error: { code: "invalid_request", message: "idleTimeoutMinutes too large" } }]
        : [200, SETTINGS],
    );
    const user = userEvent.setup();
    render(<SettingsPanel api={client} />);
    await user.click(await screen.findByTestId("settings-save"));
    expect((await screen.findByTestId("settings-error")).textContent).toContain("too large");
  });
});

describe("TelegramPanel", () => {
  it("shows a pairing code with a countdown, then the linked chat, and unlinks", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    let linked = false;
    const { client, calls } = api((method, path) => {
      if (path === "/api/telegram/pairing-code") {
        return [201, { code: "ABC123", expiresAt: new Date(Date.now() + 600_000).toISOString() }];
      }
      if (method === "DELETE") {
        linked = false;
        return [204, undefined];
      }
      return linked
        ? [200, { chatId: 42, username: "alice", linkedAt: new Date().toISOString() }]
        : [200, null];
    });
    const user = userEvent.setup({ advanceTimers: vi.advanceTimersByTime });
    render(<TelegramPanel api={client} />);
    await user.click(await screen.findByTestId("telegram-pair"));
    expect((await screen.findByTestId("pairing-code")).textContent).toBe("/pair ABC123");
    expect(screen.getByTestId("pairing-countdown").textContent).toBe("10:00");
    await act(async () => {
      await vi.advanceTimersByTimeAsync(2000);
    });
    expect(screen.getByTestId("pairing-countdown").textContent).toBe("9:58");

    linked = true; // the person sent /pair ABC123 to the bot
    await act(async () => {
      await vi.advanceTimersByTimeAsync(3000);
    });
    expect((await screen.findByTestId("telegram-chat")).textContent).toBe("@alice");
    expect(screen.queryByTestId("pairing-code")).toBeNull();

    await user.click(screen.getByTestId("telegram-unlink"));
    await screen.findByTestId("telegram-pair");
    expect(calls.some(([m, p]) => m === "DELETE" && p === "/api/telegram")).toBe(true);
  });
});

const USAGE = {
  today: { period: "2026-11-30", tokens: 12_345, costUsd: 0.75, unpricedTokens: 0, budgetUsd: 1, resetsAt: "2026-12-01T00:00:00Z" },
  thisMonth: { period: "2026-11", tokens: 1_234_567, costUsd: 20.5, unpricedTokens: 500, budgetUsd: null, resetsAt: "2026-12-01T00:00:00Z" },
  budgetReached: null,
  pausedUntil: null,
  chatOverBudget: "stop",
  prices: [
    {
      model: "anthropic/claude-sonnet-5",
      inputUsdPerMtok: 2,
      outputUsdPerMtok: 10,
      cacheReadUsdPerMtok: 0.2,
      cacheWriteUsdPerMtok: 2.5,
      source: "OpenClaw 2026.9.6's model catalogue (anthropic plugin)",
      asOf: "2026-09-06",
      overridden: false,
    },
  ],
};

describe("AgentPanel spending", () => {
  it("shows today's and this month's spend against the budget", async () => {
    const { client } = api((_method, path) => (path === "/api/usage" ? [200, USAGE] : [200, { state: "idle" }]));
    render(<AgentPanel api={client} liveState="idle" onState={vi.fn()} />);
    const today = await screen.findByTestId("spend-today");
    expect(today.textContent).toContain("$0.75 of $1.00");
    expect(today.textContent).toContain("12,345 tokens");
    expect(screen.getByRole("meter", { name: "Today (UTC) against the budget" }).getAttribute("aria-valuenow")).toBe("75");
    const month = screen.getByTestId("spend-month");
    expect(month.textContent).toContain("$20.50");
    expect(month.textContent).toContain("500 without a price");
    expect(screen.queryByTestId("budget-reached")).toBeNull();
    expect(screen.getByTestId("price-table").textContent).toContain("anthropic/claude-sonnet-5");
  });

  it("says what is paused once a budget is reached", async () => {
    const reached = {
      ...USAGE,
      today: { ...USAGE.today, costUsd: 1.2 },
      budgetReached: "daily",
      pausedUntil: "2026-12-01T00:00:00Z",
    };
    const { client } = api((_method, path) => (path === "/api/usage" ? [200, reached] : [200, { state: "idle" }]));
    render(<AgentPanel api={client} liveState="idle" onState={vi.fn()} />);
    const notice = await screen.findByTestId("budget-reached");
    expect(notice.textContent).toContain("Today's budget is reached");
    expect(notice.textContent).toContain("and so is chat");
    expect(screen.getByRole("meter", { name: "Today (UTC) against the budget" }).getAttribute("aria-valuenow")).toBe("100");
  });
});

describe("AgentPanel", () => {
  it("shows state and backup, and explains a backup refused while asleep", async () => {
    const { client } = api((method, path) => {
      if (method === "POST" && path === "/api/agent/backup") {
        return [409, { error: { code: "not_running", message: "idle" } }];
      }
      if (path === "/api/usage") return [404, { error: { code: "not_found", message: "no such route" } }];
      return [200, { state: "running", startedAt: new Date(Date.now() - 90_000).toISOString(), lastBackupAt: null }];
    });
    const user = userEvent.setup();
    const onState = vi.fn();
    render(<AgentPanel api={client} liveState="running" onState={onState} />);
    expect((await screen.findByTestId("agent-state")).textContent).toBe("Running");
    expect(screen.getByTestId("agent-uptime").textContent).toMatch(/^1 min 3\d s$/);
    expect(screen.getByTestId("agent-last-backup").textContent).toBe("never");
    await user.click(screen.getByTestId("agent-backup"));
    expect((await screen.findByTestId("agent-error")).textContent).toContain("asleep");
  });

  it("stops the agent and reports the new state", async () => {
    const { client, calls } = api((method, path) =>
      path === "/api/usage"
        ? [200, USAGE]
        : method === "POST"
          ? [202, { state: "stopping" }]
          : [200, { state: "running" }],
    );
    const user = userEvent.setup();
    const onState = vi.fn();
    render(<AgentPanel api={client} liveState="running" onState={onState} />);
    await user.click(await screen.findByTestId("agent-stop"));
    await waitFor(() => expect(onState).toHaveBeenCalledWith("stopping", undefined));
    expect(calls.some(([m, p]) => m === "POST" && p === "/api/agent/stop")).toBe(true);
    expect(screen.getByTestId("agent-state").textContent).toBe("Going to sleep");
  });
});

describe("ConversationList", () => {
  it("asks before deleting, by keyboard too", async () => {
    const onDelete = vi.fn();
    const onOpen = vi.fn();
    const user = userEvent.setup();
    const now = new Date().toISOString();
    render(
      <ConversationList
        conversations={[
          { id: "main", title: "Main", createdAt: now, updatedAt: now },
          { id: "c-1", title: "Trip plans", createdAt: now, updatedAt: now },
        ]}
        current="main"
        unread={{ "c-1": 2 }}
        hasMore={false}
        error={null}
        onOpen={onOpen}
        onNew={() => undefined}
        onDelete={onDelete}
        onMore={() => undefined}
      />,
    );
    const items = screen.getAllByTestId("conversation-item");
    expect(items.map((i) => i.textContent)).toEqual([
      expect.stringContaining("Main"),
      expect.stringContaining("Trip plans"),
    ]);
    expect(screen.getByLabelText("2 new")).toBeTruthy();
    await user.click(screen.getByRole("button", { name: /^Trip plans/ }));
    expect(onOpen).toHaveBeenCalledWith("c-1");

    screen.getByRole("button", { name: "Delete conversation Trip plans" }).focus();
    await user.keyboard("{Enter}");
    expect(onDelete).not.toHaveBeenCalled();
    await user.click(screen.getByTestId("confirm-delete-conversation"));
    expect(onDelete).toHaveBeenCalledWith("c-1");
  });
});
