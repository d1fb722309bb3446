"""Property-based tests of the agent lifecycle: no sequence of events leaves two tasks for one
user, or a Running row without a task.

Two levels: the pure machine (`core.task_state.apply`) with a model of ECS, many examples;
then the real thing — rows in moto, tasks as processes of the ECS emulator, the control
plane's own operations and watchdog, the test playing the agent — fewer examples.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from serverless_openclaw.adapters.aws.inbox import Inbox
from serverless_openclaw.app import services as ops
from serverless_openclaw.app.services import Services
from serverless_openclaw.core.errors import TransitionRejected
from serverless_openclaw.core.task_state import (
    Launched,
    LaunchFailed,
    MarkRunning,
    RequestStop,
    Stopped,
    TaskEvent,
    TaskState,
    Wake,
    apply,
)
from serverless_openclaw.gateway import watchdog
from serverless_openclaw.local.ecs_emulator import EcsEmulator, TaskDefinition
from serverless_openclaw.local.serve import serve_in_thread
from serverless_openclaw.settings import HandlerSettings
from serverless_openclaw.wiring import wire_lambda

from .conftest import SLEEPER, shifted, wait_for

T0 = datetime(2026, 1, 1, tzinfo=UTC)


# --- the pure machine ----------------------------------------------------------------------
class PureLifecycle(RuleBasedStateMachine):
    """Rows change only through `apply`; a task exists from a successful launch until it
    exits. Whoever starts a task first wins the Idle -> Starting write."""

    def __init__(self) -> None:
        super().__init__()
        self.row = TaskState(user_id="u")
        self.tasks: dict[str, str] = {}  # arn -> launch id, for tasks alive
        self.clock = T0

    def _try(self, event: TaskEvent) -> bool:
        try:
            self.row = apply(self.row, event)
        except TransitionRejected:
            return False
        return True

    def _now(self) -> datetime:
        self.clock += timedelta(seconds=7)
        return self.clock

    @rule(ok=st.booleans())
    def wake_and_launch(self, ok: bool) -> None:
        launch = uuid.uuid4().hex
        if not self._try(Wake(launch, self._now())):
            return
        if ok:
            arn = f"arn:{launch}"
            self.tasks[arn] = launch
            self._try(Launched(launch, arn, self._now()))
        else:
            self._try(LaunchFailed(launch, "no capacity", self._now()))

    @rule()
    def agent_ready(self) -> None:
        for launch in list(self.tasks.values()):
            self._try(MarkRunning(launch, self._now()))

    @rule()
    def stop_requested(self) -> None:
        if self._try(RequestStop(self._now())):
            # StopTask: the task exits (after SIGTERM) -- possibly reporting idle itself.
            for arn, launch in list(self.tasks.items()):
                if launch == self.row.launch_id:
                    del self.tasks[arn]
                    self._try(Stopped(launch, self._now()))

    @rule()
    def task_crashes(self) -> None:
        self.tasks.clear()

    @rule()
    def watchdog_sees_task_gone(self) -> None:
        if self.row.active and self.row.task_arn not in self.tasks:
            self._try(Stopped(self.row.launch_id, self._now(), "task is gone"))

    @rule()
    def stale_agent_reports(self) -> None:
        for event in (MarkRunning("stale", self._now()), Stopped("stale", self._now())):
            assert not self._try(event)

    @invariant()
    def at_most_one_task(self) -> None:
        assert len(self.tasks) <= 1

    @invariant()
    def running_means_a_task_or_a_crash_not_yet_seen(self) -> None:
        if self.row.state == "running":
            assert self.row.launch_id is not None
            assert self.row.task_arn is not None
        if self.row.state == "idle":
            assert self.row.launch_id is None
            assert self.row.task_arn is None


TestPureLifecycle = PureLifecycle.TestCase
TestPureLifecycle.settings = settings(max_examples=300, stateful_step_count=30, deadline=None)


# --- the real thing -------------------------------------------------------------------------
USER = "prop-user"


class RealLifecycle(RuleBasedStateMachine):
    """Same events, through the control plane's operations against moto and the emulator."""

    services: Services
    emulator: EcsEmulator

    def __init__(self) -> None:
        super().__init__()
        self.user = f"{USER}-{uuid.uuid4().hex[:8]}"
        self.crashed_since_sweep = False

    def _alive(self) -> list[str]:
        alive = []
        for task in list(self.emulator._tasks.values()):
            env = task.overrides["containerOverrides"][0]["environment"]
            owner = {e["name"]: e["value"] for e in env}["SOC_USER_ID"]
            if owner == self.user and task.process is not None and task.process.poll() is None:
                alive.append(task.arn)
        return alive

    def _settle(self) -> None:
        """Wait until ECS has noticed every exit (the reaper threads)."""
        wait_for(
            lambda: all(
                (t.process is None or t.process.poll() is None) == (t.last_status != "STOPPED")
                for t in list(self.emulator._tasks.values())
            ),
            timeout=10,
        )

    @rule(n=st.integers(min_value=1, max_value=4))
    def wake(self, n: int) -> None:
        threads = [
            threading.Thread(target=lambda: ops.wake(self.services, self.user, "prop"))
            for _ in range(n)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)

    @rule()
    def agent_marks_running(self) -> None:
        row = self.services.task_state.get(self.user)
        if row.launch_id and row.task_arn in self._alive():
            with contextlib.suppress(TransitionRejected):
                self.services.task_state.mark_running(self.user, row.launch_id)

    @rule()
    def stop(self) -> None:
        ops.stop(self.services, self.user, "prop")
        self._settle()

    @precondition(lambda self: bool(self._alive()))
    @rule(clean=st.booleans())
    def task_exits(self, clean: bool) -> None:
        row = self.services.task_state.get(self.user)
        for arn in self._alive():
            if clean and row.launch_id and arn == row.task_arn:
                with contextlib.suppress(TransitionRejected):  # the agent's last write
                    self.services.task_state.mark_idle(self.user, row.launch_id)
            else:
                self.crashed_since_sweep = True
            process = self.emulator._tasks[arn].process
            assert process is not None
            os.kill(process.pid, signal.SIGKILL)
        wait_for(lambda: not self._alive(), timeout=10)
        self._settle()

    @rule(minutes=st.sampled_from([0, 11, 20]))
    def sweep(self, minutes: int) -> None:
        watchdog.sweep(shifted(self.services, timedelta(minutes=minutes)))
        self._settle()
        self.crashed_since_sweep = False

    @invariant()
    def never_two_tasks(self) -> None:
        assert len(self._alive()) <= 1

    @invariant()
    def running_has_its_task(self) -> None:
        row = self.services.task_state.get(self.user)
        if row.state == "running" and not self.crashed_since_sweep:
            assert row.task_arn in self._alive()
        if row.state == "idle":
            assert row.launch_id is None


