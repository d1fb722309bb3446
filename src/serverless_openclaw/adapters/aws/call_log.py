"""A record of the AWS calls one component makes, for the IAM conformance check.

With `SOC_AWS_CALL_LOG_DIR` set (a test or CI run, never a deployment), each entry point's
`AwsClients` gets a `CallLog` observer that appends one JSON line per call to
`<dir>/<role>-<pid>.jsonl`: the role the component has on AWS (`handlers`, `watchdog`,
`agent-task`), the person an agent task works for, and what IAM looks at — the names of the
resources and, for DynamoDB, the partition key of every row the call reaches
(`dynamodb:LeadingKeys`). Nothing else of the call is kept: no item bodies, no message text.
`infra/iam_requests.py` turns each line back into IAM requests; tests/iam evaluates them.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from serverless_openclaw.adapters.aws.clients import AwsCall, AwsClients, AwsCredentials
from serverless_openclaw.adapters.aws.tables import ALL_TABLES, TableSpec

KEPT: Final = (
    "TableName", "IndexName", "QueueUrl", "QueueName", "QueueOwnerAWSAccountId", "Bucket",
    "Key", "VersionId", "Prefix", "Name", "Names", "cluster", "taskDefinition", "task",
    "tasks", "ConnectionId", "UserPoolId",
)  # fmt: skip
"""Parameters that name a resource (a DynamoDB `Key` is reduced to its partition value)."""

_EQUALS = re.compile(r"(#?[A-Za-z0-9_]+)\s*=\s*(:[A-Za-z0-9_]+)")


def table_spec(table_name: str) -> TableSpec | None:
    """Which of our tables a physical name (`<prefix>-<name>`) is."""
    found = [spec for spec in ALL_TABLES if table_name.endswith(f"-{spec.name}")]
    return max(found, key=lambda spec: len(spec.name)) if found else None


def _partition(table: str, index: str | None) -> str | None:
    spec = table_spec(table)
    if spec is None:
        return None
    if index:
        for candidate in spec.indexes:
            if candidate.name == index:
                return candidate.partition.name
        return None
    return spec.partition.name


def _scalar(value: Any) -> str | None:
    if isinstance(value, Mapping):
        for kind in ("S", "N", "B"):
            if kind in value:
                return str(value[kind])
    return None


def leading_keys(params: Mapping[str, Any], *, table: str | None = None) -> list[str] | None:
    """The partition key values of the rows one request (or one transaction item) reaches;
    None when it names none (a scan, or a table that is not ours)."""
    name = table or params.get("TableName")
    if not isinstance(name, str):
        return None
    attribute = _partition(name, params.get("IndexName"))
    if attribute is None:
        return None
    for field_name in ("Key", "Item"):
        row = params.get(field_name)
        if isinstance(row, Mapping) and attribute in row:
            value = _scalar(row[attribute])
            return [value] if value is not None else None
    expression = params.get("KeyConditionExpression")
    if isinstance(expression, str):
        aliases = params.get("ExpressionAttributeNames") or {}
        values = params.get("ExpressionAttributeValues") or {}
        for left, right in _EQUALS.findall(expression):
            if aliases.get(left, left) == attribute:
                value = _scalar(values.get(right))
                return [value] if value is not None else None
    return None


def essentials(call: AwsCall) -> dict[str, Any]:
    """What IAM evaluates of `call`, and nothing more."""
    params: dict[str, Any] = {k: call.params[k] for k in KEPT if k in call.params}
    if call.service == "ecs" and isinstance(call.params.get("overrides"), Mapping):
        role = call.params["overrides"].get("taskRoleArn")
        if role:
            params["TaskRoleArn"] = role
    if call.service == "dynamodb":
        params.pop("Key", None)
        keys = leading_keys(call.params)
        if keys is not None:
            params["LeadingKeys"] = keys
        if "RequestItems" in call.params:
            params["RequestItems"] = {
                name: sorted(
                    {
                        key
                        for request in requests
                        for body in request.values()
                        for key in (leading_keys(body, table=name) or [])
                    }
                )
                for name, requests in call.params["RequestItems"].items()
            }
        if "TransactItems" in call.params:
            params["TransactItems"] = [
                {
                    kind: {
                        "TableName": body["TableName"],
                        "LeadingKeys": leading_keys(body) or [],
                    }
                }
                for item in call.params["TransactItems"]
                for kind, body in item.items()
            ]
    return params


class CallLog:
    """`AwsClients` observer: one JSON line per call, in this process's own file."""

    def __init__(self, directory: Path, *, role: str, person: str | None = None) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{role}-{os.getpid()}.jsonl"
        self._role = role
        self._person = person
        self._lock = threading.Lock()

    def __call__(self, call: AwsCall) -> None:
        line = json.dumps(
            {
                "role": self._role,
                "person": self._person,
                "service": call.service,
                "operation": call.operation,
                "region": call.region,
                "params": essentials(call),
            },
            default=str,
        )
        with self._lock, open(self.path, "a") as out:
            out.write(line + "\n")


def read_calls(directory: Path) -> list[dict[str, Any]]:
    """Every line every component wrote under `directory`."""
    found: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.jsonl")):
        found += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return found


def recording_clients(
    region: str,
    credentials: AwsCredentials | None,
    call_log_dir: Path | None,
    role: str,
    person: str | None = None,
) -> AwsClients | None:
    """Clients of one principal (`credentials`), recording their calls in `call_log_dir` when a
    test or CI run asks; None when neither is given (boto3's default chain, unrecorded)."""
    if credentials is None and call_log_dir is None:
        return None
    observers = [CallLog(call_log_dir, role=role, person=person)] if call_log_dir else []
    return AwsClients(region, credentials=credentials, observers=observers)
