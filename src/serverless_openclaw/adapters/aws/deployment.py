"""A deployment as its operator sees it, through the operator's own AWS credentials: who they
are, what the stacks output, whether a parameter exists, how many agents run, the log events.

Used by `serverless-openclaw deploy/status/logs/user/telegram` (cli/). Every AWS error becomes a
`DeployError` whose message says what to do; nothing here prints.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from serverless_openclaw.adapters.aws.clients import AwsClients
from serverless_openclaw.core.errors import DeployError


@dataclass(frozen=True)
class LogEvent:
    id: str
    at: datetime
    stream: str
    message: str


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class Deployment:
    """The operator's calls; `clients` carry the operator's credentials and region."""

    def __init__(self, clients: AwsClients) -> None:
        self.clients = clients

    def _client(self, service: str) -> Any:
        # AwsClients names only the services handlers use; the operator needs a few more.
        return self.clients.client(service)

    def account(self) -> str:
        """The operator's account id; a clear error when there are no usable credentials."""
        try:
            identity = self._client("sts").get_caller_identity()
        except NoCredentialsError as exc:
            raise DeployError(
                "No AWS credentials found. Sign in first (`aws configure`, `aws sso login`, or "
                "set AWS_PROFILE / AWS_ACCESS_KEY_ID), then run this command again."
            ) from exc
        except ClientError as exc:
            raise DeployError(
                f"AWS refused your credentials ({_code(exc)}): refresh them (e.g. `aws sso login`)."
            ) from exc
        except BotoCoreError as exc:
            raise DeployError(f"AWS could not be reached to check your credentials: {exc}") from exc
        return str(identity["Account"])

    def stack_outputs(self, stack_name: str) -> dict[str, str] | None:
        """The outputs of a deployed stack (and its `StackStatus`), or None when it does not
        exist."""
        try:
            answer = self._client("cloudformation").describe_stacks(StackName=stack_name)
        except ClientError as exc:
            if "does not exist" in str(exc):
                return None
            raise DeployError(f"cannot read stack {stack_name}: {exc}") from exc
        except BotoCoreError as exc:
            raise DeployError(f"AWS could not be reached: {exc}") from exc
        stack = answer["Stacks"][0]
        outputs = {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])}
        outputs["StackStatus"] = stack.get("StackStatus", "")
        return outputs

    def parameter_exists(self, name: str) -> bool:
        try:
            self.clients.ssm().get_parameter(Name=name)
        except ClientError as exc:
            if _code(exc) == "ParameterNotFound":
                return False
            raise DeployError(f"cannot read SSM parameter {name}: {exc}") from exc
        except BotoCoreError as exc:
            raise DeployError(f"AWS could not be reached: {exc}") from exc
        return True

    def running_tasks(self, cluster: str) -> int:
        try:
            arns = self.clients.ecs().list_tasks(cluster=cluster, desiredStatus="RUNNING")
        except (ClientError, BotoCoreError) as exc:
            raise DeployError(f"cannot list agent tasks: {exc}") from exc
        return len(arns["taskArns"])

    def log_events(self, group: str, *, start_ms: int, pattern: str | None) -> Iterator[LogEvent]:
        """The events of `group` from `start_ms` on, oldest first, page by page."""
        kwargs: dict[str, Any] = {"logGroupName": group, "startTime": start_ms}
        if pattern:
            kwargs["filterPattern"] = pattern
        try:
            for page in self._client("logs").get_paginator("filter_log_events").paginate(**kwargs):
                for event in page.get("events", []):
                    yield LogEvent(
                        id=event["eventId"],
                        at=datetime.fromtimestamp(event["timestamp"] / 1000, UTC),
                        stream=event.get("logStreamName", ""),
                        message=event["message"].rstrip(),
                    )
        except ClientError as exc:
            if _code(exc) == "ResourceNotFoundException":
                raise DeployError(f"log group {group} does not exist (deployed?)") from exc
            raise DeployError(f"cannot read {group}: {exc}") from exc
        except BotoCoreError as exc:
            raise DeployError(f"AWS could not be reached: {exc}") from exc
