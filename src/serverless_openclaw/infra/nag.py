"""cdk-nag (AwsSolutions) findings we accept, each with the reason a reviewer reads.

Every suppression in the app comes from this module, so the list of accepted risks is one
page long and `docs/deployment.md` can repeat it. Anything not listed here fails the
`infra` tests.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import jsii
from aws_cdk import CfnResource, IAspect, Stack
from aws_cdk import aws_lambda as lambda_
from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import IConstruct


@dataclass(frozen=True)
class Accepted:
    rule: str
    reason: str
    applies_to: tuple[str | RegexAppliesTo, ...] = field(default_factory=tuple)


# --- IAM -----------------------------------------------------------------------------------
TABLE_INDEXES: Final = (
    "Query through the tables' secondary indexes: the wildcard is `<exact table ARN>/index/*`, "
    "limited to the indexes of our own tables."
)
INBOX_QUEUES: Final = (
    "Inbox queues are created at run time, one per user, so the resource is the name prefix "
    "`<prefix>-inbox-*` of this deployment's queues, not a single ARN."
)
STATE_PREFIX: Final = (
    "Each agent keeps its state under `agents/<userId>/` in the state bucket; the wildcard is "
    "the objects below the prefix of the role's own person (`${aws:PrincipalTag/...}`)."
)
ATTACHMENTS: Final = (
    "The request handlers sign upload forms and download links for (and store Telegram files "
    "as) attachments of any person, whoever is signed in: the wildcard is "
    "`agents/*/attachments/*` of the state bucket, none of the agents' backups; the handler "
    "checks the person before it signs."
)
PERSON_ROLES: Final = (
    "Each person's agent task runs with a role of their own, made by the operator at `user "
    "add` and named `<prefix>-user-<hash>`; the control plane may only pass such roles, and "
    "only to ECS tasks (iam:PassedToService)."
)
CONNECTIONS: Final = (
    "@connections ids are per browser connection and only known at run time; the wildcard is "
    "scoped to this WebSocket API's own stage."
)
ECS_TASKS: Final = (
    "Task ARNs are only known at run time; StopTask and DescribeTasks are limited to tasks of "
    "our cluster (`task/<cluster>/*`), ListTasks (no resource-level permission) is "
    "conditioned on ecs:cluster."
)
TASK_DEFINITION_REVISIONS: Final = (
    "RunTask names the agent's task definition family, so ECS runs its latest ACTIVE "
    "revision; the wildcard is the revision number of that one family (a deployment that "
    "changes the agent makes a new revision without changing the Api stack)."
)
ECR_AUTH: Final = (
    "ecr:GetAuthorizationToken has no resource-level permissions (AWS requires `*`); image "
    "pulls themselves are limited to the image's repository."
)
BEDROCK_MODELS: Final = (
    "Bedrock model and inference-profile ARNs depend on the model the owner picks at run "
    "time; only invoke actions are granted."
)
LOG_STREAMS: Final = (
    "Log stream names are created by Lambda at run time; the wildcard is limited to streams "
    "of the functions' own log groups."
)
CDK_PROVIDER: Final = (
    "Role of the Lambda that aws-cdk-lib itself ships to copy the web app into its bucket "
    "(BucketDeployment); CDK generates its policies, scoped to the CDK asset bucket and the "
    "web bucket, and it runs only during deployments."
)

# --- compute, network ----------------------------------------------------------------------
ECS_ENV: Final = (
    "The container environment holds only non-secret names (table prefix, bucket, model id); "
    "every secret (LLM key, bot token) is injected from SSM SecureString through `secrets`."
)
ECS_INSIGHTS: Final = (
    "Container Insights bills custom metrics per task every month; task failures are caught "
    "by an EventBridge rule and alarm instead, and the agent logs to CloudWatch Logs."
)
VPC_FLOW_LOGS: Final = (
    "The VPC only holds agent tasks whose security group allows no inbound traffic and HTTPS "
    "out; flow logs would be billed per GB for traffic we already constrain."
)
PYTHON_RUNTIME: Final = (
    "The bundle's compiled wheels (pydantic_core, cryptography) are built for CPython 3.12 on "
    "aarch64; the runtime is pinned to match them and is a supported Lambda runtime."
)
CDK_RUNTIME: Final = (
    "Runtime chosen by aws-cdk-lib for its own helper function (web app deployment); it "
    "moves forward when aws-cdk-lib is upgraded."
)

# --- storage -------------------------------------------------------------------------------
STATE_ACCESS_LOGS: Final = (
    "The state bucket is reached only by the agent task role; "
    "server access logs would add a log bucket and request charges for no new signal."
)
WEB_ACCESS_LOGS: Final = (
    "The web bucket only holds the public static web app, served through CloudFront with "
    "origin access control; no private data is ever stored in it."
)
DLQ_IS_THE_DLQ: Final = (
    "This queue is itself the dead-letter queue of every inbox (inboxes are created at run "
    "time with a redrive policy pointing here); it is watched by an alarm."
)
ALERTS_UNENCRYPTED: Final = (
    "Alert messages only carry alarm names and ECS stop reasons. EventBridge and CloudWatch "
    "cannot publish to a topic under the AWS-managed SNS key, and a customer key costs "
    "$1/month, more than an idle month of the whole deployment."
)

# --- API, auth, web ------------------------------------------------------------------------
WS_CONNECT_AUTH: Final = (
    "ws_connect verifies the Cognito ID token itself (signature, expiry, issuer, audience, "
    "token use) and refuses the upgrade with 401; the token may arrive in the "
    "Sec-WebSocket-Protocol header, which API Gateway's JWT authorizer cannot read."
)
HTTP_API_AUTH: Final = (
    "http_api verifies the Cognito ID token itself (signature, expiry, issuer, audience, "
    "token use, the Bearer scheme) and answers 401 in the documented error shape, which an "
    "API Gateway JWT authorizer cannot do (it has its own 401 body and also accepts access "
    "tokens)."
)
WS_ROUTES_AUTH: Final = (
    "API Gateway authorizes WebSocket connections only at $connect; $default and "
    "$disconnect run on a connection that ws_connect already authenticated."
)
TELEGRAM_WEBHOOK_AUTH: Final = (
    "Telegram cannot send a Cognito token; the handler checks the "
    "X-Telegram-Bot-Api-Secret-Token header against the secret set with setWebhook and "
    "answers 401 otherwise."
)
WS_ACCESS_LOGS: Final = (
    "WebSocket access logging needs the account-wide API Gateway CloudWatch role, which this "
    "app must not overwrite; the ws handlers log every connect, frame and disconnect."
)
COGNITO_THREAT_PROTECTION: Final = (
    "Threat protection needs the Plus feature plan (billed per MAU); self sign-up is off and "
    "only users the owner adds can sign in."
)
COGNITO_MFA: Final = (
    "MFA is optional (TOTP) so that the owner can enable it per user; it is not forced on "
    "every family member of a personal deployment."
)
CLOUDFRONT_LOGS: Final = (
    "Standard logs need an ACL-enabled log bucket and bill per request; the distribution only "
    "serves the public static web app."
)
CLOUDFRONT_TLS: Final = (
    "Without a custom domain the distribution uses the *.cloudfront.net certificate, whose "
    "minimum TLS version CloudFront fixes; with --domain it enforces TLSv1.2_2021."
)
CLOUDFRONT_WAF: Final = (
    "A web ACL costs $5/month plus requests; the distribution serves only static files and "
    "every API behind it requires a Cognito token."
)
CLOUDFRONT_GEO: Final = (
    "The owner and their users may travel; the API requires a Cognito token wherever the "
    "request comes from."
)


def suppress(construct: IConstruct, *accepted: Accepted) -> None:
    NagSuppressions.add_resource_suppressions(
        construct,
        [
            NagPackSuppression(
                id=item.rule,
                reason=item.reason,
                applies_to=list(item.applies_to) if item.applies_to else None,
            )
            for item in accepted
        ],
        apply_to_children=True,
    )


def suppress_stack(stack: Stack, *accepted: Accepted) -> None:
    NagSuppressions.add_stack_suppressions(
        stack,
        [
            NagPackSuppression(
                id=item.rule,
                reason=item.reason,
                applies_to=list(item.applies_to) if item.applies_to else None,
            )
            for item in accepted
        ],
    )


ACCOUNT: Final = r"(?:<AWS::AccountId>|\d{12})"
"""How an account id appears in a finding: a token when synthesized without an account."""


def resource_regex(pattern: str) -> RegexAppliesTo:
    """A finding's `Resource::<...>` text matched by a regular expression (whole string)."""
    return RegexAppliesTo(regex=f"/^Resource::{pattern}$/g")


