"""The operator CLI's wiring: what `serverless-openclaw user add|remove` works with on a
deployment (the local stack's is `local/wiring.py`'s `wire_local_operator`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from serverless_openclaw.adapters.aws.clients import AwsClients
from serverless_openclaw.adapters.aws.ports import AwsPorts
from serverless_openclaw.app.services import Services
from serverless_openclaw.settings import HandlerSettings
from serverless_openclaw.wiring import aws_config

if TYPE_CHECKING:
    from serverless_openclaw.app.people import Operator


def wire_operator(settings: HandlerSettings, *, account: str) -> Operator:
    """A deployment's people as its operator sees them (their credentials: boto3's default
    chain): the control plane's ports, the user pool, each person's role (the deployment's
    per-person managed policies), and the eraser of a person's data."""
    from serverless_openclaw.adapters.aws.agent_roles import (
        AgentRoles,
        ManagedPolicies,
        person_policy_arns,
    )
    from serverless_openclaw.adapters.aws.person_data import AwsPersonalData
    from serverless_openclaw.adapters.aws.users import UserAdmin
    from serverless_openclaw.app.people import Operator

    clients = AwsClients(settings.names.region)
    names = settings.names
    return Operator(
        services=Services(settings, AwsPorts(aws_config(settings), clients=clients)),
        users=UserAdmin(clients.cognito_idp(), settings.auth.user_pool_id),
        access=AgentRoles(
            clients.client("iam"),
            names.prefix,
            account=account,
            grant=ManagedPolicies(person_policy_arns(names.prefix, account=account)),
        ),
        erase=AwsPersonalData(
            clients.dynamodb(), clients.s3(), prefix=names.prefix, state_bucket=names.state_bucket
        ),
    )
