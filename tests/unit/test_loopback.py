"""Ports picked for a server that binds them later stay clear of the range outgoing
connections take theirs from (src/serverless_openclaw/loopback.py)."""

from __future__ import annotations

import socket

import pytest

from serverless_openclaw import loopback
from serverless_openclaw.core.errors import PortInUse
from serverless_openclaw.local.moto_server import ThreadedServer
from serverless_openclaw.local.moto_state import EmbeddedMoto


@pytest.mark.parametrize("count", [1, 2])
def test_a_free_port_is_below_the_ephemeral_range_and_free_with_the_next_ones(count: int) -> None:
    low, _ = loopback.ephemeral_range()
    port = loopback.free_port(count=count)
    assert port >= loopback.LOWEST and port + count - 1 < low
    for n in range(count):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port + n))


def test_a_taken_port_or_a_taken_next_port_is_passed_over(monkeypatch: pytest.MonkeyPatch) -> None:
    spare = loopback.free_port(count=2)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        offered = iter([busy, busy - 1, spare])  # the port itself, then the one before it
        monkeypatch.setattr(loopback, "ephemeral_range", lambda: (65_000, 65_535))
        monkeypatch.setattr(
            loopback.secrets, "randbelow", lambda _: next(offered) - loopback.LOWEST
        )
        assert loopback.free_port(count=2) == spare


def test_moto_on_a_taken_port_is_one_clear_error_not_an_exit() -> None:
    """werkzeug, left to bind, prints to stderr and exits the whole dev stack."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortInUse, match=f"port {port} is in use"):
            ThreadedServer("127.0.0.1", port).start()
        with pytest.raises(PortInUse, match="the local AWS"):
            EmbeddedMoto(port=port).bind("the local AWS")


def test_moto_serves_on_the_port_it_bound_before_starting() -> None:
    moto = EmbeddedMoto(port=loopback.free_port())
    moto.bind("the local AWS")
    try:
        moto.start()
        with socket.create_connection((moto.host, moto.port), timeout=5) as conn:
            conn.sendall(b"GET /moto-api/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            assert conn.recv(64).startswith(b"HTTP/1.1 200")
    finally:
        moto.stop()
