"""Where agent tasks run: ECS Fargate on AWS, child processes locally."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Protocol

STATE_ROOT: Final = "agents/"
"""Every user's backup lives below this prefix of the state store (IAM names it)."""


def state_prefix(user_id: str) -> str:
    """Where a user's backup lives in the state store (and all their uploaded files)."""
    return f"{STATE_ROOT}{user_id}/"


@dataclass(frozen=True)
class LaunchSpec:
    """What a task needs to know about itself."""

    user_id: str
    launch_id: str
    inbox_queue_url: str
    wake_reason: str | None = None
    """Why it starts (`app.services.wake`'s reason): the task shows life accordingly."""

    def environment(self) -> dict[str, str]:
        from serverless_openclaw.settings import launch_environment

        return launch_environment(
            user_id=self.user_id,
            inbox_queue_url=self.inbox_queue_url,
            state_prefix=state_prefix(self.user_id),
            task_id=self.launch_id,
            wake_reason=self.wake_reason,
        )


@dataclass(frozen=True)
class TaskInfo:
    arn: str
    last_status: str
    desired_status: str
    user_id: str | None = None
    launch_id: str | None = None
    started_at: datetime | None = None
    stopped_reason: str | None = None
    exit_code: int | None = None
    environment: dict[str, str] = field(default_factory=dict)

    @property
    def alive(self) -> bool:
        """The task may still be running — also while it stops (a stopping agent still makes
        its final backup and writes; nothing may start a second task for the user before
        it is STOPPED)."""
        return self.last_status != "STOPPED"


class Compute(Protocol):
    def run_task(self, spec: LaunchSpec) -> str:
        """Start a task; returns its id (an ARN on ECS). `StorageUnavailable` when it could
        not start."""
        ...

    def stop_task(self, task_arn: str, reason: str) -> None:
        """Ask the task to stop (SIGTERM, then SIGKILL after the stop timeout)."""
        ...

    def describe(self, task_arns: Sequence[str]) -> dict[str, TaskInfo]:
        """The tasks still known, by id (stopped tasks are kept for a while)."""
        ...

    def list_running(self) -> list[str]:
        """Ids of every task whose desired status is RUNNING."""
        ...