def wildcard_actions(actions: Sequence[str]) -> tuple[str, ...]:
    return tuple(f"Action::{action}" for action in actions)


@jsii.implements(IAspect)
class Arm64Everywhere:
    """Every Lambda function in the app runs on Graviton, including CDK's own helpers.

    The helpers are Node.js or pure-Python code (the AWS CLI layer's one compiled module,
    PyYAML's, has a pure-Python fallback), so they run unchanged on arm64.
    """

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, lambda_.CfnFunction):
            if not node.architectures:
                node.architectures = ["arm64"]
        elif isinstance(node, CfnResource) and node.cfn_resource_type == "AWS::Lambda::Function":
            node.add_property_override("Architectures", ["arm64"])


# --- the wildcard findings, as cdk-nag prints them -----------------------------------------
def table_indexes() -> Accepted:
    return Accepted(
        "AwsSolutions-IAM5", TABLE_INDEXES, (resource_regex(r"<\w+Table\w*\.Arn>/index/\*"),)
    )


def state_prefix() -> Accepted:
    # cdk-nag prints a policy variable `${aws:PrincipalTag/x}` as `<aws:PrincipalTag/x>`.
    return Accepted(
        "AwsSolutions-IAM5",
        STATE_PREFIX,
        (resource_regex(r"<\w*StateBucket\w*\.Arn>/agents/<aws:PrincipalTag/[\w-]+>/\*"),),
    )


