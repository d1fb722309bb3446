"""Pairing codes: the one-time secret that links a Telegram chat to a signed-in web user.

Pure logic, no storage. The web user gets a code (REST), types `/pair CODE` in Telegram, and
the webhook redeems it through the Telegram store, which keys codes by `hash_code`. The rules
here and the store's must agree byte for byte (a test holds them together):

- short and readable: 8 characters from 31 that cannot be mistaken for one another (no 0/O,
  1/I/L), shown as `K7QM-2XCD`; what people type is forgiven (case, spaces, dashes, dots);
- hard enough to guess: 31^8 ≈ 8.5 * 10^11 codes (39.6 bits). With `pairing_attempts_per_hour`
  (default 5) per chat and a 10-minute life, one chat's chance to hit a live code is about
  1 in 10^11 per code;
- stored only as a hash, single use (the store deletes on use, with a condition), expiring
  (DynamoDB TTL plus an explicit check, because TTL deletion lags by hours).

Text that cannot be a code is answered without spending an attempt: it tells a guesser
nothing, and it spares a person who typed the wrong thing their hourly tries.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Final

ALPHABET: Final = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH: Final = 8
CODE_TTL: Final = timedelta(minutes=10)

_SEPARATORS: Final = str.maketrans("", "", " -_.\t")


def generate_code() -> str:
    """A new code in its canonical form (8 characters, no dash)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def display(code: str) -> str:
    """`K7QM2XCD` -> `K7QM-2XCD`: easier to read and to type."""
    half = CODE_LENGTH // 2
    return f"{code[:half]}-{code[half:]}"


def normalize(typed: str) -> str | None:
    """What the person typed -> the canonical code, or None when it cannot be one."""
    code = typed.strip().upper().translate(_SEPARATORS)
    if len(code) != CODE_LENGTH or any(char not in ALPHABET for char in code):
        return None
    return code


def hash_code(code: str) -> str:
    """The storage key of a canonical code (SHA-256, hex)."""
    return hashlib.sha256(code.encode()).hexdigest()


def expires_at(issued_at: datetime) -> datetime:
    return issued_at + CODE_TTL


def is_expired(expiry: datetime, now: datetime | None = None) -> bool:
    return (now or datetime.now(UTC)) >= expiry
