// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Uploader } from "../../attachments/upload";
import type { ChatMessage } from "../../chat/reducer";
import { type Attachment, MAX_IMAGE_BYTES } from "../../generated/contracts";
import { ChatView } from "../ChatView";

afterEach(cleanup);

function attachment(over: Partial<Attachment> = {}): Attachment {
  return {
    id: "att-000000000001",
    name: "cat.png",
    contentType: "image/png",
    size: 1234,
    kind: "image",
    ...over,
  };
}

function fakeUploader(options: { fail?: boolean; hold?: boolean } = {}) {
  const uploads: Array<{ name: string; contentType: string }> = [];
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  const uploader: Uploader = {
    async upload(file, contentType) {
      uploads.push({ name: file.name, contentType });
      if (options.hold) await held;
      if (options.fail) throw new Error(`${file.name} could not be uploaded (HTTP 403).`);
      return attachment({
        id: `att-${String(uploads.length).padStart(12, "0")}`,
        name: file.name,
        contentType,
        size: file.size,
        kind: contentType.startsWith("image/") ? "image" : "file",
      });
    },
    link: vi.fn(async (id: string) => `https://files.example/${id}`),
  };
  return { uploader, uploads, release: () => release() };
}

function setup(uploader: Uploader, messages: ChatMessage[] = []) {
  const onSend = vi.fn();
  render(
    <ChatView
      title="Main"
      messages={messages}
      loading={false}
      busy={false}
      historyError={null}
      onSend={onSend}
      onStop={vi.fn()}
      uploader={uploader}
    />,
  );
  return { onSend, user: userEvent.setup({ applyAccept: false }) };
}

const png = (name = "cat.png", size = 1234) =>
  new File([new Uint8Array(size)], name, { type: "image/png" });

describe("attaching files", () => {
  it("shows the limits before anything is picked", () => {
    setup(fakeUploader().uploader);
    expect(screen.getByTestId("attachment-limits").textContent).toContain("up to 5 MB");
    expect(screen.getByTestId("attach-button").getAttribute("title")).toContain("5 files");
  });

  it("uploads a picked file at once and sends its id with the text", async () => {
    const { uploader, uploads } = fakeUploader();
    const { onSend, user } = setup(uploader);
    await user.upload(screen.getByTestId("attachment-input"), [png(), new File(["# hi"], "notes.md")]);
    await waitFor(() =>
      expect(screen.getAllByTestId("pending-attachment").map((e) => e.dataset.status)).toEqual([
        "ready",
        "ready",
      ]),
    );
    expect(uploads).toEqual([
      { name: "cat.png", contentType: "image/png" },
      { name: "notes.md", contentType: "text/markdown" },
    ]);
    await user.type(screen.getByTestId("message-input"), "look{Enter}");
    expect(onSend).toHaveBeenCalledTimes(1);
    const [text, sent] = onSend.mock.calls[0] as [string, Attachment[]];
    expect(text).toBe("look");
    expect(sent.map((a) => a.name)).toEqual(["cat.png", "notes.md"]);
    expect(screen.queryByTestId("pending-attachment")).toBeNull();
  });

  it("sends files without text, but not while they are still uploading", async () => {
    const { uploader, release } = fakeUploader({ hold: true });
    const { onSend, user } = setup(uploader);
    await user.upload(screen.getByTestId("attachment-input"), png());
    expect(screen.getByTestId("send-button")).toHaveProperty("disabled", true);
    expect(screen.getByText("uploading…")).toBeTruthy();
    release();
    await waitFor(() => expect(screen.getByTestId("send-button")).toHaveProperty("disabled", false));
    await user.click(screen.getByTestId("send-button"));
    expect(onSend.mock.calls[0]?.[0]).toBe("");
  });

  it("refuses what it cannot send, with the reason, before uploading it", async () => {
    const { uploader, uploads } = fakeUploader();
    const { user } = setup(uploader);
    const big = png("huge.png", MAX_IMAGE_BYTES + 1);
    await user.upload(screen.getByTestId("attachment-input"), [
      big,
      new File(["<svg/>"], "logo.svg", { type: "image/svg+xml" }),
    ]);
    const errors = screen.getAllByTestId("attachment-error").map((e) => e.textContent);
    expect(errors).toEqual([
      "huge.png: 5.1 MB is over the 5 MB limit for images.",
      "logo.svg: files of this type (image/svg+xml) cannot be sent.",
    ]);
    expect(uploads).toEqual([]);
  });

  it("keeps a failed upload out of the message until it is removed", async () => {
    const { user, onSend } = setup(fakeUploader({ fail: true }).uploader);
    await user.upload(screen.getByTestId("attachment-input"), png());
    await waitFor(() => expect(screen.getByRole("alert").textContent).toContain("HTTP 403"));
    await user.type(screen.getByTestId("message-input"), "hi");
    expect(screen.getByTestId("send-button")).toHaveProperty("disabled", true);
    await user.click(screen.getByRole("button", { name: "Remove cat.png" }));
    await user.type(screen.getByTestId("message-input"), "{Enter}");
    expect(onSend).toHaveBeenCalledWith("hi");
  });

  it("takes files dropped on the conversation and pasted pictures", async () => {
    const { uploader, uploads } = fakeUploader();
    setup(uploader);
    const files = [png("dropped.png")];
    const dataTransfer = { files, types: ["Files"] };
    fireEvent.dragOver(screen.getByTestId("chat"), { dataTransfer });
    expect(screen.getByText("Drop files to attach them")).toBeTruthy();
    fireEvent.drop(screen.getByTestId("chat"), { dataTransfer });
    fireEvent.paste(screen.getByTestId("message-input"), {
      clipboardData: { files: [png("pasted.png")], getData: () => "" },
    });
    await waitFor(() => expect(uploads.map((u) => u.name)).toEqual(["dropped.png", "pasted.png"]));
    expect(screen.queryByText("Drop files to attach them")).toBeNull();
  });
});

