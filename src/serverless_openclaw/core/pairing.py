"""Pairing codes: the one-time secret that links a Telegram chat to a signed-in web user.

Pure rules, no storage, in one place: the webhook reads what a person typed with them, and
the Telegram store of every family (DynamoDB, SQLite, memory) issues, hashes and counts codes
with them, so the two sides agree byte for byte by construction.

- short and readable: 8 characters from 31 that cannot be mistaken for one another (no 0/O,
  1/I/L), shown as `K7QM-2XCD`; what people type is forgiven (case, spaces, dashes, dots);
- hard enough to guess: 31^8 ≈ 8.5 * 10^11 codes (39.6 bits). With `pairing_attempts_per_hour`
  (default 5) per chat and a 10-minute life, one chat's chance to hit a live code is about
  1 in 10^11 per code;
- many chats with a guess each are held by a ceiling on wrong codes per hour across the whole
  deployment (`pairing_failures_per_hour`, default 20): above it pairing pauses for everyone
  until the hour ends, so even an army of chats gets at most 20 guesses an hour (a chance of
  about 1 in 10^10 per live code). "Per user" for a wrong code can only mean its sender: a
  code is redeemed in a private chat only (groups are refused), whose id is its sender's, so
  the per-chat limit is the per-sender one;
- stored only as a hash, single use (the store deletes on use, with a condition), expiring
  (DynamoDB TTL plus an explicit check, because TTL deletion lags by hours); only the newest
  code of a web user works (a new code voids the older ones);
- one chat per web user: pairing another chat unlinks the first, which is told so.

Text that cannot be a code is answered without spending an attempt: it tells a guesser
nothing, and it spares a person who typed the wrong thing their hourly tries.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Final

from serverless_openclaw.core.errors import QuotaExceeded

ALPHABET: Final = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH: Final = 8
CODE_TTL: Final = timedelta(minutes=10)

WINDOW_S: Final = 3600
"""Attempts are counted per hour: a chat's (`pairing_attempts_per_hour`, in the store) and the
deployment's wrong codes (`pairing_failures_per_hour`, in the webhook)."""
COUNTER_TTL: Final = timedelta(seconds=2 * WINDOW_S)
"""How long an hour's counter is kept: past its hour, with room for clock skew."""

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
    """The storage key of a code as given (SHA-256, hex, of its letters and digits in upper
    case): the canonical code and any way of typing it hash alike."""
    return hashlib.sha256(_letters_and_digits(code).encode()).hexdigest()


def may_be_code(code: str) -> bool:
    """Whether a store should look the code up at all (after its attempt is counted)."""
    return len(_letters_and_digits(code)) == CODE_LENGTH


def _letters_and_digits(code: str) -> str:
    return "".join(char for char in code.upper() if char.isalnum())


def expires_at(issued_at: datetime) -> datetime:
    """Until when a code issued at `issued_at` may be redeemed (not included)."""
    return issued_at + CODE_TTL


def attempts_key(chat_id: int, at: datetime) -> str:
    """The counter of a chat's pairing attempts in the hour of `at`."""
    return f"pair#{chat_id}#{_window(at)}"


def too_many_attempts(at: datetime) -> QuotaExceeded:
    """What a chat over its hourly attempts is told, with the seconds until its hour ends."""
    return QuotaExceeded(
        "Too many pairing attempts from this chat; try again within the next hour.",
        retry_after_s=seconds_left_in_window(at),
    )


def failures_key(at: datetime) -> str:
    """The deployment-wide counter of wrong codes in the hour of `at`."""
    return f"pair-failures#{_window(at)}"


def seconds_left_in_window(at: datetime) -> int:
    """Seconds until the counting hour of `at` ends."""
    return WINDOW_S - int(at.timestamp()) % WINDOW_S


def _window(at: datetime) -> int:
    return int(at.timestamp()) // WINDOW_S
