"""Files people send with their messages (pictures, documents, voice notes).

Kept under the person's own prefix beside the agent's backup — `agents/<user>/attachments/<id>`
in the state bucket, the same folder in the embedded blob store — never inside it: a backup
is the agent's state dir, these are the person's originals, listed in their messages.

Browsers upload and download the bytes directly (API Gateway and Lambda cannot carry them:
10 MB HTTP API bodies, 6 MB Lambda payloads, 128 KB WebSocket frames): the handlers hand out
a form that accepts exactly one attachment of one type and size, and short-lived links. On
AWS those are S3's presigned POST and GET, signed with the handler's own rights; locally the
API Gateway emulator serves the same form and links over the embedded store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Protocol

UPLOAD_EXPIRES: Final = timedelta(minutes=10)
LINK_EXPIRES: Final = timedelta(minutes=15)


def attachment_prefix(user_id: str) -> str:
    """Where a person's attachments are: inside their prefix, beside the backup's `files/`."""
    return f"agents/{user_id}/attachments/"


@dataclass(frozen=True)
class StoredAttachment:
    """What the store itself knows of an uploaded attachment (not what a client claimed)."""

    name: str
    content_type: str
    size: int


@dataclass(frozen=True)
class UploadGrant:
    """An HTML form POST: every field of `fields`, then the bytes as `file` (S3's presigned
    POST). `url` may be relative to the site (the local stack serves it on the same origin)."""

    url: str
    fields: dict[str, str]
    expires_at: datetime


class AttachmentStore(Protocol):
    """One deployment's attachments, every call scoped to one user's prefix."""

    def upload_form(
        self,
        user_id: str,
        attachment_id: str,
        *,
        name: str,
        content_type: str,
        max_bytes: int,
        expires_in: timedelta = UPLOAD_EXPIRES,
    ) -> UploadGrant:
        """A form that stores at most `max_bytes` (and at least one) under this id, with
        this name and type whatever the uploader says."""
        ...

    def put(
        self, user_id: str, attachment_id: str, data: bytes, *, name: str, content_type: str
    ) -> None:
        """Store bytes we hold ourselves (a file fetched from Telegram)."""
        ...

    def stat(self, user_id: str, attachment_id: str) -> StoredAttachment | None:
        """None when nothing was uploaded under this id in this user's prefix."""
        ...

    def read(self, user_id: str, attachment_id: str) -> bytes:
        """The bytes; `NotFound` when there are none."""
        ...

    def link(
        self,
        user_id: str,
        attachment_id: str,
        *,
        name: str,
        inline: bool,
        expires_in: timedelta = LINK_EXPIRES,
    ) -> tuple[str, datetime]:
        """A short-lived URL of the bytes and when it expires: shown in the page (`inline`,
        images) or downloaded under `name`. The caller checked that the attachment exists."""
        ...

    def delete(self, user_id: str, attachment_id: str) -> None: ...
