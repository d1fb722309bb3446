/**
 * Attachments on screen: the tray of files chosen for the next message (with previews and a
 * remove button each), and the attachments of a sent message — images as thumbnails that
 * open the full picture, other files as download links.
 */
import { useEffect, useState } from "react";
import type { Attachment } from "../generated/contracts";
import { bytes, duration } from "../lib/format";
import type { PendingAttachment } from "./usePendingAttachments";
import type { Uploader } from "./upload";

const ICONS = { image: "🖼️", file: "📄", audio: "🎙️" } as const;

export function PendingTray({
  items,
  errors,
  onRemove,
}: {
  items: PendingAttachment[];
  errors: string[];
  onRemove: (key: string) => void;
}) {
  if (items.length === 0 && errors.length === 0) return null;
  return (
    <div className="attachment-tray">
      {items.length ? (
        <ul className="attachment-list" aria-label="Attached files" data-testid="pending-attachments">
          {items.map((item) => (
            <li
              key={item.key}
              className={`attachment-chip status-${item.status}`}
              data-testid="pending-attachment"
              data-status={item.status}
            >
              {item.preview ? (
                <img className="attachment-preview" src={item.preview} alt={`Preview of ${item.name}`} />
              ) : (
                <span className="attachment-icon" aria-hidden="true">
                  {ICONS[item.kind]}
                </span>
              )}
              <span className="attachment-name">{item.name}</span>
              <span className="attachment-size">{bytes(item.size)}</span>
              {item.status === "uploading" ? <span className="attachment-state">uploading…</span> : null}
              {item.status === "failed" ? (
                <span className="attachment-state field-error" role="alert">
                  {item.error}
                </span>
              ) : null}
              <button
                type="button"
                className="button secondary small"
                aria-label={`Remove ${item.name}`}
                onClick={() => onRemove(item.key)}
              >
                ×
              </button>
            </li>
          ))}
        </ul>
      ) : null}
      {errors.map((error) => (
        <p key={error} className="field-error" role="alert" data-testid="attachment-error">
          {error}
        </p>
      ))}
    </div>
  );
}

function Thumbnail({ attachment, uploader }: { attachment: Attachment; uploader: Uploader }) {
  const [url, setUrl] = useState<string | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let live = true;
    uploader
      .link(attachment.id)
      .then((found) => live && setUrl(found))
      .catch(() => live && setFailed(true));
    return () => {
      live = false;
    };
  }, [attachment.id, uploader]);
  if (failed) return <span className="attachment-missing">{attachment.name} (not available)</span>;
  if (!url) return <span className="attachment-thumb loading" aria-label={`Loading ${attachment.name}`} />;
  return (
    <a href={url} target="_blank" rel="noopener noreferrer" title={`Open ${attachment.name}`}>
      <img className="attachment-thumb" src={url} alt={attachment.name} data-testid="attachment-thumbnail" />
    </a>
  );
}

function Download({ attachment, uploader }: { attachment: Attachment; uploader: Uploader }) {
  const [error, setError] = useState<string | null>(null);
  const open = async () => {
    setError(null);
    try {
      const url = await uploader.link(attachment.id);
      const anchor = document.createElement("a");
      anchor.href = url;
      anchor.download = attachment.name;
      anchor.rel = "noopener";
      document.body.append(anchor);
      anchor.click();
      anchor.remove();
    } catch {
      setError("not available");
    }
  };
  const length = attachment.durationMs ? `, ${duration(attachment.durationMs)}` : "";
  return (
    <button
      type="button"
      className="attachment-download"
      data-testid="attachment-download"
      onClick={() => void open()}
      title={`Download ${attachment.name}`}
    >
      <span aria-hidden="true">{ICONS[attachment.kind]}</span> {attachment.name}{" "}
      <span className="attachment-size">
        ({bytes(attachment.size)}
        {length})
      </span>
      {error ? <span className="field-error"> {error}</span> : null}
    </button>
  );
}

export function MessageAttachments({
  attachments,
  uploader,
}: {
  attachments: Attachment[];
  uploader: Uploader | undefined;
}) {
  if (attachments.length === 0) return null;
  return (
    <ul className="message-attachments" aria-label="Attachments" data-testid="message-attachments">
      {attachments.map((attachment) => (
        <li key={attachment.id} data-kind={attachment.kind}>
          {!uploader ? (
            <span>
              {ICONS[attachment.kind]} {attachment.name}
            </span>
          ) : attachment.kind === "image" ? (
            <Thumbnail attachment={attachment} uploader={uploader} />
          ) : (
            <Download attachment={attachment} uploader={uploader} />
          )}
        </li>
      ))}
    </ul>
  );
}
