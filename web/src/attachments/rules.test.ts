import { describe, expect, it } from "vitest";
import { MAX_ATTACHMENTS, MAX_FILE_BYTES, MAX_IMAGE_BYTES } from "../generated/contracts";
import { ACCEPT, LIMITS_TEXT, checkFile, checkMessage, contentTypeOf, megabytes } from "./rules";

describe("attachment rules", () => {
  it("takes images, documents and audio, naming the type from the extension when needed", () => {
    expect(checkFile({ name: "cat.PNG", type: "image/png", size: 10 })).toEqual({
      contentType: "image/png",
      kind: "image",
    });
    expect(checkFile({ name: "notes.md", type: "", size: 10 })).toEqual({
      contentType: "text/markdown",
      kind: "file",
    });
    expect(checkFile({ name: "memo.wav", type: "audio/x-wav", size: 10 })).toEqual({
      contentType: "audio/wav",
      kind: "audio",
    });
    expect(contentTypeOf("image/jpg", "x")).toBe("image/jpeg");
  });

  it("says why a file cannot be sent, before it is uploaded", () => {
    expect(checkFile({ name: "page.svg", type: "image/svg+xml", size: 10 })).toBe(
      "page.svg: files of this type (image/svg+xml) cannot be sent.",
    );
    expect(checkFile({ name: "big.png", type: "image/png", size: MAX_IMAGE_BYTES + 1 })).toBe(
      "big.png: 5.1 MB is over the 5 MB limit for images.",
    );
    expect(checkFile({ name: "big.pdf", type: "application/pdf", size: MAX_FILE_BYTES + 1 })).toBe(
      "big.pdf: 10.1 MB is over the 10 MB limit for files.",
    );
    expect(checkFile({ name: "empty.txt", type: "text/plain", size: 0 })).toBe("empty.txt is empty.");
  });

  it("keeps a message within its count and total", () => {
    expect(checkMessage(MAX_ATTACHMENTS - 1, 0, 1)).toBeNull();
    expect(checkMessage(MAX_ATTACHMENTS, 0, 1)).toBe(`At most ${MAX_ATTACHMENTS} files per message.`);
    expect(checkMessage(1, 10 * 1024 * 1024, 6 * 1024 * 1024)).toBe(
      "A message may carry 15 MB of files in all.",
    );
  });

  it("tells the limits up front and offers only what is accepted", () => {
    expect(LIMITS_TEXT).toContain("images (PNG, JPEG, GIF, WebP) up to 5 MB");
    expect(LIMITS_TEXT).toContain("up to 10 MB");
    expect(ACCEPT.split(",")).toContain("application/pdf");
    expect(ACCEPT).not.toContain("svg");
    expect(megabytes(1500)).toBe("1 KB");
  });
});
