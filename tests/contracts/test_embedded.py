"""What only the embedded family promises: one durable database file shared by separate
openers, WAL with synchronous commits, blob versions bounded per key, writes that never leave
a partial file behind."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.control_plane.conftest import ConnectionsEndpoint, connections_app

from harness import SharedServers
from serverless_openclaw.adapters.embedded import EmbeddedPorts
from serverless_openclaw.adapters.embedded.blobs import KEEP_VERSIONS
from serverless_openclaw.adapters.embedded.database import Database
from serverless_openclaw.adapters.embedded.loopback_push import LoopbackConnections
from serverless_openclaw.adapters.memory import FakeClock
from serverless_openclaw.contracts.records import Message
from serverless_openclaw.core.errors import ConnectionGone, StorageUnavailable, TransitionRejected
from serverless_openclaw.core.task_state import Wake


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "state"


def test_what_one_opener_stored_another_reads_after_a_reopen(root: Path) -> None:
    clock = FakeClock()
    first = EmbeddedPorts(root, clock=clock)
    message = Message(
        id="m-00000001", conversationId="main", role="user", text="hi", createdAt=clock()
    )
    first.conversations().put_message("u1", message)
    first.secrets().put("/bot/token", "t-1")
    first.close()
    with pytest.raises(StorageUnavailable):  # a closed database says so
        first.conversations().has_message("u1", "main", message.id)

    again = EmbeddedPorts(root, clock=clock)
    try:
        assert again.conversations().list_messages("u1", "main").items == [message]
        assert again.secrets().get("/bot/token").get_secret_value() == "t-1"
        assert (root / "state.db").is_file()
    finally:
        again.close()


def test_every_connection_writes_ahead_and_commits_synchronously(root: Path) -> None:
    db = Database(root / "state.db")
    try:
        seen: list[tuple[str, int]] = []

        def look() -> None:  # another thread gets its own connection
            conn = db.connection()
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            seen.append((mode, conn.execute("PRAGMA synchronous").fetchone()[0]))

        thread = threading.Thread(target=look)
        thread.start()
        thread.join()
        look()
        assert seen == [("wal", 2), ("wal", 2)]  # 2 = FULL
        assert db.integrity_check() == "ok"
    finally:
        db.close()


def test_openers_of_one_file_race_to_one_launch(root: Path) -> None:
    now = datetime.now(UTC)
    openers = [EmbeddedPorts(root) for _ in range(4)]
    barrier = threading.Barrier(len(openers))
    won: list[str] = []

    def wake(n: int) -> None:
        barrier.wait()
        try:
            openers[n].task_state().transition("u1", Wake(f"L{n}", now))
            won.append(f"L{n}")
        except TransitionRejected:
            pass

    threads = [threading.Thread(target=wake, args=(n,)) for n in range(len(openers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert len(won) == 1
        assert openers[0].task_state().get("u1").launch_id == won[0]
    finally:
        for opener in openers:
            opener.close()


def test_a_key_keeps_its_last_versions_and_no_partial_files(root: Path, tmp_path: Path) -> None:
    ports = EmbeddedPorts(root)
    blobs = ports.state_blobs("agents/u1/")
    source = tmp_path / "notes.md"
    versions = []
    for n in range(KEEP_VERSIONS + 3):
        source.write_bytes(f"version {n}".encode() * 1000)
        versions.append(blobs.upload("notes.md", source))
    blobs.delete("notes.md")  # a delete marker counts as a version

    kept = versions[-(KEEP_VERSIONS - 1) :]
    for gone in versions[: -(KEEP_VERSIONS - 1)]:
        with pytest.raises(StorageUnavailable):
            blobs.download("notes.md", tmp_path / "out", gone)
    for n, version in enumerate(kept, start=len(versions) - len(kept)):
        blobs.download("notes.md", tmp_path / "out", version)
        assert (tmp_path / "out").read_bytes() == f"version {n}".encode() * 1000
    leftovers = [p.name for p in (root / "blobs").rglob("*") if ".tmp-" in p.name]
    assert leftovers == []
    assert not list(tmp_path.glob(".out.*.part"))
    ports.close()


@pytest.fixture
def connections_endpoint(shared_servers: SharedServers) -> Iterator[ConnectionsEndpoint]:
    """API Gateway's @connections as the local stack's emulator answers it (410 once gone)."""
    endpoint = ConnectionsEndpoint(url="")
    with shared_servers.mount("connections", connections_app(endpoint)) as handle:
        endpoint.url = handle.url
        yield endpoint


def test_pushes_from_many_threads_arrive_and_a_gone_connection_says_so(
    root: Path, connections_endpoint: ConnectionsEndpoint
) -> None:
    """The embedded family's push client (the local stack's @connections): one pool shared
    by every handler and bridge thread, closed with the ports."""
    push = LoopbackConnections(connections_endpoint.url)
    ports = EmbeddedPorts(root, connections_api=push)
    api = ports.connections_api()
    assert api is push

    def send(n: int) -> None:
        push.post("conn-1", json.dumps({"type": "pong", "n": n}).encode())

    threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(frame["n"] for frame in connections_endpoint.frames("conn-1")) == list(range(8))

    push.delete("conn-1")
    with pytest.raises(ConnectionGone):
        push.post("conn-1", b"{}")
    ports.close()
    push.post("conn-2", b'{"type": "pong"}')  # a late push after the stop opens a new pool
    assert connections_endpoint.frames("conn-2") == [{"type": "pong"}]
    push.close()
