"""S3's presigned POST and GET on one machine: the upload form and the links that the
memory and embedded attachment stores hand out (`adapters/signed_attachments.py`), served by
the API Gateway emulator on the page's own origin.

POST `/_attachments/upload/<token>`: a `multipart/form-data` body whose field `file` holds
the bytes (other fields are ignored: the token says what is stored). 204 as S3 answers;
403 for a bad or expired token, 400 without a file, 413 over the form's size.
GET `/_attachments/get/<token>`: the bytes, with the type and Content-Disposition the link
names, `nosniff`, and a private cache of the link's lifetime.
"""

from __future__ import annotations

import asyncio
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Final, Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from serverless_openclaw.adapters.signed_attachments import BASE_URL, Served
from serverless_openclaw.core.errors import (
    Forbidden,
    InvalidRequest,
    NotFound,
    OpenClawError,
    PayloadTooLarge,
)
from serverless_openclaw.ports.attachments import StoredAttachment

FORM_OVERHEAD: Final = 64 * 1024
"""Bytes a form may carry beyond its file (boundaries, headers, the other fields)."""


class LocalAttachmentStore(Protocol):
    def upload_limit(self, token: str) -> int: ...

    def accept_upload(self, token: str, data: bytes) -> StoredAttachment: ...

    def serve(self, token: str) -> Served: ...


def file_field(content_type: str, body: bytes) -> bytes | None:
    """The `file` part of a multipart/form-data body (None when there is none)."""
    if not content_type.lower().startswith("multipart/form-data"):
        return None
    header = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(header + body)
    if not message.is_multipart():
        return None
    for part in message.iter_parts():
        if (
            isinstance(part, Message)
            and part.get_param("name", header="content-disposition") == "file"
        ):
            payload = part.get_payload(decode=True)
            return payload if isinstance(payload, bytes) else None
    return None


def _status(exc: OpenClawError) -> Response:
    if isinstance(exc, PayloadTooLarge):
        return Response("EntityTooLarge", status_code=413, media_type="text/plain")
    if isinstance(exc, NotFound):
        return Response("NoSuchKey", status_code=404, media_type="text/plain")
    if isinstance(exc, InvalidRequest):
        return Response(str(exc), status_code=400, media_type="text/plain")
    return Response("AccessDenied", status_code=403, media_type="text/plain")


async def _form_file(request: Request, limit: int) -> bytes:
    """The uploaded file, reading no more than `limit` bytes of form."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge("too large")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise PayloadTooLarge("too large")
    data = file_field(request.headers.get("content-type", ""), bytes(body))
    if data is None:
        raise InvalidRequest("the form has no file field")
    return data


def routes(store: LocalAttachmentStore, *, base: str = BASE_URL) -> list[BaseRoute]:
    async def upload(request: Request) -> Response:
        token = request.path_params["token"]
        try:
            data = await _form_file(request, store.upload_limit(token) + FORM_OVERHEAD)
            await asyncio.to_thread(store.accept_upload, token, data)
        except (Forbidden, InvalidRequest, NotFound) as exc:
            return _status(exc)
        return Response(status_code=204)

    async def download(request: Request) -> Response:
        try:
            served = await asyncio.to_thread(store.serve, request.path_params["token"])
        except (Forbidden, NotFound) as exc:
            return _status(exc)
        return Response(
            served.data,
            media_type=served.content_type,
            headers={
                "content-disposition": served.disposition,
                "x-content-type-options": "nosniff",
                "cache-control": "private, max-age=900",
                "content-security-policy": "default-src 'none'; sandbox",
            },
        )

    return [
        Route(f"{base}/upload/{{token}}", upload, methods=["POST"]),
        Route(f"{base}/get/{{token}}", download, methods=["GET"]),
    ]
