"""The recording fakes of the memory family: @connections pushes and compute tasks, and what
`MemoryPorts` shares between the ports it hands out."""

from __future__ import annotations

import json

import pytest

from serverless_openclaw.adapters.memory import FakeClock, IdentityNotConfigured, MemoryPorts
from serverless_openclaw.contracts.records import Message
from serverless_openclaw.core.errors import ConnectionGone, StorageUnavailable
from serverless_openclaw.ports.compute import LaunchSpec


def test_pushed_frames_are_recorded_per_connection_until_it_is_gone() -> None:
    push = MemoryPorts().connections_api()
    assert push is not None
    push.post("c1", json.dumps({"type": "pong"}).encode())
    push.post("c1", b'{"type": "status", "agent": "idle"}')
    push.post("c2", b'{"type": "pong"}')
    assert push.frames("c1") == [{"type": "pong"}, {"type": "status", "agent": "idle"}]
    assert push.get("c1") == {"connectionId": "c1"}

    push.gone("c1")
    with pytest.raises(ConnectionGone):
        push.post("c1", b"{}")
    with pytest.raises(ConnectionGone):
        push.get("c1")
    push.delete("c2")  # closed by the server
    with pytest.raises(ConnectionGone):
        push.post("c2", b"{}")
    assert len(push.frames("c1")) == 2


def test_a_factory_without_push_has_no_connections_api() -> None:
    assert MemoryPorts(push=False).connections_api() is None


def test_started_and_stopped_tasks_are_recorded_and_their_status_is_set_by_the_test() -> None:
    clock = FakeClock()
    compute = MemoryPorts(clock=clock).compute()
    spec = LaunchSpec(user_id="u1", launch_id="L1", inbox_queue_url="memory://inbox/u1")
    arn = compute.run_task(spec)
    assert compute.runs == [spec]
    assert compute.list_running() == [arn]
    info = compute.describe([arn, "memory:task/unknown"])[arn]
    assert (info.user_id, info.launch_id, info.started_at, info.alive) == (
        "u1",
        "L1",
        clock(),
        True,
    )

    compute.set_status(arn, "RUNNING")
    compute.stop_task(arn, "idle")
    assert compute.stops == [(arn, "idle")]
    assert compute.list_running() == []
    assert compute.describe([arn])[arn].alive  # stopping: still alive until STOPPED
    stopped = compute.set_status(arn, "STOPPED", exit_code=0)
    assert (stopped.alive, stopped.stopped_reason, stopped.exit_code) == (False, "idle", 0)

    compute.fail_next_run("capacity unavailable")
    with pytest.raises(StorageUnavailable, match="capacity"):
        compute.run_task(spec)
    assert compute.run_task(spec) != arn


def test_the_factory_hands_out_shared_ports_and_asks_for_identity() -> None:
    clock = FakeClock()
    ports = MemoryPorts(clock=clock, secrets={"/bot/token": "t"})
    message = Message(
        id="m-00000001", conversationId="main", role="user", text="hi", createdAt=clock()
    )
    ports.conversations().put_message("u1", message)
    assert ports.conversations().has_message("u1", "main", message.id)
    assert ports.secrets().get("/bot/token").get_secret_value() == "t"
    assert ports.state_blobs("agents/u1").prefix == "agents/u1/"
    with pytest.raises(IdentityNotConfigured, match="users"):
        ports.users()
    with pytest.raises(IdentityNotConfigured, match="verifier"):
        ports.verifier()
