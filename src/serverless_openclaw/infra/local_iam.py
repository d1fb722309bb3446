"""IAM enforced in moto, from the synthesized policies: each component calls moto as its own
principal, so a right the templates do not grant is refused locally as AWS would refuse it.

`enforce_iam(moto_url, policies)` creates, while moto still accepts anything, an
administrator (for setting up tables, queues and users) and one role per component with
the component's synthesized statements, assumes each role, then switches moto's IAM check on
(`/moto-api/reset-auth`, moto's `INITIAL_NO_AUTH_ACTION_COUNT`). It returns the credentials
of each; the caller hands them to the component (`wiring.wire_lambda(credentials=...)`, or
the environment of an agent task).

How far moto's check goes (moto 5.2): it always checks the ACTION. It checks the RESOURCE
only where it can name one: S3 (bucket and object ARNs) and SQS calls that address an
existing queue by URL. Everything else (DynamoDB, SSM, Cognito, SQS CreateQueue/GetQueueUrl/
ListQueues) reaches the check with the resource `*`, so moto's copy of such a statement is
widened to `*` (`moto_view`) — and those resources are checked instead by the conformance
evaluator (`infra/iam_simulator.py` on the recorded calls). moto names a DynamoDB
transaction by its operation: moto's copy allows `TransactWriteItems` where the role has an
item action (IAM itself checks each item's action). ECS (our emulator) and @connections
(a local endpoint) are not moto: the conformance evaluator covers them.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Mapping
from typing import Any, Final

import httpx

from serverless_openclaw.adapters.aws.clients import AwsClients, AwsCredentials
from serverless_openclaw.infra.policies import Names, RolePolicy, Statement, Template, role_policies

ADMIN: Final = "admin"
"""The principal that sets resources up (what the operator and CloudFormation do on AWS)."""
ACCOUNT: Final = "123456789012"
"""moto's default account."""

_RESOURCE_CHECKED: Final = {"s3"}
"""Services whose every statement keeps its resources in moto's copy."""
_SQS_UNNAMED: Final = {"sqs:CreateQueue", "sqs:GetQueueUrl", "sqs:ListQueues"}
"""SQS actions moto checks against `*` (the queue may not exist yet)."""
_TRANSACTION_ITEMS: Final = {
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
}


def _moto_checks_resource(action: str) -> bool:
    service = action.split(":", 1)[0]
    if service in _RESOURCE_CHECKED:
        return True
    return service == "sqs" and action not in _SQS_UNNAMED


def moto_view(statements: Iterable[Statement]) -> dict[str, Any]:
    """The policy document moto enforces for these statements (see the module doc)."""
    out: list[dict[str, Any]] = []
    transaction = False
    for statement in statements:
        kept = [a for a in statement.actions if _moto_checks_resource(a)]
        widened = [a for a in statement.actions if not _moto_checks_resource(a)]
        transaction |= statement.effect == "Allow" and bool(
            _TRANSACTION_ITEMS.intersection(statement.actions)
        )
        if kept:
            out.append(Statement(statement.effect, tuple(kept), statement.resources).as_json())
        if widened:
            out.append(Statement(statement.effect, tuple(widened), ("*",)).as_json())
    if transaction:
        out.append(Statement("Allow", ("dynamodb:TransactWriteItems",), ("*",)).as_json())
    return {"Version": "2012-10-17", "Statement": out}


def _clients(moto_url: str, region: str, credentials: AwsCredentials) -> tuple[Any, Any]:
    clients = AwsClients(region, credentials=credentials)
    return (
        clients.client("iam", endpoint_url=moto_url),
        clients.client("sts", endpoint_url=moto_url),
    )


def set_enforcement(moto_url: str, *, on: bool) -> None:
    """Switch moto's IAM check on (every request from now on) or off."""
    httpx.post(
        f"{moto_url}/moto-api/reset-auth", content=b"0" if on else b"inf", timeout=10
    ).raise_for_status()


def bootstrap_admin(moto_url: str, region: str) -> AwsCredentials:
    """An administrator user, made while moto's IAM check is off (idempotent by name)."""
    iam, _ = _clients(moto_url, region, AwsCredentials("bootstrap", "bootstrap"))
    try:
        iam.create_user(UserName=ADMIN)
    except iam.exceptions.EntityAlreadyExistsException:
        for key in iam.list_access_keys(UserName=ADMIN)["AccessKeyMetadata"]:
            iam.delete_access_key(UserName=ADMIN, AccessKeyId=key["AccessKeyId"])
    iam.put_user_policy(
        UserName=ADMIN,
        PolicyName="everything",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            }
        ),
    )
    key = iam.create_access_key(UserName=ADMIN)["AccessKey"]
    return AwsCredentials(key["AccessKeyId"], key["SecretAccessKey"])


def principals(
    moto_url: str,
    policies: Mapping[str, RolePolicy],
    *,
    region: str,
    admin: AwsCredentials,
    name_prefix: str = "soc",
) -> dict[str, AwsCredentials]:
    """One role per component with moto's copy of its synthesized statements, assumed:
    the credentials by component name."""
    iam, sts = _clients(moto_url, region, admin)
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    # moto compares principals literally: the administrator assumes them.
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/{ADMIN}"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    found: dict[str, AwsCredentials] = {}
    for component, policy in policies.items():
        name = f"{name_prefix}-{component}".replace(":", "-")[:64]
        with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
        iam.put_role_policy(
            RoleName=name,
            PolicyName="synthesized",
            PolicyDocument=json.dumps(moto_view(policy.statements)),
        )
        answer = sts.assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{name}",
            RoleSessionName=component.replace(":", "-")[:64],
            DurationSeconds=12 * 3600,
        )["Credentials"]
        found[component] = AwsCredentials(
            answer["AccessKeyId"], answer["SecretAccessKey"], answer["SessionToken"]
        )
    return found


COMPONENTS: Final = ("handlers", "watchdog", "agent-task")
"""The principals our own code runs as (agent-execution is ECS's, the cdk: roles CDK's)."""


def local_policies(
    templates: Mapping[str, Template],
    *,
    prefix: str,
    state_bucket: str,
    region: str = "us-east-1",
    websocket_api: str = "localws",
) -> dict[str, RolePolicy]:
    """The components' synthesized policies resolved to a local stack's names (templates:
    `policies.load_templates(synth(...).templates)`)."""
    names = Names(
        account=ACCOUNT,
        region=region,
        prefix=prefix,
        state_bucket=state_bucket,
        websocket_api=websocket_api,
    )
    every = role_policies(templates, names)
    return {name: every[name] for name in COMPONENTS}


def enforce_iam(
    moto_url: str, policies: Mapping[str, RolePolicy], *, region: str = "us-east-1"
) -> dict[str, AwsCredentials]:
    """Credentials per component (and `ADMIN`), then moto's IAM check on. What the local
    stack calls once its moto runs (`policies`: `policies.role_policies(templates, names)`
    with the local names)."""
    set_enforcement(moto_url, on=False)
    admin = bootstrap_admin(moto_url, region)
    found = principals(moto_url, policies, region=region, admin=admin)
    set_enforcement(moto_url, on=True)
    return {**found, ADMIN: admin}
