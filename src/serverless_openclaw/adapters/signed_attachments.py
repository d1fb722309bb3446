"""The attachment store of the memory and embedded families: bytes kept by the family,
forms and links as signed URLs that the local stack serves (`local/attachment_files.py`).

What S3's presigned POST and GET do on AWS, done with an HMAC: a token names one user's one
attachment, what the form may store there (name, type, at most so many bytes) or how a link
serves it (inline or as a download), and when it expires. The URLs are relative to the site,
because the API Gateway emulator serves them on the page's own origin (no CORS, whichever
host name the browser used). A token that was altered, is for another purpose, or has
expired is refused exactly like one that never existed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal, Protocol
from urllib.parse import quote

from serverless_openclaw.adapters.store_rules import Clock
from serverless_openclaw.core.errors import Forbidden, NotFound, PayloadTooLarge
from serverless_openclaw.ports.attachments import (
    LINK_EXPIRES,
    UPLOAD_EXPIRES,
    StoredAttachment,
    UploadGrant,
)

BASE_URL: Final = "/_attachments"
_ID: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def checked_ids(user_id: str, attachment_id: str) -> None:
    """Both end up in a path or key: nothing but the characters ids are made of."""
    if not _ID.match(user_id) or not _ID.match(attachment_id):
        raise NotFound("no such attachment")


class AttachmentObjects(Protocol):
    """Where a family keeps the bytes and what it knows of them."""

    def write(
        self, user_id: str, attachment_id: str, data: bytes, meta: StoredAttachment
    ) -> None: ...

    def meta(self, user_id: str, attachment_id: str) -> StoredAttachment | None: ...

    def read(self, user_id: str, attachment_id: str) -> bytes | None: ...

    def remove(self, user_id: str, attachment_id: str) -> None: ...


@dataclass(frozen=True)
class Served:
    """What a link serves: the bytes and the response headers that go with them."""

    data: bytes
    content_type: str
    disposition: str


def content_disposition(name: str, *, inline: bool) -> str:
    """RFC 6266 with an ASCII fallback and the UTF-8 name (S3 takes the same header)."""
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


class SignedAttachments:
    """Implements `ports.attachments.AttachmentStore` over `objects`; `accept_upload` and
    `serve` are what the local stack's routes call with the token of a URL."""

    def __init__(
        self,
        objects: AttachmentObjects,
        *,
        secret: bytes,
        clock: Clock,
        base_url: str = BASE_URL,
    ) -> None:
        self._objects = objects
        self._secret = secret
        self._clock = clock
        self.base_url = base_url.rstrip("/")

    # --- tokens ----------------------------------------------------------------------------
    def _sign(self, claims: dict[str, Any]) -> str:
        raw = json.dumps(claims, separators=(",", ":")).encode()
        body = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        mac = hmac.new(self._secret, body.encode(), hashlib.sha256).digest()
        return f"{body}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"

    def _claims(self, token: str, purpose: Literal["up", "get"]) -> dict[str, Any]:
        refused = Forbidden("the link is not valid (or has expired)")
        body, _, mac = token.partition(".")
        try:
            given = base64.urlsafe_b64decode(mac + "=" * (-len(mac) % 4))
            expected = hmac.new(self._secret, body.encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(given, expected):
                raise refused
            claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except (ValueError, binascii.Error, UnicodeError) as exc:
            raise refused from exc
        if not isinstance(claims, dict):
            raise refused
        if claims.get("p") != purpose or claims.get("x", 0) < self._clock().timestamp():
            raise refused
        return claims

    # --- the port --------------------------------------------------------------------------
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
        checked_ids(user_id, attachment_id)
        expires = self._clock() + expires_in
        token = self._sign(
            {
                "p": "up",
                "u": user_id,
                "a": attachment_id,
                "n": name,
                "t": content_type,
                "m": max_bytes,
                "x": int(expires.timestamp()),
            }
        )
        return UploadGrant(
            url=f"{self.base_url}/upload/{token}",
            fields={"Content-Type": content_type},
            expires_at=expires.astimezone(UTC),
        )

    def put(
        self, user_id: str, attachment_id: str, data: bytes, *, name: str, content_type: str
    ) -> None:
        checked_ids(user_id, attachment_id)
        meta = StoredAttachment(name=name, content_type=content_type, size=len(data))
        self._objects.write(user_id, attachment_id, data, meta)

    def stat(self, user_id: str, attachment_id: str) -> StoredAttachment | None:
        checked_ids(user_id, attachment_id)
        return self._objects.meta(user_id, attachment_id)

    def read(self, user_id: str, attachment_id: str) -> bytes:
        checked_ids(user_id, attachment_id)
        data = self._objects.read(user_id, attachment_id)
        if data is None:
            raise NotFound("no such attachment")
        return data

    def link(
        self,
        user_id: str,
        attachment_id: str,
        *,
        name: str,
        inline: bool,
        expires_in: timedelta = LINK_EXPIRES,
    ) -> tuple[str, datetime]:
        checked_ids(user_id, attachment_id)
        expires = self._clock() + expires_in
        token = self._sign(
            {
                "p": "get",
                "u": user_id,
                "a": attachment_id,
                "n": name,
                "i": inline,
                "x": int(expires.timestamp()),
            }
        )
        return f"{self.base_url}/get/{token}", expires.astimezone(UTC)

    def delete(self, user_id: str, attachment_id: str) -> None:
        checked_ids(user_id, attachment_id)
        self._objects.remove(user_id, attachment_id)

    # --- what the local stack's routes call ------------------------------------------------
    def upload_limit(self, token: str) -> int:
        """The most bytes the form of this token stores (`Forbidden` for a bad token)."""
        return int(self._claims(token, "up")["m"])

    def accept_upload(self, token: str, data: bytes) -> StoredAttachment:
        """Store an upload the way the token's form says (its name and type, whatever the
        form fields claimed). `Forbidden`, or `PayloadTooLarge` over the form's limit."""
        claims = self._claims(token, "up")
        if not 1 <= len(data) <= int(claims["m"]):
            raise PayloadTooLarge("Your proposed upload exceeds the maximum allowed size")
        meta = StoredAttachment(
            name=str(claims["n"]), content_type=str(claims["t"]), size=len(data)
        )
        self._objects.write(str(claims["u"]), str(claims["a"]), data, meta)
        return meta

    def serve(self, token: str) -> Served:
        """The bytes a link names (`Forbidden` for a bad token, `NotFound` when gone)."""
        claims = self._claims(token, "get")
        user_id, attachment_id = str(claims["u"]), str(claims["a"])
        meta = self._objects.meta(user_id, attachment_id)
        data = self._objects.read(user_id, attachment_id)
        if meta is None or data is None:
            raise NotFound("no such attachment")
        return Served(
            data=data,
            content_type=meta.content_type,
            disposition=content_disposition(str(claims["n"]), inline=bool(claims["i"])),
        )
