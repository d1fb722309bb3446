"""What IAM authorizes for each AWS call our code makes: action(s), resource ARN, context keys.

An API operation is not always the IAM action of the same name: `GetObject` with a version
id is `s3:GetObjectVersion`, `ListObjectVersions` is `s3:ListBucketVersions` (with the
`s3:prefix` key), `TransactWriteItems` needs the item action of each of its items, a
@connections post is `execute-api:ManageConnections` on a path that names the method, and
`RunTask` also passes the task's roles (`iam:PassRole`). This module knows those rules for the
services this project calls; an unknown operation is an error, never a silent pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import unquote

from serverless_openclaw.adapters.aws.clients import AwsCall

ContextValue = str | list[str]


class UnmappedCall(ValueError):
    """A call this module cannot translate into IAM terms."""


@dataclass(frozen=True)
class IamRequest:
    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    call: str = ""
    """`service.Operation` of the call it came from (for reports)."""


@dataclass(frozen=True)
class Deployment:
    """Facts about the deployment that a call does not carry itself."""

    account: str
    partition: str = "aws"
    websocket_api: str = "localws"
    """The WebSocket API id that @connections calls post to (the call only has a URL)."""
    stage: str = "prod"
    task_roles: Sequence[str] = ()
    """ARNs of the agent task's roles: RunTask passes them to ECS."""
    task_definition_revision: int = 1
    """The revision RunTask resolves a family to (IAM sees the revision's ARN)."""

    def arn(self, service: str, region: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{region}:{self.account}:{resource}"


_SQS_BATCH: Final = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}
_TRANSACT_ITEM: Final = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}
_CONNECTION_METHODS: Final = {
    "PostToConnection": "POST",
    "GetConnection": "GET",
    "DeleteConnection": "DELETE",
}


def requests_for(call: AwsCall, deployment: Deployment) -> list[IamRequest]:
    """The IAM requests AWS evaluates for `call` (`UnmappedCall` for an unknown one)."""
    mapper = _MAPPERS.get(call.service)
    if mapper is None:
        raise UnmappedCall(f"no IAM mapping for service {call.service}")
    where = f"{call.service}.{call.operation}"
    return [IamRequest(r.action, r.resource, r.context, where) for r in mapper(call, deployment)]


def _dynamodb(call: AwsCall, d: Deployment) -> list[IamRequest]:
    p, op = call.params, call.operation

    def table(name: str, index: str | None = None) -> str:
        suffix = f"/index/{index}" if index else ""
        return d.arn("dynamodb", call.region, f"table/{name}{suffix}")

    if op in ("TransactWriteItems", "TransactGetItems"):
        found: list[IamRequest] = []
        for item in p.get("TransactItems", []):
            for kind, body in item.items():
                found.append(
                    IamRequest(f"dynamodb:{_TRANSACT_ITEM[kind]}", table(body["TableName"]))
                )
        return found
    if op in ("BatchWriteItem", "BatchGetItem"):
        return [IamRequest(f"dynamodb:{op}", table(name)) for name in p.get("RequestItems", {})]
    if "TableName" in p:
        return [IamRequest(f"dynamodb:{op}", table(p["TableName"], p.get("IndexName")))]
    if op == "ListTables":
        return [IamRequest("dynamodb:ListTables", "*")]
    raise UnmappedCall(f"dynamodb.{op} names no table")


def _queue_name(p: Mapping[str, Any]) -> str | None:
    if "QueueUrl" in p:
        return str(p["QueueUrl"]).rstrip("/").rsplit("/", 1)[-1]
    if "QueueName" in p:
        return str(p["QueueName"])
    return None


def _sqs(call: AwsCall, d: Deployment) -> list[IamRequest]:
    op = _SQS_BATCH.get(call.operation, call.operation)
    if op == "ListQueues":
        return [IamRequest("sqs:ListQueues", "*")]
    name = _queue_name(call.params)
    if name is None:
        raise UnmappedCall(f"sqs.{op} names no queue")
    account = str(call.params.get("QueueOwnerAWSAccountId") or d.account)
    return [IamRequest(f"sqs:{op}", f"arn:{d.partition}:sqs:{call.region}:{account}:{name}")]


