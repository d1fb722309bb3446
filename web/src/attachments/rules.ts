/**
 * What may be attached, checked before anything is uploaded (the server checks again): the
 * same types, extensions and limits as `core/attachments.py`, the limits read from the
 * generated contracts.
 */
import {
  ATTACHMENT_AUDIO_TYPES,
  ATTACHMENT_FILE_TYPES,
  ATTACHMENT_IMAGE_TYPES,
  MAX_ATTACHMENTS,
  MAX_ATTACHMENTS_BYTES,
  MAX_FILE_BYTES,
  MAX_IMAGE_BYTES,
} from "../generated/contracts";

export type AttachmentKind = "image" | "file" | "audio";

const KINDS: Record<AttachmentKind, string[]> = {
  image: ATTACHMENT_IMAGE_TYPES.split(","),
  file: ATTACHMENT_FILE_TYPES.split(","),
  audio: ATTACHMENT_AUDIO_TYPES.split(","),
};

const MAX_BYTES: Record<AttachmentKind, number> = {
  image: MAX_IMAGE_BYTES,
  file: MAX_FILE_BYTES,
  audio: MAX_FILE_BYTES,
};

const BY_EXTENSION: Record<string, string> = {
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".pdf": "application/pdf",
  ".txt": "text/plain",
  ".text": "text/plain",
  ".log": "text/plain",
  ".md": "text/markdown",
  ".markdown": "text/markdown",
  ".csv": "text/csv",
  ".json": "application/json",
  ".ogg": "audio/ogg",
  ".oga": "audio/ogg",
  ".opus": "audio/ogg",
  ".mp3": "audio/mpeg",
  ".m4a": "audio/mp4",
  ".wav": "audio/wav",
  ".weba": "audio/webm",
};

const ALIASES: Record<string, string> = {
  "image/jpg": "image/jpeg",
  "image/pjpeg": "image/jpeg",
  "audio/x-wav": "audio/wav",
  "audio/wave": "audio/wav",
  "audio/vnd.wave": "audio/wav",
  "audio/mp3": "audio/mpeg",
  "audio/x-m4a": "audio/mp4",
  "audio/m4a": "audio/mp4",
  "audio/opus": "audio/ogg",
  "application/x-pdf": "application/pdf",
  "text/x-markdown": "text/markdown",
  "application/csv": "text/csv",
  "text/x-log": "text/plain",
};

/** For the file picker: every type and extension we take. */
export const ACCEPT = [...KINDS.image, ...KINDS.file, ...KINDS.audio, ...Object.keys(BY_EXTENSION)].join(",");

export function megabytes(size: number, up = false): string {
  if (size < 1024 * 1024) return `${Math.max(1, Math.round(size / 1024))} KB`;
  const tenths = (size * 10) / (1024 * 1024);
  const value = (up ? Math.ceil(tenths) : Math.round(tenths)) / 10;
  return Number.isInteger(value) ? `${value} MB` : `${value.toFixed(1)} MB`;
}

/** The limits in a sentence, shown beside the picker before anything is chosen. */
export const LIMITS_TEXT =
  `Up to ${MAX_ATTACHMENTS} files a message: images (PNG, JPEG, GIF, WebP) up to ` +
  `${megabytes(MAX_IMAGE_BYTES)}; PDF, text, Markdown, CSV, JSON and audio up to ` +
  `${megabytes(MAX_FILE_BYTES)}; ${megabytes(MAX_ATTACHMENTS_BYTES)} in all.`;

function extension(name: string): string {
  const dot = name.lastIndexOf(".");
  return dot < 0 ? "" : name.slice(dot).toLowerCase();
}

export function contentTypeOf(declared: string, name: string): string {
  let base = (declared.split(";")[0] ?? "").trim().toLowerCase();
  base = ALIASES[base] ?? base;
  if (base === "" || base === "application/octet-stream" || base === "binary/octet-stream") {
    return BY_EXTENSION[extension(name)] ?? (base || "application/octet-stream");
  }
  return base;
}

export function kindOf(contentType: string): AttachmentKind | null {
  for (const kind of ["image", "file", "audio"] as const) {
    if (KINDS[kind].includes(contentType)) return kind;
  }
  return null;
}

export interface Checked {
  contentType: string;
  kind: AttachmentKind;
}

/** Why `file` cannot be sent, or its type and kind. */
export function checkFile(file: { name: string; type: string; size: number }): Checked | string {
  const contentType = contentTypeOf(file.type, file.name);
  const kind = kindOf(contentType);
  if (kind === null) return `${file.name}: files of this type (${contentType}) cannot be sent.`;
  if (file.size <= 0) return `${file.name} is empty.`;
  if (file.size > MAX_BYTES[kind]) {
    return (
      `${file.name}: ${megabytes(file.size, true)} is over the ${megabytes(MAX_BYTES[kind])} ` +
      `limit for ${kind === "image" ? "images" : "files"}.`
    );
  }
  return { contentType, kind };
}

/** Why one more file of `size` bytes cannot join `count` files of `total` bytes, or null. */
export function checkMessage(count: number, total: number, size: number): string | null {
  if (count + 1 > MAX_ATTACHMENTS) return `At most ${MAX_ATTACHMENTS} files per message.`;
  if (total + size > MAX_ATTACHMENTS_BYTES) {
    return `A message may carry ${megabytes(MAX_ATTACHMENTS_BYTES)} of files in all.`;
  }
  return null;
}
