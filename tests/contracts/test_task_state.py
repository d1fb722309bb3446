"""TaskStateRows (under the shared TaskStates): version-conditioned writes, launch-fenced
attribute updates, and merges that never lose a concurrent heartbeat."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from serverless_openclaw.core.errors import ConditionFailed, TransitionRejected
from serverless_openclaw.core.task_state import RequestStop, Wake, apply
from serverless_openclaw.ports.stores import MAX_ERROR_CHARS

from .conftest import Family


def test_a_write_over_a_stale_read_loses(family: Family) -> None:
    states = family.ports.task_state()
    now = family.now()
    idle = states.get("u1")
    assert (idle.state, idle.version) == ("idle", 0)
    starting = states.write(idle, apply(idle, Wake("L1", now)))
    assert (starting.state, starting.version, starting.launch_id) == ("starting", 1, "L1")
    with pytest.raises(ConditionFailed):  # "the row must not exist" no longer holds
        states.write(idle, apply(idle, Wake("L2", now)))
    with pytest.raises(ConditionFailed):  # a second writer with the same stale read
        states.write(idle, idle)
    with pytest.raises(TransitionRejected):
        states.transition("u1", Wake("L2", now))
    assert states.get("u1").launch_id == "L1"


def test_concurrent_wakes_start_one_launch(family: Family) -> None:
    family.races()
    states = family.ports.task_state()
    now = family.now()
    barrier = threading.Barrier(8)
    won: list[str] = []
    lost: list[str] = []

    def wake(n: int) -> None:
        barrier.wait()
        try:
            states.transition("u1", Wake(f"L{n}", now))
            won.append(f"L{n}")
        except TransitionRejected:
            lost.append(f"L{n}")

    threads = [threading.Thread(target=wake, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1 and len(lost) == 7
    assert states.get("u1").launch_id == won[0]


def test_only_the_current_launch_updates_its_attributes_and_never_the_version(
    family: Family,
) -> None:
    states = family.ports.task_state()
    now = family.now()
    with pytest.raises(ConditionFailed):  # no row at all
        states.heartbeat("u1", "L1", now)
    starting = states.transition("u1", Wake("L1", now))[1]
    with pytest.raises(ConditionFailed):
        states.heartbeat("u1", "not-my-launch", now)
    with pytest.raises(ConditionFailed):
        states.assert_current("u1", "not-my-launch")
    states.assert_current("u1", "L1")

    states.mark_running("u1", "L1")
    beat = now + timedelta(minutes=1, microseconds=123456)
    states.heartbeat("u1", "L1", beat)
    states.record_backup("u1", "L1", now, 1234)
    states.set_next_wake("u1", "L1", now + timedelta(hours=1), "daily digest")
    states.set_phase("u1", "L1", "ready")
    row = states.get("u1")
    assert (row.state, row.last_activity_at, row.last_backup_bytes, row.next_wake_job) == (
        "running",
        beat,
        1234,
        "daily digest",
    )
    assert row.version == starting.version + 1  # mark_running only
    states.set_next_wake("u1", "L1", None, None)  # None removes
    row = states.get("u1")
    assert (row.next_wake_at, row.next_wake_job) == (None, None)


def test_a_transition_keeps_what_the_task_wrote_since_the_row_was_read(family: Family) -> None:
    states = family.ports.task_state()
    now = family.now()
    states.transition("u1", Wake("L1", now))
    states.mark_running("u1", "L1")
    before = states.get("u1")
    states.record_backup("u1", "L1", now + timedelta(seconds=5), 4321)  # meanwhile, the task
    after = states.write(before, apply(before, RequestStop(now + timedelta(seconds=6))))
    row = states.get("u1")
    assert (row.state, row.last_backup_bytes, row.version) == ("stopping", 4321, after.version)
    assert row.last_backup_at == now + timedelta(seconds=5)


def test_a_finished_launch_is_fenced_and_long_errors_are_cut(family: Family) -> None:
    states = family.ports.task_state()
    now = family.now()
    states.transition("u1", Wake("L1", now))
    states.mark_running("u1", "L1")
    states.record_failure("u1", "L1", "x" * (MAX_ERROR_CHARS + 100))
    idle = states.mark_idle("u1", "L1")
    assert (idle.state, idle.launch_id) == ("idle", None)
    row = states.get("u1")
    assert row.last_error == "x" * MAX_ERROR_CHARS
    assert row.launch_id is None and row.task_arn is None
    with pytest.raises(ConditionFailed):
        states.heartbeat("u1", "L1", now)
    with pytest.raises(TransitionRejected):
        states.mark_running("u1", "L1")


def test_scan_sees_every_users_row(family: Family) -> None:
    states = family.ports.task_state()
    now = family.now()
    states.transition("u1", Wake("L1", now))
    states.transition("u2", Wake("L2", now))
    states.mark_idle("u2", "L2")
    rows = {row.user_id: row for row in states.scan()}
    assert set(rows) == {"u1", "u2"}
    assert (rows["u1"].state, rows["u2"].state) == ("starting", "idle")
