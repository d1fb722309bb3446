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

describe("AgentPanel", () => {
  it("shows state and backup, and explains a backup refused while asleep", async () => {
    const { client } = api((method, path) => {
      if (method === "POST" && path === "/api/agent/backup") {
        return [409, { error: { code: "not_running", message: "idle" } }];
      }
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
    const { client, calls } = api((method) =>
      method === "POST" ? [202, { state: "stopping" }] : [200, { state: "running" }],
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
