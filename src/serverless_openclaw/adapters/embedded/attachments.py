"""Attachments in the embedded blob store: `<root>/blobs/`, under the prefix
`agents/<user>/attachments/` (a folder of its own, apart from the backup's), one key for the
bytes and one for what they are (`<id>.meta`, JSON), both written atomically and durably.

The key that signs forms and links is `<root>/attachments.key` (made once, mode 0600): the
local stack and every agent task open the same root, and links must outlive a restart.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path
from typing import Final

from serverless_openclaw.adapters.embedded.blobs import DELETED, BlobDirectory, ensure_dir
from serverless_openclaw.adapters.signed_attachments import SignedAttachments
from serverless_openclaw.adapters.store_rules import Clock
from serverless_openclaw.core.errors import StorageUnavailable
from serverless_openclaw.ports.attachments import StoredAttachment, attachment_prefix

KEY_FILE: Final = "attachments.key"
_META: Final = ".meta"


class EmbeddedAttachmentObjects:
    def __init__(self, directory: BlobDirectory) -> None:
        self._dir = directory

    def write(self, user_id: str, attachment_id: str, data: bytes, meta: StoredAttachment) -> None:
        prefix = attachment_prefix(user_id)
        self._dir.put(prefix, attachment_id, data)
        body = json.dumps(
            {"name": meta.name, "contentType": meta.content_type, "size": meta.size}
        ).encode()
        self._dir.put(prefix, attachment_id + _META, body)  # last: it makes the bytes visible

    def _current(self, user_id: str, key: str) -> bytes | None:
        try:
            path = self._dir.open_version(attachment_prefix(user_id), key, None)
            return path.read_bytes()
        except StorageUnavailable:
            return None
        except FileNotFoundError:  # pruned while we read: a newer version was written
            return self._current(user_id, key)
        except OSError as exc:
            raise StorageUnavailable(f"attachments: could not read {key}: {exc}") from exc

    def meta(self, user_id: str, attachment_id: str) -> StoredAttachment | None:
        body = self._current(user_id, attachment_id + _META)
        if body is None:
            return None
        record = json.loads(body)
        return StoredAttachment(
            name=str(record["name"]),
            content_type=str(record["contentType"]),
            size=int(record["size"]),
        )

    def read(self, user_id: str, attachment_id: str) -> bytes | None:
        if self.meta(user_id, attachment_id) is None:
            return None
        return self._current(user_id, attachment_id)

    def remove(self, user_id: str, attachment_id: str) -> None:
        prefix = attachment_prefix(user_id)
        for key in (attachment_id + _META, attachment_id):
            versions = self._dir.versions(self._dir.key_dir(prefix, key))
            if versions and not versions[0].endswith(DELETED):
                self._dir.put(prefix, key, None)


def signing_key(root: Path) -> bytes:
    """The root's key, made on first use (two processes racing agree on the first file)."""
    path = root / KEY_FILE
    with contextlib.suppress(FileNotFoundError):
        return path.read_bytes()
    ensure_dir(root)
    tmp = root / f".{KEY_FILE}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_bytes(32))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # fails if another process made it first: theirs wins
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes()


def embedded_attachments(
    root: Path, directory: BlobDirectory, *, clock: Clock
) -> SignedAttachments:
    return SignedAttachments(
        EmbeddedAttachmentObjects(directory), secret=signing_key(root), clock=clock
    )
