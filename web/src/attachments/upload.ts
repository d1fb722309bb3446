/**
 * An upload as docs/api.md describes it: ask the API for a form (POST /api/attachments),
 * then send the bytes straight to storage with it (S3 on AWS; the local stack serves the same
 * form on its own origin). The message that names the attachment is sent afterwards.
 */
import type { ApiClient } from "../api/client";
import type { Attachment } from "../generated/contracts";

export class UploadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UploadError";
  }
}

export interface Uploader {
  upload(file: File, contentType: string): Promise<Attachment>;
  link(id: string): Promise<string>;
}

export function apiUploader(api: ApiClient, fetchFn: typeof fetch = (i, o) => fetch(i, o)): Uploader {
  return {
    async upload(file, contentType) {
      const granted = await api.createUpload({ name: file.name, contentType, size: file.size });
      const form = new FormData();
      for (const [key, value] of Object.entries(granted.upload.fields)) {
        if (value !== undefined) form.append(key, value);
      }
      form.append("file", file, file.name);
      let response: Response;
      try {
        response = await fetchFn(granted.upload.url, { method: "POST", body: form });
      } catch {
        throw new UploadError(`${file.name} could not be uploaded (no connection).`);
      }
      if (!response.ok) {
        throw new UploadError(`${file.name} could not be uploaded (HTTP ${response.status}).`);
      }
      return granted.attachment;
    },
    async link(id) {
      return (await api.attachmentLink(id)).url;
    },
  };
}
