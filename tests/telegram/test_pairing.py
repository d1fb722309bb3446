"""Pairing code rules (core/pairing.py), which the webhook and every store share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from serverless_openclaw.core import pairing


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


def test_every_way_of_typing_a_code_is_stored_under_its_hash() -> None:
    code = pairing.generate_code()
    typed = (code, pairing.display(code).lower(), f" {pairing.display(code)} ")
    assert {pairing.hash_code(form) for form in typed} == {pairing.hash_code(code)}
    assert all(pairing.may_be_code(form) for form in typed)
    other = pairing.generate_code()
    assert other == code or pairing.hash_code(other) != pairing.hash_code(code)
    assert not pairing.may_be_code(code[:-1])


def test_codes_expire_after_ten_minutes() -> None:
    issued = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert pairing.expires_at(issued) == issued + timedelta(minutes=10)


def test_a_chat_over_its_attempts_is_told_when_its_hour_ends() -> None:
    at = datetime(2026, 1, 1, 12, 59, 30, tzinfo=UTC)
    refused = pairing.too_many_attempts(at)
    assert refused.retry_after_s == 30
    assert pairing.attempts_key(7, at) != pairing.attempts_key(7, at + timedelta(seconds=30))
    assert pairing.attempts_key(7, at) != pairing.attempts_key(8, at)
