"""Connections, settings, counters and markers, Telegram links and pairing codes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from serverless_openclaw.core import pairing
from serverless_openclaw.core.errors import InvalidRequest, NotFound, QuotaExceeded
from serverless_openclaw.ports.stores import CONNECTION_TTL

from .conftest import Family


# --- connections ---------------------------------------------------------------------------
def test_connections_are_found_by_id_and_by_user_oldest_first(family: Family) -> None:
    store = family.ports.connections()
    now = family.now()
    store.put("conn-b", "u1", now)
    store.put("conn-a", "u1", now - timedelta(minutes=5))
    store.put("conn-c", "u2", now)
    record = store.get("conn-a")
    assert record is not None
    assert (record.user_id, record.connected_at) == ("u1", now - timedelta(minutes=5))
    assert [r.connection_id for r in store.for_user("u1")] == ["conn-a", "conn-b"]
    store.delete("conn-a")
    store.delete("conn-never")
    assert store.get("conn-a") is None
    assert [r.connection_id for r in store.for_user("u1")] == ["conn-b"]
    assert store.for_user("nobody") == []


def test_a_connection_expires_after_api_gateways_limit(family: Family) -> None:
    family.travel()
    store = family.ports.connections()
    store.put("conn-a", "u1", family.now())
    family.advance((CONNECTION_TTL + timedelta(seconds=1)).total_seconds())
    assert store.get("conn-a") is None
    assert store.for_user("u1") == []


# --- settings ------------------------------------------------------------------------------
def test_settings_start_at_the_defaults_and_merge_partial_updates(family: Family) -> None:
    store = family.ports.user_settings()
    assert store.get("u1").idleTimeoutMinutes == 15
    store.update("u1", {"idleTimeoutMinutes": 30})
    updated = store.update("u1", {"wakeOnConnect": False})
    assert (updated.idleTimeoutMinutes, updated.wakeOnConnect) == (30, False)
    with pytest.raises(InvalidRequest, match="idleTimeoutMinutes"):
        store.update("u1", {"idleTimeoutMinutes": 0})
    with pytest.raises(InvalidRequest, match="nosuchfield"):
        store.update("u1", {"nosuchfield": 1})
    assert store.get("u1") == updated
    assert store.get("u2").wakeOnConnect is True


# --- counters and markers ------------------------------------------------------------------
def test_counters_add_up_atomically(family: Family) -> None:
    counters = family.ports.counters()
    later = family.now() + timedelta(minutes=1)
    assert counters.value("k") == 0
    assert counters.increment("k", expires_at=later) == 1
    assert counters.increment("k", expires_at=later, amount=2) == 3
    assert counters.value("k") == 3
    assert counters.value("other") == 0


def test_a_counter_whose_window_has_passed_reads_as_zero(family: Family) -> None:
    counters = family.ports.counters()
    counters.increment("k", expires_at=family.now() - timedelta(seconds=5), amount=4)
    assert counters.value("k") == 0
    assert counters.increment("k", expires_at=family.now() + timedelta(minutes=1)) == 1


def test_a_marker_is_set_once_until_it_expires(family: Family) -> None:
    counters = family.ports.counters()
    now = family.now()
    assert counters.mark("m", expires_at=now + timedelta(minutes=1), now=now)
    assert not counters.mark("m", expires_at=now + timedelta(minutes=1), now=now)
    assert counters.is_marked("m", now=now)
    assert not counters.is_marked("m", now=now + timedelta(minutes=2))
    assert not counters.is_marked("never", now=now)
    assert counters.mark("m", expires_at=now + timedelta(minutes=5), now=now + timedelta(minutes=2))
    assert counters.is_marked("m", now=now + timedelta(minutes=3))


def test_a_marker_expires_on_the_stores_own_clock(family: Family) -> None:
    family.travel()
    counters = family.ports.counters()
    assert counters.mark("m", expires_at=family.now() + timedelta(minutes=1))
    assert counters.is_marked("m")
    family.advance(61)
    assert not counters.is_marked("m")
    assert counters.mark("m", expires_at=family.now() + timedelta(minutes=1))


# --- Telegram ------------------------------------------------------------------------------
def test_a_pairing_code_works_once_and_only_while_fresh(family: Family) -> None:
    store = family.ports.telegram()
    now = family.now()
    code = store.create_pairing_code("web-user", now=now)
    assert code.expiresAt == now + timedelta(minutes=10)
    typed = f" {code.code[:4].lower()}-{code.code[4:]} "
    assert store.redeem_pairing_code(42, typed, attempts_per_hour=5, now=now) == "web-user"
    with pytest.raises(NotFound):
        store.redeem_pairing_code(42, code.code, attempts_per_hour=5, now=now)

    stale = store.create_pairing_code("web-user", now=now - timedelta(minutes=11))
    with pytest.raises(NotFound):
        store.redeem_pairing_code(43, stale.code, attempts_per_hour=5, now=now)
    late = store.create_pairing_code("web-user", now=now)
    with pytest.raises(NotFound):
        store.redeem_pairing_code(
            43, late.code, attempts_per_hour=5, now=now + timedelta(minutes=10)
        )


def test_a_new_pairing_code_voids_the_older_unused_ones(family: Family) -> None:
    store = family.ports.telegram()
    now = family.now()
    first = store.create_pairing_code("web-user", now=now)
    second = store.create_pairing_code("web-user", now=now)
    others = store.create_pairing_code("other-user", now=now)  # not touched
    with pytest.raises(NotFound):
        store.redeem_pairing_code(46, first.code, attempts_per_hour=5, now=now)
    assert store.redeem_pairing_code(46, second.code, attempts_per_hour=5, now=now) == "web-user"
    assert store.redeem_pairing_code(47, others.code, attempts_per_hour=5, now=now) == "other-user"
    # After a pairing, the next code works as the first did.
    third = store.create_pairing_code("web-user", now=now)
    assert store.redeem_pairing_code(48, third.code, attempts_per_hour=5, now=now) == "web-user"


def test_pairing_attempts_are_limited_per_chat_and_hour(family: Family) -> None:
    store = family.ports.telegram()
    now = family.now()
    right = store.create_pairing_code("web-user", now=now)
    for wrong in ("AAAAAAAA", "too short", "BBBBBBBB"):
        with pytest.raises(NotFound):
            store.redeem_pairing_code(44, wrong, attempts_per_hour=3, now=now)
    with pytest.raises(QuotaExceeded) as refused:  # even the right code, from this chat
        store.redeem_pairing_code(44, right.code, attempts_per_hour=3, now=now)
    assert refused.value.retry_after_s is not None
    assert 0 < refused.value.retry_after_s <= 3600
    assert store.redeem_pairing_code(45, right.code, attempts_per_hour=3, now=now) == "web-user"
    next_hour = now + timedelta(hours=1)
    with pytest.raises(NotFound):  # a new hour, new attempts (the code was used)
        store.redeem_pairing_code(44, right.code, attempts_per_hour=3, now=next_hour)


def test_every_family_redeems_a_code_as_the_webhook_reads_it(family: Family) -> None:
    store = family.ports.telegram()
    issued = store.create_pairing_code("web-user", now=family.now())
    typed = f" {pairing.display(issued.code).lower()} "
    canonical = pairing.normalize(typed)
    assert canonical == issued.code
    now = family.now()
    assert store.redeem_pairing_code(46, canonical, attempts_per_hour=3, now=now) == "web-user"


def test_a_user_has_one_linked_chat(family: Family) -> None:
    store = family.ports.telegram()
    link = store.link(42, "web-user", "alice")
    assert (link.chatId, link.username) == (42, "alice")
    assert store.user_for_chat(42) == "web-user"
    store.link(99, "web-user", "alice")  # a new chat replaces the old one
    assert store.user_for_chat(42) is None
    found = store.link_of_user("web-user")
    assert found is not None and found.chatId == 99
    store.link(99, "other-user")  # the chat moves to another user
    assert store.link_of_user("web-user") is None
    assert store.user_for_chat(99) == "other-user"
    assert store.unlink_user("other-user") is True
    assert store.unlink_user("other-user") is False
    assert store.user_for_chat(99) is None
