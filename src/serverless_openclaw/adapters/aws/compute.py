"""Where agent tasks run: the `Compute` protocol and ECS Fargate behind it.

Locally the same `EcsCompute` talks to `local/ecs_emulator.py` (through
`AWS_ENDPOINT_URL_ECS`), which runs each task as a child process.

Each task gets its identity in the environment of the agent container:
`SOC_USER_ID`, `SOC_INBOX_QUEUE_URL`, `SOC_STATE_PREFIX` (`agents/<userId>/`) and
`SOC_TASK_ID` (the launch id already written to the task-state row, so the task can make
conditional writes as itself). `startedBy` carries the launch id too (ECS allows 36
characters), which is how the watchdog recognises tasks no row owns.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from serverless_openclaw.adapters.aws.errors import converted
from serverless_openclaw.core.errors import StorageUnavailable
from serverless_openclaw.ports.compute import Compute, LaunchSpec, TaskInfo, state_prefix

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient

STARTED_BY_MAX: Final = 36

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


class EcsCompute:
    """ECS Fargate (Spot by default, decision D5) in public subnets with a public IP and no
    inbound rule (decision D2)."""

    def __init__(self, client: ECSClient, settings: EcsSettings) -> None:
        self._ecs = client
        self._settings = settings

    def run_task(self, spec: LaunchSpec) -> str:
        s = self._settings
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
                overrides={
                    "containerOverrides": [
                        {
                            "name": s.container_name,
                            "environment": [
                                {"name": k, "value": v} for k, v in spec.environment().items()
                            ],
                        }
                    ]
                },
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
