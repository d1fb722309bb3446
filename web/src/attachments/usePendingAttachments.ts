/**
 * The files chosen for the next message: checked against the limits at once, uploaded at
 * once (so that sending is quick), shown with a preview, and forgotten after the send.
 */
import { useCallback, useEffect, useRef, useState } from "react";
import type { Attachment } from "../generated/contracts";
import { type AttachmentKind, checkFile, checkMessage } from "./rules";
import type { Uploader } from "./upload";

export interface PendingAttachment {
  key: string;
  name: string;
  size: number;
  kind: AttachmentKind;
  /** An object URL of a picked image, for its preview. */
  preview?: string;
  status: "uploading" | "ready" | "failed";
  attachment?: Attachment;
  error?: string;
}

let counter = 0;

export function usePendingAttachments(uploader: Uploader | undefined) {
  const [items, setItems] = useState<PendingAttachment[]>([]);
  const [errors, setErrors] = useState<string[]>([]);
  const itemsRef = useRef(items);
  itemsRef.current = items;

  const update = useCallback((key: string, change: Partial<PendingAttachment>) => {
    setItems((list) => list.map((item) => (item.key === key ? { ...item, ...change } : item)));
  }, []);

  const add = useCallback(
    (files: File[]) => {
      if (!uploader || files.length === 0) return;
      const refused: string[] = [];
      const added: PendingAttachment[] = [];
      const current = itemsRef.current.filter((item) => item.status !== "failed");
      let count = current.length;
      let total = current.reduce((sum, item) => sum + item.size, 0);
      for (const file of files) {
        const checked = checkFile(file);
        if (typeof checked === "string") {
          refused.push(checked);
          continue;
        }
        const tooMuch = checkMessage(count, total, file.size);
        if (tooMuch) {
          refused.push(`${file.name}: ${tooMuch}`);
          continue;
        }
        count += 1;
        total += file.size;
        const key = `pending-${++counter}`;
        const item: PendingAttachment = {
          key,
          name: file.name,
          size: file.size,
          kind: checked.kind,
          status: "uploading",
          ...(checked.kind === "image" && typeof URL.createObjectURL === "function"
            ? { preview: URL.createObjectURL(file) }
            : {}),
        };
        added.push(item);
        uploader
          .upload(file, checked.contentType)
          .then((attachment) => update(key, { status: "ready", attachment }))
          .catch((error: unknown) =>
            update(key, {
              status: "failed",
              error: error instanceof Error ? error.message : String(error),
            }),
          );
      }
      setErrors(refused);
      if (added.length) setItems((list) => [...list, ...added]);
    },
    [uploader, update],
  );

  const remove = useCallback((key: string) => {
    setItems((list) => {
      const gone = list.find((item) => item.key === key);
      if (gone?.preview) URL.revokeObjectURL(gone.preview);
      return list.filter((item) => item.key !== key);
    });
  }, []);

  const clear = useCallback(() => {
    for (const item of itemsRef.current) if (item.preview) URL.revokeObjectURL(item.preview);
    setItems([]);
    setErrors([]);
  }, []);

  useEffect(
    () => () => {
      for (const item of itemsRef.current) if (item.preview) URL.revokeObjectURL(item.preview);
    },
    [],
  );

  const uploading = items.some((item) => item.status === "uploading");
  const ready = items.filter((item) => item.status === "ready" && item.attachment);
  return {
    items,
    errors,
    add,
    remove,
    clear,
    dismissErrors: () => setErrors([]),
    uploading,
    attachments: ready.map((item) => item.attachment as Attachment),
    failed: items.some((item) => item.status === "failed"),
  };
}

export type PendingAttachments = ReturnType<typeof usePendingAttachments>;
