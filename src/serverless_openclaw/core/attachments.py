"""What may be attached to a message, and how an attachment is described: the rules the
upload API, the Telegram webhook and the bridge share (no I/O).

The limits themselves are in `contracts/limits.py` (the web client shows them before a file
is picked). A type is what the browser or Telegram declares, normalised; when it declares
nothing useful, the file name's extension decides. OpenClaw sniffs the bytes again and trusts
what it finds, so a wrong declaration cannot make it treat a file as something it is not.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath
from typing import Final

from serverless_openclaw.contracts.frames import Attachment, AttachmentKind
from serverless_openclaw.contracts.limits import (
    ATTACHMENT_AUDIO_TYPES,
    ATTACHMENT_FILE_TYPES,
    ATTACHMENT_IMAGE_TYPES,
    MAX_ATTACHMENT_NAME,
    MAX_ATTACHMENTS,
    MAX_ATTACHMENTS_BYTES,
    MAX_FILE_BYTES,
    MAX_IMAGE_BYTES,
)
from serverless_openclaw.core.errors import InvalidRequest, PayloadTooLarge, UnsupportedType

KINDS: Final[Mapping[AttachmentKind, frozenset[str]]] = {
    "image": frozenset(ATTACHMENT_IMAGE_TYPES.split(",")),
    "file": frozenset(ATTACHMENT_FILE_TYPES.split(",")),
    "audio": frozenset(ATTACHMENT_AUDIO_TYPES.split(",")),
}
MAX_BYTES: Final[Mapping[AttachmentKind, int]] = {
    "image": MAX_IMAGE_BYTES,
    "file": MAX_FILE_BYTES,
    "audio": MAX_FILE_BYTES,
}
BY_EXTENSION: Final[Mapping[str, str]] = {
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
}
ALIASES: Final[Mapping[str, str]] = {
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
}
_VAGUE: Final = frozenset({"", "application/octet-stream", "binary/octet-stream"})
_UNSAFE_NAME: Final = re.compile(r"[\x00-\x1f\x7f\"\\/]")
_FALLBACK_EXTENSION: Final[Mapping[str, str]] = {
    content_type: extension for extension, content_type in reversed(list(BY_EXTENSION.items()))
}


def accepted_types() -> str:
    """Every type we take, for error messages."""
    return ", ".join(sorted(KINDS["image"] | KINDS["file"] | KINDS["audio"]))


def _extension(name: str) -> str:
    return PurePosixPath(name).suffix.lower()


def content_type_of(declared: str | None, name: str) -> str:
    """The declared type without parameters, lowercased and de-aliased; the extension's
    when nothing useful was declared (browsers give `.md` files no type at all)."""
    base = (declared or "").split(";", 1)[0].strip().lower()
    base = ALIASES.get(base, base)
    if base in _VAGUE:
        return BY_EXTENSION.get(_extension(name), base or "application/octet-stream")
    return base


def kind_of(content_type: str) -> AttachmentKind | None:
    for kind, types in KINDS.items():
        if content_type in types:
            return kind
    return None


def clean_name(name: str, content_type: str | None = None) -> str:
    """A file name safe to show and to put in a header: the last path part, no control
    characters, quotes or slashes, NFC, at most MAX_ATTACHMENT_NAME characters with the
    extension kept; "attachment" (plus the type's extension) when nothing is left."""
    last = PureWindowsPath(PurePosixPath(name).name).name
    text = unicodedata.normalize("NFC", _UNSAFE_NAME.sub("_", last)).strip(" .")
    if not text:
        text = "attachment" + _FALLBACK_EXTENSION.get(content_type or "", "")
    if len(text) > MAX_ATTACHMENT_NAME:
        suffix = _extension(text)[:16]
        text = text[: MAX_ATTACHMENT_NAME - len(suffix) - 1].rstrip() + "…" + suffix
    return text


@dataclass(frozen=True)
class Checked:
    """An attachment that may be taken: its shown name, its type and its kind."""

    name: str
    content_type: str
    kind: AttachmentKind


def check(name: str, declared_type: str | None, size: int) -> Checked:
    """`UnsupportedType` (415) or `PayloadTooLarge` (413) with a message a person can act on."""
    content_type = content_type_of(declared_type, name)
    kind = kind_of(content_type)
    shown = clean_name(name, content_type)
    if kind is None:
        raise UnsupportedType(
            f"{shown}: files of type {content_type} cannot be sent; accepted: {accepted_types()}"
        )
    if size > MAX_BYTES[kind]:
        raise PayloadTooLarge(
            f"{shown}: {megabytes(size, up=True)} is over the {megabytes(MAX_BYTES[kind])} "
            f"limit for {'images' if kind == 'image' else 'files'}"
        )
    if size <= 0:
        raise InvalidRequest(f"{shown} is empty")
    return Checked(shown, content_type, kind)


def check_message(attachments: Iterable[Attachment]) -> None:
    """The limits of one message's attachments together."""
    listed = list(attachments)
    if len(listed) > MAX_ATTACHMENTS:
        raise InvalidRequest(f"at most {MAX_ATTACHMENTS} attachments per message")
    total = sum(attachment.size for attachment in listed)
    if total > MAX_ATTACHMENTS_BYTES:
        raise PayloadTooLarge(
            f"the attachments add up to {megabytes(total, up=True)}, over the "
            f"{megabytes(MAX_ATTACHMENTS_BYTES)} a message may carry"
        )


def megabytes(size: int, *, up: bool = False) -> str:
    """`5 MB` / `1.4 MB` / `12 KB`, as the web client writes sizes (MiB, named MB). `up`
    rounds up, so a size over a limit never reads as the limit itself."""
    if size < 1024 * 1024:
        return f"{max(1, round(size / 1024))} KB"
    tenths = size * 10 / (1024 * 1024)
    value = (math.ceil(tenths) if up else round(tenths)) / 10
    return f"{value:.0f} MB" if value.is_integer() else f"{value:.1f} MB"