describe("attachments in the conversation", () => {
  const sent = (attachments: Attachment[]): ChatMessage => ({
    key: "user:m1",
    id: "m1",
    conversationId: "main",
    role: "user",
    text: "",
    status: "sent",
    createdAt: "2026-01-01T00:00:00Z",
    proactive: false,
    attachments,
  });

  it("shows images as thumbnails and other files as downloads", async () => {
    const { uploader } = fakeUploader();
    setup(uploader, [
      sent([
        attachment(),
        attachment({ id: "att-000000000002", name: "report.pdf", contentType: "application/pdf", kind: "file", size: 2 * 1024 * 1024 }),
        attachment({ id: "att-000000000003", name: "voice.ogg", contentType: "audio/ogg", kind: "audio", durationMs: 7000, size: 300 }),
      ]),
    ]);
    const thumbnail = await screen.findByTestId("attachment-thumbnail");
    expect(thumbnail.getAttribute("src")).toBe("https://files.example/att-000000000001");
    expect(thumbnail.getAttribute("alt")).toBe("cat.png");
    const downloads = screen.getAllByTestId("attachment-download").map((e) => e.textContent);
    expect(downloads[0]).toContain("report.pdf");
    expect(downloads[0]).toContain("2.0 MB");
    expect(downloads[1]).toContain("voice.ogg");
    expect(downloads[1]).toContain("300 B");
    expect(downloads[1]).toContain("7 s");
  });

  it("fetches a download link only when asked", async () => {
    const { uploader } = fakeUploader();
    const { user } = setup(uploader, [
      sent([attachment({ id: "att-000000000002", name: "report.pdf", contentType: "application/pdf", kind: "file" })]),
    ]);
    expect(uploader.link).not.toHaveBeenCalled();
    const click = vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(() => {});
    await user.click(screen.getByTestId("attachment-download"));
    await waitFor(() => expect(click).toHaveBeenCalled());
    expect(uploader.link).toHaveBeenCalledWith("att-000000000002");
    click.mockRestore();
  });
});
