"""Attachments, as the handlers offer them: ask for an upload, resolve the ids a message
names, link to the bytes, and store a file the Telegram webhook fetched.

The browser never sends bytes through a handler. It asks for an upload (name, type, size:
checked here against the limits of `core/attachments.py`), gets an id and a form that
accepts exactly that, uploads, and then sends its message naming the id. The message is
accepted only once the store has the bytes, described by what the store holds (not by what
the browser said), so the job that reaches the agent lists files that are there.

Ids are random (an unguessable 96 bits) and every lookup is under the caller's own prefix:
an id of someone else's attachment answers exactly like one that never existed.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Final

from serverless_openclaw.contracts.frames import Attachment
from serverless_openclaw.contracts.records import (
    AttachmentLink,
    AttachmentUpload,
    AttachmentUploadRequest,
    UploadForm,
)
from serverless_openclaw.core.attachments import check, check_message, kind_of
from serverless_openclaw.core.errors import AttachmentMissing, NotFound, QuotaExceeded
from serverless_openclaw.core.quotas import minute_window

if TYPE_CHECKING:
    from serverless_openclaw.app.services import Services

UPLOADS_PER_MINUTE: Final = 30
"""Upload forms one person may ask for in a minute (each can leave bytes in the bucket)."""

_ID: Final = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def new_attachment_id() -> str:
    return f"att-{secrets.token_hex(12)}"


def request_upload(
    services: Services, user_id: str, request: AttachmentUploadRequest
) -> AttachmentUpload:
    """`UnsupportedType` / `PayloadTooLarge` before anything is granted; `QuotaExceeded`
    past UPLOADS_PER_MINUTE."""
    checked = check(request.name, request.contentType, request.size)
    now = services.clock()
    count = services.counters.increment(
        f"rate#upload#{user_id}#{minute_window(now)}", expires_at=now + timedelta(minutes=5)
    )
    if count > UPLOADS_PER_MINUTE:
        raise QuotaExceeded(
            f"at most {UPLOADS_PER_MINUTE} uploads a minute; try again shortly",
            retry_after_s=60 - now.second,
        )
    attachment = Attachment(
        id=new_attachment_id(),
        name=checked.name,
        contentType=checked.content_type,
        size=request.size,
        kind=checked.kind,
    )
    grant = services.attachments.upload_form(
        user_id,
        attachment.id,
        name=attachment.name,
        content_type=attachment.contentType,
        max_bytes=request.size,
    )
    return AttachmentUpload(
        attachment=attachment,
        upload=UploadForm(url=grant.url, fields=grant.fields),
        expiresAt=grant.expires_at,
    )


def describe(services: Services, user_id: str, attachment_id: str) -> Attachment:
    """The attachment as the store holds it; `AttachmentMissing` when it does not."""
    stored = services.attachments.stat(user_id, attachment_id) if _ID.match(attachment_id) else None
    if stored is None:
        raise AttachmentMissing(
            f"attachment {attachment_id[:64]} is not there: its upload did not finish"
        )
    checked = check(stored.name, stored.content_type, stored.size)  # what the form allowed
    return Attachment(
        id=attachment_id,
        name=checked.name,
        contentType=checked.content_type,
        size=stored.size,
        kind=checked.kind,
    )


def resolve(services: Services, user_id: str, ids: Sequence[str]) -> tuple[Attachment, ...]:
    """The attachments a message names, in its order; the message's own limits checked."""
    attachments = tuple(describe(services, user_id, attachment_id) for attachment_id in ids)
    check_message(attachments)
    return attachments


def link(services: Services, user_id: str, attachment_id: str) -> AttachmentLink:
    """A short-lived URL: images inline (thumbnails), everything else as a download.
    `NotFound` for ids that are not the caller's."""
    stored = services.attachments.stat(user_id, attachment_id) if _ID.match(attachment_id) else None
    if stored is None:
        raise NotFound("no such attachment")
    url, expires = services.attachments.link(
        user_id,
        attachment_id,
        name=stored.name,
        inline=kind_of(stored.content_type) == "image",
    )
    return AttachmentLink(url=url, expiresAt=expires)


def store_received(
    services: Services,
    user_id: str,
    attachment_id: str,
    data: bytes,
    *,
    name: str,
    content_type: str | None,
    width: int | None = None,
    height: int | None = None,
    duration_ms: int | None = None,
) -> Attachment:
    """Keep a file we fetched ourselves (Telegram) as if the person had uploaded it."""
    checked = check(name, content_type, len(data))
    services.attachments.put(
        user_id, attachment_id, data, name=checked.name, content_type=checked.content_type
    )
    return Attachment(
        id=attachment_id,
        name=checked.name,
        contentType=checked.content_type,
        size=len(data),
        kind=checked.kind,
        width=width,
        height=height,
        durationMs=duration_ms,
    )