def attachments() -> Accepted:
    return Accepted(
        "AwsSolutions-IAM5",
        ATTACHMENTS,
        (resource_regex(r"<\w*StateBucket\w*\.Arn>/agents/\*/attachments/\*"),),
    )


def person_roles(prefix: str) -> Accepted:
    return Accepted(
        "AwsSolutions-IAM5",
        PERSON_ROLES,
        (resource_regex(rf"arn:<AWS::Partition>:iam::{ACCOUNT}:role/{re.escape(prefix)}-user-\*"),),
    )


def inbox_queues(prefix: str) -> Accepted:
    return Accepted(
        "AwsSolutions-IAM5",
        INBOX_QUEUES,
        (
            resource_regex(
                rf"arn:<AWS::Partition>:sqs:[^:]+:{ACCOUNT}:{re.escape(prefix)}-inbox-\*"
            ),
        ),
    )


def task_definition_revisions(prefix: str) -> Accepted:
    return Accepted(
        "AwsSolutions-IAM5",
        TASK_DEFINITION_REVISIONS,
        (
            resource_regex(
                rf"arn:<AWS::Partition>:ecs:[^:]+:{ACCOUNT}:task-definition/"
                rf"{re.escape(prefix)}-agent:\*"
            ),
        ),
    )


def connections() -> Accepted:
    return Accepted(
        "AwsSolutions-IAM5",
        CONNECTIONS,
        (
            resource_regex(
                rf"arn:<AWS::Partition>:execute-api:[^:]+:{ACCOUNT}:<\w+>/prod/\*/@connections/\*"
            ),
        ),
    )


def ecs_tasks() -> Accepted:
    return Accepted(
        "AwsSolutions-IAM5",
        ECS_TASKS,
        (
            "Resource::*",
            resource_regex(rf"arn:<AWS::Partition>:ecs:[^:]+:{ACCOUNT}:task/<\w+>/\*"),
        ),
    )


def log_streams() -> Accepted:
    return Accepted(
        "AwsSolutions-IAM5",
        LOG_STREAMS,
        (resource_regex(r"<\w+FunctionLogs\w*\.Arn>:log-stream:\*"),),
    )


def cdk_provider() -> tuple[Accepted, ...]:
    return (
        Accepted("AwsSolutions-L1", CDK_RUNTIME),
        Accepted(
            "AwsSolutions-IAM4",
            CDK_PROVIDER,
            (
                "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
            ),
        ),
        Accepted(
            "AwsSolutions-IAM5",
            CDK_PROVIDER,
            (
                "Action::s3:GetObject*",
                "Action::s3:GetBucket*",
                "Action::s3:List*",
                "Action::s3:DeleteObject*",
                "Action::s3:Abort*",
                "Resource::*",
                resource_regex(
                    rf"arn:<AWS::Partition>:s3:::cdk-[a-z0-9]+-assets-{ACCOUNT}-[^/]+/\*"
                ),
                resource_regex(r"<\w*SiteBucket\w*\.Arn>/\*"),
            ),
        ),
    )
