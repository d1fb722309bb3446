"""Taking a deployment down in an order AWS accepts (the operator's credentials).

`cdk destroy --all` deleted the stacks while agent tasks ran: the watchdog went first, and
the cluster and the VPC cannot be deleted while tasks and their network interfaces exist.
Here: the stacks that can start a task (the API with its handlers and watchdog, the web app)
go first, then every task of the cluster is stopped and awaited until ECS reports it
STOPPED, then the remaining stacks go, dependents before what they depend on. Queues made at
run time (the inboxes) are no stack's: `delete_queues` removes them when data is not kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from botocore.exceptions import WaiterError

from serverless_openclaw.adapters.aws.clients import AwsClients
from serverless_openclaw.adapters.aws.errors import converted
from serverless_openclaw.adapters.aws.inbox import dead_letter_queue_name, inbox_name_prefix
from serverless_openclaw.core.errors import NotFound, StorageUnavailable

Progress = Callable[[str], None]

STOP_TIMEOUT_S: Final = 300.0
"""A task gets stopTimeout (120 s) for its final backup; Fargate then needs a while more."""


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class Waits:
    """How long and how often to poll (tests pass zeros)."""

    stack_delay_s: int = 10
    stack_attempts: int = 180
    task_poll_s: float = 5.0
    task_timeout_s: float = STOP_TIMEOUT_S


class Teardown:
    def __init__(
        self,
        clients: AwsClients,
        *,
        waits: Waits = Waits(),
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        progress: Progress = _quiet,
    ) -> None:
        self._cloudformation: Any = clients.client("cloudformation")
        self._ecs = clients.ecs()
        self._sqs = clients.sqs()
        self._waits = waits
        self._sleep = sleep
        self._clock = clock
        self._progress = progress

    # --- stacks ---------------------------------------------------------------------------
    def stack_exists(self, name: str) -> bool:
        try:
            with converted(
                "CloudFormation", f"describe {name}", codes={"ValidationError": NotFound}
            ):
                stacks = self._cloudformation.describe_stacks(StackName=name)["Stacks"]
        except NotFound:
            return False
        return any(s.get("StackStatus") != "DELETE_COMPLETE" for s in stacks)

    def delete_stacks(self, names: Sequence[str]) -> list[str]:
        """Delete each stack in turn and wait until it is gone; returns those deleted."""
        deleted: list[str] = []
        for name in names:
            if not self.stack_exists(name):
                continue
            self._progress(f"deleting stack {name}")
            with converted("CloudFormation", f"delete {name}"):
                self._cloudformation.delete_stack(StackName=name)
            try:
                self._cloudformation.get_waiter("stack_delete_complete").wait(
                    StackName=name,
                    WaiterConfig={
                        "Delay": self._waits.stack_delay_s,
                        "MaxAttempts": self._waits.stack_attempts,
                    },
                )
            except WaiterError as exc:
                raise StorageUnavailable(
                    f"stack {name} was not deleted ({exc}); see its events in the "
                    "CloudFormation console, fix the cause and run destroy again"
                ) from exc
            deleted.append(name)
        return deleted

    # --- tasks ----------------------------------------------------------------------------
    def running_tasks(self, cluster: str) -> list[str]:
        arns: list[str] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"cluster": cluster, "desiredStatus": "RUNNING"}
            if token:
                kwargs["nextToken"] = token
            try:
                with converted("ECS", "ListTasks", codes={"ClusterNotFoundException": NotFound}):
                    answer = self._ecs.list_tasks(**kwargs)
            except NotFound:
                return []
            arns += answer.get("taskArns", [])
            token = answer.get("nextToken")
            if not token:
                return arns

    def stop_tasks(self, cluster: str) -> list[str]:
        """Stop every task of the cluster and wait until ECS reports each STOPPED (its
        network interface is released then); returns the tasks stopped."""
        arns = self.running_tasks(cluster)
        if not arns:
            return []
        self._progress(f"stopping {len(arns)} agent task(s) and waiting until they stop")
        for arn in arns:
            with converted("ECS", "StopTask"):
                self._ecs.stop_task(cluster=cluster, task=arn, reason="deployment destroyed")
        deadline = self._clock() + self._waits.task_timeout_s
        pending = list(arns)
        while pending:
            described: dict[str, str] = {}
            for start in range(0, len(pending), 100):
                with converted("ECS", "DescribeTasks"):
                    answer = self._ecs.describe_tasks(
                        cluster=cluster, tasks=pending[start : start + 100]
                    )
                described.update(
                    {t["taskArn"]: t.get("lastStatus", "") for t in answer.get("tasks", [])}
                )
            pending = [arn for arn in pending if described.get(arn, "STOPPED") != "STOPPED"]
            if not pending:
                break
            if self._clock() > deadline:
                raise StorageUnavailable(
                    f"{len(pending)} agent task(s) did not stop in "
                    f"{self._waits.task_timeout_s:.0f} s; run destroy again"
                )
            self._sleep(self._waits.task_poll_s)
        return arns

    # --- run-time queues ------------------------------------------------------------------
    def delete_queues(self, prefix: str) -> list[str]:
        """Every inbox of the deployment and its dead-letter queue (if a stack left it)."""
        names: list[str] = []
        for start in (inbox_name_prefix(prefix), dead_letter_queue_name(prefix)):
            with converted("SQS", "list queues"):
                pages = self._sqs.get_paginator("list_queues").paginate(QueueNamePrefix=start)
                urls = [url for page in pages for url in page.get("QueueUrls", [])]
            for url in urls:
                with converted("SQS", "delete queue"):
                    self._sqs.delete_queue(QueueUrl=url)
                names.append(url.rsplit("/", 1)[-1])
        if names:
            self._progress(f"deleted {len(names)} queue(s) made at run time")
        return names
