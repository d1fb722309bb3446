"""What the offline model makes of the attachments OpenClaw passes it, so that tests (and a
person trying the product without a key) can see what arrived: each file's name where
OpenClaw passes one, its type, its size and an image's pixel size.

How OpenClaw 2026.9.6 hands attachments to a model that takes text and images (seen on the
pinned gateway; /work/notes/openclaw-research.md §1.3):
- a line `[media attached: <ref> (<type>)]` per file (`[media attached 1/2: ...]` when there
  are several) before the person's words; `<ref>` is `media://inbound/<name>---<uuid>.<ext>`
  for files it keeps, or a staged path `.../input-<uuid>.png` for small images (no name);
- an image as an `image_url` part holding a data URL (a PDF also brings a picture of its page);
- a document's text inlined as `<file name="<name>---<uuid>.<ext>" mime="..."> ... </file>`;
- audio as `[Audio attachment not analyzed: ...]`, or a voice note wrapped as
  `[Audio]\\nUser text:\\n<words>\\n...Transcript:\\n<why there is none>`.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any, Final

from serverless_openclaw.core.media import image_info

_MEDIA_LINE: Final = re.compile(
    r"^\[media attached(?: \d+/\d+)?: (?P<ref>[^\]\n]*?)(?: \((?P<type>[^()\]\n]+)\))?\]\s*$",
    re.M,
)
_FILE_BLOCK: Final = re.compile(
    r'<file name="(?P<name>[^"]*)" mime="(?P<type>[^"]*)">(?P<body>.*?)</file>', re.S
)
_UNTRUSTED: Final = re.compile(
    r"<<<EXTERNAL_UNTRUSTED_CONTENT[^>]*>>>\s*(?:Source: External\s*---\s*)?(?P<text>.*?)"
    r"\s*<<<END_EXTERNAL_UNTRUSTED_CONTENT[^>]*>>>",
    re.S,
)
_AUDIO_NOTE: Final = re.compile(r"^\[Audio attachment not analyzed[^\]\n]*\]\s*$", re.M)
_VOICE_WRAPPER: Final = re.compile(
    r"\A\[Audio\]\s*User text:\s*(?P<text>.*?)\s*Transcript:.*\Z", re.S
)
_STORED_NAME: Final = re.compile(r"^(?P<stem>.+)---[0-9a-f-]{36}(?P<ext>\.[A-Za-z0-9]+)?$")
_IMAGE_FILE: Final = re.compile(r"\.(?:png|jpe?g|gif|webp)$", re.I)
_DATA_URL: Final = re.compile(r"^data:(?P<type>[^;,]+)?(?:;[^,]*)?;base64,(?P<data>.*)$", re.S)


def original_name(ref: str) -> str | None:
    """`media://inbound/report---<uuid>.pdf` -> `report.pdf`; None for refs without one."""
    last = ref.rsplit("/", 1)[-1]
    match = _STORED_NAME.match(last)
    if match is None:
        return None
    return match.group("stem") + (match.group("ext") or "")


def strip(text: str) -> str:
    """The person's words without OpenClaw's attachment markers and inlined files."""
    wrapped = _VOICE_WRAPPER.match(text.strip())
    if wrapped is not None:
        text = wrapped.group("text")
    text = _FILE_BLOCK.sub("", text)
    text = _MEDIA_LINE.sub("", text)
    return _AUDIO_NOTE.sub("", text).strip()


def mentions_attachments(content: Any) -> bool:
    """Whether a user message carries attachments (even with no words of the person's)."""
    if isinstance(content, list):
        if any(isinstance(p, dict) and p.get("type") == "image_url" for p in content):
            return True
        text = "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    else:
        text = str(content or "")
    return bool(_MEDIA_LINE.search(text) or _FILE_BLOCK.search(text))


@dataclass(frozen=True)
class Received:
    kind: str
    """"image", "document" or "audio"."""
    name: str | None = None
    content_type: str | None = None
    size: int | None = None
    """Bytes of an image; characters of a document's text."""
    width: int | None = None
    height: int | None = None
    note: str | None = None

    def describe(self) -> str:
        what = f"{self.name} " if self.name else ""
        details = [self.content_type or "unknown type"]
        if self.width and self.height:
            details.append(f"{self.width}x{self.height} pixels")
        if self.size is not None:
            unit = "bytes" if self.kind == "image" else "characters of text"
            details.append(f"{self.size} {unit}")
        if self.note:
            details.append(self.note)
        return f"{self.kind}: {what}({', '.join(details)})"


def received(content: Any) -> list[Received]:
    """What one user message carries, in the order OpenClaw lists it."""
    parts = content if isinstance(content, list) else [{"type": "text", "text": content or ""}]
    text = "\n".join(
        _strip_envelope(str(p.get("text", "")))
        for p in parts
        if isinstance(p, dict) and p.get("type") == "text"
    )
    markers = [
        (m.group("ref"), m.group("type"))
        for m in _MEDIA_LINE.finditer(text)
        if not re.fullmatch(r"\d+ files", m.group("ref"))
    ]
    image_refs = dict.fromkeys(
        ref
        for ref, kind in markers
        if (kind or "").startswith("image/") or (kind is None and _IMAGE_FILE.search(ref))
    )
    named_images = [original_name(ref) for ref in image_refs]
    found: list[Received] = []
    images = [p for p in parts if isinstance(p, dict) and p.get("type") == "image_url"]
    for index, part in enumerate(images):
        url = str((part.get("image_url") or {}).get("url", ""))
        match = _DATA_URL.match(url)
        try:
            data = base64.b64decode(match.group("data"), validate=False) if match else b""
        except (binascii.Error, ValueError):
            data = b""
        info = image_info(data)
        found.append(
            Received(
                kind="image",
                name=named_images[index] if index < len(named_images) else None,
                content_type=(match.group("type") if match else None)
                or (info.content_type if info else None),
                size=len(data),
                width=info.width if info else None,
                height=info.height if info else None,
            )
        )
    for block in _FILE_BLOCK.finditer(text):
        inner = _UNTRUSTED.search(block.group("body"))
        body = inner.group("text") if inner else block.group("body").strip()
        found.append(
            Received(
                kind="document",
                name=original_name(block.group("name")) or block.group("name"),
                content_type=block.group("type"),
                size=len(body),
            )
        )
    audio_refs = [(ref, kind) for ref, kind in markers if (kind or "").startswith("audio/")]
    if _VOICE_WRAPPER.match(text) and not audio_refs:
        audio_refs = [(ref, "audio") for ref, _ in markers] or [("", "audio")]
    for ref, kind in audio_refs:
        found.append(
            Received(kind="audio", name=original_name(ref), content_type=kind, note="not analyzed")
        )
    return found


def _strip_envelope(text: str) -> str:
    return re.sub(r"^\[[^\]\n]{1,80}\]\s*", "", text.strip(), count=1)


def report(found: list[Received]) -> str:
    """`I received:` and one line per attachment (empty when there are none)."""
    if not found:
        return ""
    return "I received:\n" + "\n".join(f"- {item.describe()}" for item in found)
