"""`destroy` against moto (CloudFormation, SQS) and the ECS emulator running real tasks: the
stacks that can start a task go first, every task is stopped and awaited, then the rest go;
without retained data the queues made at run time go too."""

from __future__ import annotations

import json
from typing import Any

import pytest

from serverless_openclaw.adapters.aws.clients import AwsClients
from serverless_openclaw.adapters.aws.compute import EcsCompute, EcsSettings, LaunchSpec
from serverless_openclaw.adapters.aws.inbox import Inbox
from serverless_openclaw.adapters.aws.teardown import Teardown, Waits
from serverless_openclaw.cli.deploy_cmd import run_destroy
from serverless_openclaw.infra.config import STACK_KINDS, DeploymentConfig

from .conftest import Ecs

TEMPLATE = json.dumps({"Resources": {"Marker": {"Type": "AWS::SQS::Queue", "Properties": {}}}})


class RecordingTeardown(Teardown):
    """The real teardown, noting the order in which things happen."""

    def __init__(self, clients: AwsClients, ecs: Ecs, events: list[str]) -> None:
        super().__init__(clients, waits=Waits(stack_delay_s=0, task_poll_s=0.2))
        self.ecs, self.events = ecs, events

    def delete_stacks(self, names: Any) -> list[str]:
        deleted = super().delete_stacks(names)
        self.events += [f"deleted {name}" for name in deleted]
        return deleted

    def stop_tasks(self, cluster: str) -> list[str]:
        stopped = super().stop_tasks(cluster)
        alive = [a for u in ("u1", "u2") for a in self.ecs.alive_tasks_of(u)]
        self.events.append(f"stopped {len(stopped)}, {len(alive)} alive")
        return stopped


def _deployment(aws: Any, ecs: Ecs, retain: bool) -> tuple[DeploymentConfig, AwsClients]:
    config = DeploymentConfig(prefix=aws.prefix, retain_data=retain)
    clients = AwsClients(aws.region)
    cloudformation = clients.client("cloudformation")
    for kind in STACK_KINDS:
        cloudformation.create_stack(StackName=config.stack_name(kind), TemplateBody=TEMPLATE)
    compute = EcsCompute(
        clients.ecs(),
        EcsSettings(cluster=f"{aws.prefix}-agents", task_definition=f"{aws.prefix}-agent"),
    )
    inbox = Inbox(clients.sqs(), aws.prefix)
    for user in ("u1", "u2"):
        compute.run_task(LaunchSpec(user, f"launch-{user}", inbox.queue_url(user)))
    return config, clients


@pytest.mark.parametrize("retain", [True, False])
def test_destroy_stops_tasks_before_the_cluster_goes_and_deletes_in_order(
    aws: Any, ecs_sleeper: Ecs, retain: bool
) -> None:
    config, clients = _deployment(aws, ecs_sleeper, retain)
    assert len(ecs_sleeper.alive_tasks_of("u1") + ecs_sleeper.alive_tasks_of("u2")) == 2
    events: list[str] = []
    run_destroy(
        config, clients, progress=lambda _: None,
        teardown=RecordingTeardown(clients, ecs_sleeper, events),
    )  # fmt: skip
    name = config.stack_name
    assert events == [
        f"deleted {name('web')}",
        f"deleted {name('api')}",
        "stopped 2, 0 alive",
        *(f"deleted {name(kind)}" for kind in ("monitoring", "compute", "auth", "storage",
                                               "network")),
    ]  # fmt: skip
    remaining = clients.client("cloudformation").list_stacks(
        StackStatusFilter=["CREATE_COMPLETE", "UPDATE_COMPLETE"]
    )["StackSummaries"]
    assert not [s for s in remaining if s["StackName"].startswith(aws.prefix)]
    queues = clients.sqs().list_queues(QueueNamePrefix=f"{aws.prefix}-").get("QueueUrls", [])
    assert (len(queues) == 3) is retain  # two inboxes and the dead-letter queue


def test_destroy_with_nothing_running_and_nothing_deployed_is_a_no_op(
    aws: Any, ecs_sleeper: Ecs
) -> None:
    config = DeploymentConfig(prefix=aws.prefix)
    clients = AwsClients(aws.region)
    assert run_destroy(config, clients, progress=lambda _: None) == []
