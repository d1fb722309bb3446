"""Pairing code rules, and their agreement with the store that keeps the codes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from serverless_openclaw.adapters.aws.stores import telegram as store
from serverless_openclaw.telegram import pairing


def test_generated_codes_are_canonical_and_distinct() -> None:
    codes = {pairing.generate_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(pairing.normalize(code) == code for code in codes)
    assert not set("".join(codes)) & set("01OIL")


def test_what_people_type_is_forgiven() -> None:
    code = "K7QM2XCD"
    for typed in ("k7qm-2xcd", " K7QM 2XCD ", "k7qm.2xcd", pairing.display(code)):
        assert pairing.normalize(typed) == code


def test_what_cannot_be_a_code_is_recognised() -> None:
    for typed in ("", "K7QM2XC", "K7QM2XCDE", "K7QM2XC0", "K7QM2XCO", "hello world", "ABCD-123!"):
        assert pairing.normalize(typed) is None


def test_hash_and_alphabet_agree_with_the_store() -> None:
    assert set(pairing.ALPHABET) == set(store.CODE_ALPHABET)
    assert pairing.CODE_LENGTH == store.CODE_LENGTH
    assert pairing.CODE_TTL == store.CODE_TTL
    code = pairing.generate_code()
    assert pairing.hash_code(code) == store.hash_code(pairing.display(code).lower())


def test_codes_expire_after_ten_minutes() -> None:
    issued = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    expiry = pairing.expires_at(issued)
    assert not pairing.is_expired(expiry, issued + timedelta(minutes=9, seconds=59))
    assert pairing.is_expired(expiry, issued + timedelta(minutes=10))
