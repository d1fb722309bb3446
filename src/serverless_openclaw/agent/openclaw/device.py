"""The bridge's Ed25519 device identity for the OpenClaw gateway handshake.

Token-only operator scopes have regressed in earlier OpenClaw releases, so the bridge also
proves a device identity. Loopback devices are auto-approved. The key lives in our own folder
of the state dir and is excluded from backups (a fresh key after a restore is simply a new,
auto-approved loopback device).
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

KEY_FILE = "soc/device-key.pem"
"""Relative to the OpenClaw state dir; listed in the state sync's exclusions."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class SignatureInput:
    """The fields of the v3 device-auth payload, in the order the gateway verifies them."""

    device_id: str
    client_id: str
    client_mode: str
    role: str
    scopes: tuple[str, ...]
    signed_at_ms: int
    token: str
    nonce: str
    platform: str
    device_family: str = ""

    def payload(self) -> str:
        return "|".join(
            [
                "v3",
                self.device_id,
                self.client_id,
                self.client_mode,
                self.role,
                ",".join(self.scopes),
                str(self.signed_at_ms),
                self.token,
                self.nonce,
                self.platform.lower(),
                self.device_family.lower(),
            ]
        )


class DeviceIdentity:
    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.public_key_raw = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def device_id(self) -> str:
        """sha256 hex of the raw public key: what the gateway recomputes and compares."""
        return hashlib.sha256(self.public_key_raw).hexdigest()

    @property
    def public_key(self) -> str:
        return b64url(self.public_key_raw)

    def sign(self, data: SignatureInput) -> str:
        return b64url(self._key.sign(data.payload().encode()))

    @classmethod
    def generate(cls) -> DeviceIdentity:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load_or_create(cls, state_dir: Path) -> DeviceIdentity:
        path = state_dir / KEY_FILE
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if isinstance(key, Ed25519PrivateKey):
                return cls(key)
        identity = cls.generate()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        pem = identity._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        return identity
