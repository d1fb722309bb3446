// @vitest-environment jsdom
import { cleanup, render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ChatMessage } from "../../chat/reducer";
import { ChatView } from "../ChatView";

afterEach(cleanup);

const message = (over: Partial<ChatMessage>): ChatMessage => ({
  key: `${over.role ?? "user"}:${over.id ?? "m1"}`,
  id: "m1",
  conversationId: "main",
  role: "user",
  text: "hi",
  status: "sent",
  createdAt: "2026-01-01T00:00:00Z",
  proactive: false,
  ...over,
});

function setup(props: Partial<Parameters<typeof ChatView>[0]> = {}) {
  const onSend = vi.fn();
  const onStop = vi.fn();
  render(
    <ChatView
      title="Main"
      messages={[]}
      loading={false}
      busy={false}
      historyError={null}
      onSend={onSend}
      onStop={onStop}
      {...props}
    />,
  );
  return { onSend, onStop, user: userEvent.setup() };
}

describe("ChatView", () => {
  it("sends with Enter, adds a line with Shift+Enter, and clears the box", async () => {
    const { onSend, user } = setup();
    const input = screen.getByLabelText("Message");
    await user.type(input, "first line{Shift>}{Enter}{/Shift}second{Enter}");
    expect(onSend).toHaveBeenCalledWith("first line\nsecond");
    expect(input).toHaveProperty("value", "");
  });

  it("does not send blank text", async () => {
    const { onSend, user } = setup();
    await user.type(screen.getByTestId("message-input"), "   {Enter}");
    expect(onSend).not.toHaveBeenCalled();
    expect(screen.getByTestId("send-button")).toHaveProperty("disabled", true);
  });

  it("offers Stop while a reply runs, by button and by Escape", async () => {
    const { onStop, user } = setup({ busy: true });
    await user.click(screen.getByRole("button", { name: "Stop" }));
    await user.type(screen.getByTestId("message-input"), "{Escape}");
    expect(onStop).toHaveBeenCalledTimes(2);
  });

  it("has no Stop button when nothing runs", () => {
    setup();
    expect(screen.queryByTestId("stop-button")).toBeNull();
  });

  it("refuses text over the size limit with a reason", async () => {
    const { onSend, user } = setup();
    const input = screen.getByTestId("message-input");
    await user.click(input);
    await user.paste("x".repeat(33 * 1024));
    expect(screen.getByText(/Too long/)).toBeTruthy();
    expect(screen.getByTestId("send-button")).toHaveProperty("disabled", true);
    await user.keyboard("{Enter}");
    expect(onSend).not.toHaveBeenCalled();
  });

  it("lists messages with their role, status and errors", () => {
    setup({
      messages: [
        message({ id: "m1", text: "hi", status: "queued" }),
        message({ id: "m1", role: "assistant", text: "**bold** reply", status: "done" }),
        message({
          id: "m2",
          text: "too much",
          status: "failed",
          error: { code: "quota_exceeded", message: "Slow down" },
        }),
      ],
    });
    const items = screen.getAllByTestId("message");
    expect(items.map((i) => i.dataset.role)).toEqual(["user", "assistant", "user"]);
    expect(items[0]?.textContent).toContain("sending…");
    expect(items[1]?.querySelector("strong")?.textContent).toBe("bold");
    expect(screen.getByRole("alert").textContent).toContain("Slow down");
  });
});

describe("ChatView errors", () => {
  it("offers to send an unanswered question again", async () => {
    const onRetry = vi.fn();
    const { user } = setup({
      onRetry,
      messages: [
        message({
          id: "m-000001",
          status: "failed",
          error: { code: "no_progress", message: "No answer yet.", retryable: true },
        }),
      ],
    });
    expect(screen.getByRole("alert").textContent).toContain("No answer yet.");
    await user.click(screen.getByRole("button", { name: "Send again" }));
    expect(onRetry).toHaveBeenCalledWith("m-000001");
  });

  it("offers no retry for a message the agent cannot take", () => {
    setup({
      onRetry: vi.fn(),
      messages: [
        message({ id: "m-000001" }),
        message({
          id: "m-000001",
          role: "assistant",
          status: "failed",
          text: "Not passed on.",
          error: { code: "rejected", message: "It contains a NUL character.", retryable: false },
        }),
      ],
    });
    expect(screen.getByRole("alert").textContent).toContain("NUL character");
    expect(screen.queryByRole("button", { name: "Send again" })).toBeNull();
  });
});
