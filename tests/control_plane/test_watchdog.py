"""The minutely watchdog against real tasks (ECS emulator) and real rows (moto)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from serverless_openclaw.adapters.aws.compute import LaunchSpec
from serverless_openclaw.app import services as ops
from serverless_openclaw.app.services import Services
from serverless_openclaw.gateway import watchdog

from .conftest import Cognito, Ecs, FakeLambdaContext, scheduled_event, shifted, wait_for


def _running(services: Services, user: str) -> str:
    ops.wake(services, user, "test")
    state = wait_for(lambda: (s := services.task_state.get(user)).state == "running" and s)
    assert state.task_arn
    return state.task_arn


def _wait_reported_stopped(services: Services, arn: str) -> None:
    """Until DescribeTasks says STOPPED, which is what the watchdog goes by: the emulator
    reports it once it has reaped the process and what it left behind, a moment after the
    process exits (ECS lags behind the container too)."""
    wait_for(lambda: services.compute.describe([arn])[arn].last_status == "STOPPED")


def test_an_idle_agent_is_stopped_after_the_users_idle_timeout(
    services: Services, ecs: Ecs
) -> None:
    services.user_settings.update("idle-user", {"idleTimeoutMinutes": 5})
    arn = _running(services, "idle-user")

    watchdog.sweep(shifted(services, timedelta(minutes=4)))
    assert services.task_state.get("idle-user").state == "running"

    report = watchdog.sweep(shifted(services, timedelta(minutes=6)))
    assert report.actions["stop"] == 1
    # The task got SIGTERM, reported itself idle and exited.
    wait_for(lambda: services.task_state.get("idle-user").state == "idle")
    wait_for(lambda: ecs.alive_tasks_of("idle-user") == [])
    _wait_reported_stopped(services, arn)


def test_an_agent_with_recent_activity_is_kept(services: Services, ecs: Ecs) -> None:
    services.user_settings.update("busy-user", {"idleTimeoutMinutes": 5})
    state = services.task_state.get
    _running(services, "busy-user")
    launch = state("busy-user").launch_id
    assert launch
    services.task_state.heartbeat("busy-user", launch, datetime.now(UTC) + timedelta(minutes=8))
    report = watchdog.sweep(shifted(services, timedelta(minutes=10)))
    assert report.actions["none"] == 1
    assert state("busy-user").state == "running"
    assert len(ecs.alive_tasks_of("busy-user")) == 1


def test_an_orphan_task_is_stopped_and_an_owned_one_is_not(services: Services, ecs: Ecs) -> None:
    owned = _running(services, "owner")
    orphan = services.compute.run_task(
        LaunchSpec("owner", "launch-nobody-owns", services.inbox.queue_url("owner"))
    )
    report = watchdog.sweep(services)
    assert report.orphans_stopped == [orphan]
    wait_for(lambda: ecs.alive_tasks_of("owner") == [owned])


def test_a_start_that_never_completes_is_given_up_and_reset(
    services: Services, ecs_sleeper: Ecs
) -> None:
    started = ops.wake(services, "stuck-user", "test")
    assert started.state == "starting"
    assert started.task_arn

    watchdog.sweep(shifted(services, timedelta(minutes=5)))
    assert services.task_state.get("stuck-user").state == "starting"

    watchdog.sweep(shifted(services, timedelta(minutes=11)))
    assert services.task_state.get("stuck-user").state == "stopping"
    wait_for(lambda: ecs_sleeper.alive_tasks_of("stuck-user") == [])
    _wait_reported_stopped(services, started.task_arn)

    watchdog.sweep(shifted(services, timedelta(minutes=12)))
    final = services.task_state.get("stuck-user")
    assert (final.state, final.last_error) == ("idle", "start timed out")
    # And the next message can start a fresh task.
    assert ops.wake(services, "stuck-user", "test").state == "starting"


def test_a_row_whose_task_died_is_reset_so_the_next_message_starts_one(
    services: Services, ecs: Ecs
) -> None:
    arn = _running(services, "crashy")
    ecs.kill(arn)
    assert services.task_state.get("crashy").state == "running"  # nobody told the row

    report = watchdog.sweep(services)
    assert report.actions["reset"] == 1
    state = services.task_state.get("crashy")
    assert (state.state, state.last_error, state.task_arn) == ("idle", "task is gone", None)
    new_arn = _running(services, "crashy")
    assert new_arn != arn


def test_a_message_sent_while_stopping_starts_the_agent_once_it_is_down(
    services: Services, ecs_sleeper: Ecs
) -> None:
    started = ops.wake(services, "late", "test")
    assert started.launch_id
    services.task_state.mark_running("late", started.launch_id)
    ops.stop(services, "late", "test")
    woken = ops.wake(services, "late", "message")
    assert (woken.state, woken.wake_pending) == ("stopping", True)
    wait_for(lambda: ecs_sleeper.alive_tasks_of("late") == [])
    assert started.task_arn
    _wait_reported_stopped(services, started.task_arn)

    watchdog.sweep(services)  # task gone -> idle
    watchdog.sweep(services)  # idle with a pending wake -> starting
    again = services.task_state.get("late")
    assert again.state == "starting"
    assert again.launch_id != started.launch_id
    assert len(ecs_sleeper.alive_tasks_of("late")) == 1


def test_the_handler_runs_the_sweep_for_a_scheduled_event(
    services: Services, ecs: Ecs, cognito: Cognito
) -> None:
    arn = _running(services, "scheduled")
    ecs.kill(arn)
    answer = watchdog.handler(scheduled_event(), FakeLambdaContext())
    assert answer["statusCode"] == 200
    assert answer["actions"] == {"reset": 1}
    assert services.task_state.get("scheduled").state == "idle"
