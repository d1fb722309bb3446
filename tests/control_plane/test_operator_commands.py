"""`serverless-openclaw status` and `logs` against moto (CloudFormation, CloudWatch Logs, STS):
what the operator reads about a deployment, and a clear error where there is nothing to read."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest

from serverless_openclaw.adapters.aws.clients import AwsClients
from serverless_openclaw.cli.deploy_cmd import log_group, run_logs, run_status
from serverless_openclaw.core.errors import DeployError
from serverless_openclaw.infra.config import DeploymentConfig

TEMPLATE = json.dumps(
    {
        "Resources": {"Marker": {"Type": "AWS::SQS::Queue", "Properties": {}}},
        "Outputs": {"UserPoolId": {"Value": "us-east-1_pool"}},
    }
)


def test_status_names_each_stack_and_its_outputs(aws: Any) -> None:
    config = DeploymentConfig(prefix=aws.prefix, region=aws.region)
    clients = AwsClients(aws.region)
    clients.client("cloudformation").create_stack(
        StackName=config.stack_name("auth"), TemplateBody=TEMPLATE
    )
    status = run_status(config, clients)
    assert status.stacks[config.stack_name("auth")] == "CREATE_COMPLETE"
    assert status.stacks[config.stack_name("api")] == "not deployed"
    assert status.outputs["UserPoolId"] == "us-east-1_pool"
    assert status.running_tasks is None  # no cluster deployed: nothing to count


def test_logs_prints_each_event_once_with_its_time_and_stream(aws: Any) -> None:
    config = DeploymentConfig(prefix=aws.prefix, region=aws.region)
    clients = AwsClients(aws.region)
    logs = clients.client("logs")
    group = log_group(config, "agent")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="agent/task-1")
    now_ms = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName="agent/task-1",
        logEvents=[
            {"timestamp": now_ms - 2000, "message": "restored the backup\n"},
            {"timestamp": now_ms - 1000, "message": "turn answered"},
        ],
    )
    lines: list[str] = []
    run_logs(
        config, clients, target="agent", since=timedelta(minutes=5), pattern=None,
        follow=False, sink=lines.append,
    )  # fmt: skip
    assert [line.split(" ", 1)[1] for line in lines] == [
        "agent/task-1  restored the backup",
        "agent/task-1  turn answered",
    ]


def test_logs_of_a_group_that_does_not_exist_say_so(aws: Any) -> None:
    config = DeploymentConfig(prefix=aws.prefix, region=aws.region)
    with pytest.raises(DeployError, match="does not exist"):
        run_logs(
            config, AwsClients(aws.region), target="watchdog", since=timedelta(hours=1),
            pattern=None, follow=False, sink=print,
        )  # fmt: skip