@pytest.fixture
def real_lifecycle(
    aws: object,
    provisioned: object,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> object:
    emulator = EcsEmulator(
        default=TaskDefinition(command=SLEEPER), log_dir=tmp_path / "tasks", stop_timeout_s=2
    )
    handle = serve_in_thread(emulator.app)
    monkeypatch.setenv("AWS_ENDPOINT_URL_ECS", handle.url)
    prefix = getattr(aws, "prefix")  # noqa: B009 - the deployment's names (IAM conformance)
    monkeypatch.setenv("SOC_ECS_CLUSTER", f"{prefix}-agents")
    monkeypatch.setenv("SOC_TASK_DEFINITION", f"{prefix}-agent")
    monkeypatch.setenv(
        "SOC_INBOX_DLQ_ARN",
        Inbox(provisioned.sqs(), prefix).dead_letter_arn(),  # type: ignore[attr-defined]
    )
    RealLifecycle.services = wire_lambda(HandlerSettings(), clients=provisioned)  # type: ignore[arg-type]
    RealLifecycle.emulator = emulator
    yield RealLifecycle
    emulator.close(timeout_s=3)
    handle.stop()


def test_real_lifecycle_never_runs_two_tasks_or_a_taskless_running_row(
    real_lifecycle: type[RealLifecycle],
) -> None:
    from hypothesis.stateful import run_state_machine_as_test

    run_state_machine_as_test(
        real_lifecycle,
        settings=settings(
            max_examples=12,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
    # The run really launched and stopped tasks (not a vacuous pass).
    assert real_lifecycle.emulator.run_task_calls > 0
