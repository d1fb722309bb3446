"""What an image's first bytes say: its type and its size in pixels (PNG, JPEG, GIF, WebP).

The bridge tells OpenClaw each image's dimensions, and the offline model reports what it
received; neither needs an image library for that, only the headers.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

_JPEG_SOF: Final = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


@dataclass(frozen=True)
class ImageInfo:
    content_type: str
    width: int
    height: int


def sniff_type(data: bytes) -> str | None:
    """The image or audio type the magic bytes name (None when unknown)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data.startswith(b"OggS"):
        return "audio/ogg"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def image_info(data: bytes) -> ImageInfo | None:
    """Type and dimensions from the header; None when the bytes are no image we know (or
    the header is cut short)."""
    try:
        return _image_info(data)
    except (struct.error, IndexError):
        return None


def _image_info(data: bytes) -> ImageInfo | None:
    kind = sniff_type(data)
    if kind == "image/png" and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
    elif kind == "image/gif":
        width, height = struct.unpack("<HH", data[6:10])
    elif kind == "image/webp":
        chunk = data[12:16]
        if chunk == b"VP8 ":
            width, height = (v & 0x3FFF for v in struct.unpack("<HH", data[26:30]))
        elif chunk == b"VP8L":
            bits = int.from_bytes(data[21:25], "little")
            width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        elif chunk == b"VP8X":
            width = int.from_bytes(data[24:27], "little") + 1
            height = int.from_bytes(data[27:30], "little") + 1
        else:
            return None
    elif kind == "image/jpeg":
        found = _jpeg_size(data)
        if found is None:
            return None
        width, height = found
    else:
        return None
    if width <= 0 or height <= 0:
        return None
    return ImageInfo(kind, width, height)


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Walk the JPEG segments to the first start-of-frame (an EXIF thumbnail comes before
    it inside APP1, which is skipped as a whole)."""
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            at += 2
            continue
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return width, height
        if marker == 0xDA or length < 2:  # start of scan: no frame header found before it
            return None
        at += 2 + length
    return None
