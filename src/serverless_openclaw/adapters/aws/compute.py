"""Where agent tasks run: the `Compute` protocol and ECS Fargate behind it.

Locally the same `EcsCompute` talks to `local/ecs_emulator.py` (through
`AWS_ENDPOINT_URL_ECS`), which runs each task as a child process.

Each task runs as its person's own IAM role (`overrides.taskRoleArn`, adapters/aws/
agent_roles.py) when the settings name the roles' ARN prefix. A role made a moment ago is not
yet assumable by ECS everywhere (IAM is eventually consistent): RunTask retries that refusal
with growing delays, then fails with a message the person and the operator can act on.

Each task gets its identity in the environment of the agent container:
`SOC_USER_ID`, `SOC_INBOX_QUEUE_URL`, `SOC_STATE_PREFIX` (`agents/<userId>/`) and
`SOC_TASK_ID` (the launch id already written to the task-state row, so the task can make
conditional writes as itself). `startedBy` carries the launch id too (ECS allows 36
characters), which is how the watchdog recognises tasks no row owns.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from serverless_openclaw.adapters.aws.agent_roles import user_hash
from serverless_openclaw.adapters.aws.errors import converted
from serverless_openclaw.core.errors import InvalidRequest, StorageUnavailable
from serverless_openclaw.ports.compute import Compute, LaunchSpec, TaskInfo, state_prefix

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient

STARTED_BY_MAX: Final = 36
ROLE_RETRY_DELAYS_S: Final = (1.0, 2.0, 4.0, 8.0)
"""15 s in all: what a new role takes to become assumable, within a handler's 29 s."""
ROLE_NOT_READY: Final = re.compile(r"unable to assume the role|role .*(?:not valid|assum)", re.I)
"""How ECS refuses a task role it cannot (yet) assume."""

__all__ = ["Compute", "EcsCompute", "EcsSettings", "LaunchSpec", "TaskInfo", "state_prefix"]


def _converted(what: str) -> AbstractContextManager[None]:
    return converted("ECS", what)


@dataclass(frozen=True)
class EcsSettings:
    cluster: str
    task_definition: str
    container_name: str = "agent"
    subnets: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()
    capacity_provider: str = "FARGATE_SPOT"
    assign_public_ip: bool = True
    agent_role_arn_prefix: str | None = None
    """`arn:...:role/<prefix>-user-`: each task runs as its person's role (None: as the task
    definition's)."""

    def task_role_arn(self, user_id: str) -> str | None:
        if self.agent_role_arn_prefix is None:
            return None
        return self.agent_role_arn_prefix + user_hash(user_id)


class EcsCompute:
    """ECS Fargate (Spot by default, decision D5) in public subnets with a public IP and no
    inbound rule (decision D2)."""

    def __init__(
        self,
        client: ECSClient,
        settings: EcsSettings,
        *,
        role_retry_delays: Sequence[float] = ROLE_RETRY_DELAYS_S,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._ecs = client
        self._settings = settings
        self._role_retry_delays = tuple(role_retry_delays)
        self._sleep = sleep

    def run_task(self, spec: LaunchSpec) -> str:
        role = self._settings.task_role_arn(spec.user_id)
        delays = iter(self._role_retry_delays)
        while True:
            try:
                return self._run_task(spec, role)
            except (StorageUnavailable, InvalidRequest) as exc:
                if role is None or not ROLE_NOT_READY.search(str(exc)):
                    raise
                delay = next(delays, None)
                if delay is None:
                    raise StorageUnavailable(
                        f"ECS could not take on this person's role ({role}). A role made a "
                        "moment ago needs a few seconds: try again in a minute. If it "
                        "persists, the administrator runs `serverless-openclaw user add` "
                        "for this person again, which makes the role."
                    ) from exc
                self._sleep(delay)

    def _run_task(self, spec: LaunchSpec, role: str | None) -> str:
        s = self._settings
        overrides: dict[str, Any] = {
            "containerOverrides": [
                {
                    "name": s.container_name,
                    "environment": [{"name": k, "value": v} for k, v in spec.environment().items()],
                }
            ]
        }
        if role is not None:
            overrides["taskRoleArn"] = role
        with _converted("RunTask"):
            answer = self._ecs.run_task(
                cluster=s.cluster,
                taskDefinition=s.task_definition,
                count=1,
                capacityProviderStrategy=[{"capacityProvider": s.capacity_provider, "weight": 1}],
                networkConfiguration={
                    "awsvpcConfiguration": {
                        "subnets": list(s.subnets),
                        "securityGroups": list(s.security_groups),
                        "assignPublicIp": "ENABLED" if s.assign_public_ip else "DISABLED",
                    }
                },
                overrides=overrides,  # type: ignore[arg-type]
                startedBy=spec.launch_id[:STARTED_BY_MAX],
                enableExecuteCommand=False,
            )
        tasks = answer.get("tasks", [])
        if not tasks:
            reasons = "; ".join(
                f"{f.get('reason', '?')} {f.get('detail', '')}".strip()
                for f in answer.get("failures", [])
            )
            raise StorageUnavailable(f"ECS RunTask started nothing: {reasons or 'no reason'}")
        return tasks[0]["taskArn"]

    def stop_task(self, task_arn: str, reason: str) -> None:
        with _converted("StopTask"):
            self._ecs.stop_task(cluster=self._settings.cluster, task=task_arn, reason=reason[:255])

    def describe(self, task_arns: Sequence[str]) -> dict[str, TaskInfo]:
        found: dict[str, TaskInfo] = {}
        arns = list(task_arns)
        for start in range(0, len(arns), 100):
            with _converted("DescribeTasks"):
                answer = self._ecs.describe_tasks(
                    cluster=self._settings.cluster, tasks=arns[start : start + 100]
                )
            for task in answer.get("tasks", []):
                info = self._info(dict(task))
                found[info.arn] = info
        return found

    def list_running(self) -> list[str]:
        arns: list[str] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"cluster": self._settings.cluster, "desiredStatus": "RUNNING"}
            if token:
                kwargs["nextToken"] = token
            with _converted("ListTasks"):
                answer = self._ecs.list_tasks(**kwargs)
            arns.extend(answer.get("taskArns", []))
            token = answer.get("nextToken")
            if not token:
                return arns

    def _info(self, task: dict[str, Any]) -> TaskInfo:
        env: dict[str, str] = {}
        for override in task.get("overrides", {}).get("containerOverrides", []):
            if override.get("name") == self._settings.container_name:
                env.update({e["name"]: e["value"] for e in override.get("environment", [])})
        exit_code: int | None = None
        for container in task.get("containers", []):
            if container.get("name") == self._settings.container_name:
                exit_code = container.get("exitCode")
        return TaskInfo(
            arn=task["taskArn"],
            last_status=task.get("lastStatus", "UNKNOWN"),
            desired_status=task.get("desiredStatus", "UNKNOWN"),
            user_id=env.get("SOC_USER_ID"),
            launch_id=env.get("SOC_TASK_ID") or task.get("startedBy"),
            started_at=task.get("startedAt"),
            stopped_reason=task.get("stoppedReason"),
            exit_code=exit_code,
            environment=env,
        )