def _s3(call: AwsCall, d: Deployment) -> list[IamRequest]:
    p, op = call.params, call.operation
    bucket = f"arn:{d.partition}:s3:::{p['Bucket']}"
    versioned = bool(p.get("VersionId"))
    if op in ("GetObject", "HeadObject"):
        action = "s3:GetObjectVersion" if versioned else "s3:GetObject"
        return [IamRequest(action, f"{bucket}/{p['Key']}")]
    if op == "DeleteObject":
        action = "s3:DeleteObjectVersion" if versioned else "s3:DeleteObject"
        return [IamRequest(action, f"{bucket}/{p['Key']}")]
    if op == "PutObject":
        return [IamRequest("s3:PutObject", f"{bucket}/{p['Key']}")]
    if op in ("ListObjects", "ListObjectsV2", "ListObjectVersions"):
        action = "s3:ListBucketVersions" if op == "ListObjectVersions" else "s3:ListBucket"
        return [IamRequest(action, bucket, {"s3:prefix": str(p.get("Prefix", ""))})]
    if op == "HeadBucket":
        return [IamRequest("s3:ListBucket", bucket)]
    if op in ("CreateBucket", "PutBucketVersioning", "DeleteBucket", "GetBucketVersioning"):
        return [IamRequest(f"s3:{op}", bucket)]
    raise UnmappedCall(f"s3.{op}")


def _ssm(call: AwsCall, d: Deployment) -> list[IamRequest]:
    p, op = call.params, call.operation
    names = p.get("Names") or ([p["Name"]] if "Name" in p else [])
    if not names:
        raise UnmappedCall(f"ssm.{op} names no parameter")
    return [
        IamRequest(f"ssm:{op}", d.arn("ssm", call.region, f"parameter/{str(name).lstrip('/')}"))
        for name in names
    ]


def _cluster_arn(value: str, call: AwsCall, d: Deployment) -> str:
    return value if value.startswith("arn:") else d.arn("ecs", call.region, f"cluster/{value}")


def _ecs(call: AwsCall, d: Deployment) -> list[IamRequest]:
    p, op = call.params, call.operation
    cluster = _cluster_arn(str(p.get("cluster", "default")), call, d)
    on_cluster: dict[str, ContextValue] = {"ecs:cluster": cluster}
    cluster_name = cluster.rsplit("/", 1)[-1]
    if op == "RunTask":
        definition = str(p["taskDefinition"]).rsplit("/", 1)[-1]
        if ":" not in definition:
            definition = f"{definition}:{d.task_definition_revision}"
        found = [
            IamRequest(
                "ecs:RunTask",
                d.arn("ecs", call.region, f"task-definition/{definition}"),
                on_cluster,
            )
        ]
        found += [
            IamRequest("iam:PassRole", role, {"iam:PassedToService": "ecs-tasks.amazonaws.com"})
            for role in d.task_roles
        ]
        return found
    if op in ("StopTask", "DescribeTasks"):
        tasks = [p["task"]] if op == "StopTask" else list(p.get("tasks", []))
        return [
            IamRequest(
                f"ecs:{op}",
                d.arn("ecs", call.region, f"task/{cluster_name}/{str(t).rsplit('/', 1)[-1]}"),
                on_cluster,
            )
            for t in tasks
        ]
    if op == "ListTasks":
        return [IamRequest("ecs:ListTasks", "*", on_cluster)]
    raise UnmappedCall(f"ecs.{op}")


def _connections(call: AwsCall, d: Deployment) -> list[IamRequest]:
    method = _CONNECTION_METHODS.get(call.operation)
    if method is None:
        raise UnmappedCall(f"apigatewaymanagementapi.{call.operation}")
    connection = unquote(str(call.params["ConnectionId"]))
    path = f"{d.websocket_api}/{d.stage}/{method}/@connections/{connection}"
    return [IamRequest("execute-api:ManageConnections", d.arn("execute-api", call.region, path))]


def _cognito(call: AwsCall, d: Deployment) -> list[IamRequest]:
    pool = call.params.get("UserPoolId")
    if not pool:
        raise UnmappedCall(f"cognito-idp.{call.operation} names no user pool")
    return [
        IamRequest(
            f"cognito-idp:{call.operation}", d.arn("cognito-idp", call.region, f"userpool/{pool}")
        )
    ]


_MAPPERS: Final = {
    "dynamodb": _dynamodb,
    "sqs": _sqs,
    "s3": _s3,
    "ssm": _ssm,
    "ecs": _ecs,
    "apigatewaymanagementapi": _connections,
    "cognito-idp": _cognito,
}
