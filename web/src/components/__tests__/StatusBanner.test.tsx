// @vitest-environment jsdom
import { act, cleanup, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ChatState } from "../../chat/reducer";
import type { ConnectionInfo } from "../../chat/socket";
import { StatusBanner } from "../StatusBanner";

const open: ConnectionInfo = { state: "open", attempt: 0 };

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

function banner(agent: ChatState["agent"], connection = open) {
  return <StatusBanner agent={agent} connection={connection} onRetry={() => undefined} />;
}

describe("StatusBanner", () => {
  it("shows a cold start as progress: phases and elapsed time, then ready", () => {
    const { rerender } = render(banner({ state: "idle", phase: null }));
    const el = screen.getByTestId("status-banner");
    expect(el.dataset.agent).toBe("idle");
    expect(el.textContent).toContain("asleep");

    rerender(banner({ state: "starting", phase: "Starting container" }));
    expect(el.textContent).toContain("Waking up");
    expect(el.textContent).toContain("Starting container");
    act(() => {
      vi.advanceTimersByTime(12_000);
    });
    expect(el.textContent).toContain("12 s");

    rerender(banner({ state: "starting", phase: "Restoring state" }));
    expect(screen.getByRole("list", { name: "Start-up steps" }).textContent).toContain(
      "Starting container",
    );
    expect(el.textContent).toContain("Restoring state");

    rerender(banner({ state: "running", phase: null }));
    expect(el.dataset.agent).toBe("running");
    expect(el.textContent).toContain("Agent ready");
  });

  it("says when the connection is lost and when it retries", () => {
    render(banner({ state: "running", phase: null }, {
      state: "waiting",
      attempt: 2,
      retryAt: Date.now() + 4000,
    }));
    const el = screen.getByTestId("status-banner");
    expect(el.dataset.connection).toBe("waiting");
    expect(el.textContent).toContain("Reconnecting");
    expect(el.textContent).toContain("4 s");
    expect(screen.getByRole("button", { name: "Retry now" })).toBeTruthy();
  });

  it("shows stopping", () => {
    render(banner({ state: "stopping", phase: null }));
    expect(screen.getByTestId("status-banner").textContent).toContain("going to sleep");
  });
});
