"""Attachments in memory: bytes in a dict, forms and links signed with a per-instance key."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field

from serverless_openclaw.adapters.signed_attachments import SignedAttachments
from serverless_openclaw.adapters.store_rules import Clock
from serverless_openclaw.ports.attachments import StoredAttachment


@dataclass
class MemoryAttachmentObjects:
    objects: dict[tuple[str, str], tuple[bytes, StoredAttachment]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def write(self, user_id: str, attachment_id: str, data: bytes, meta: StoredAttachment) -> None:
        with self.lock:
            self.objects[(user_id, attachment_id)] = (bytes(data), meta)

    def meta(self, user_id: str, attachment_id: str) -> StoredAttachment | None:
        with self.lock:
            found = self.objects.get((user_id, attachment_id))
        return found[1] if found else None

    def read(self, user_id: str, attachment_id: str) -> bytes | None:
        with self.lock:
            found = self.objects.get((user_id, attachment_id))
        return found[0] if found else None

    def remove(self, user_id: str, attachment_id: str) -> None:
        with self.lock:
            self.objects.pop((user_id, attachment_id), None)


def memory_attachments(objects: MemoryAttachmentObjects, *, clock: Clock) -> SignedAttachments:
    return SignedAttachments(objects, secret=secrets.token_bytes(32), clock=clock)
