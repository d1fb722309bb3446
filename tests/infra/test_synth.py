"""What the synthesized templates promise about the deployed system (offline, no credentials).

Assertions are on properties, never on generated logical ids or whole-template snapshots.
"""

from __future__ import annotations

import json
import re
import zipfile
from typing import Any

import pytest
from tests.infra.conftest import CliSynth, Synthesized

from serverless_openclaw.adapters.aws.tables import ALL_TABLES
from serverless_openclaw.infra.config import STACK_KINDS

pytestmark = pytest.mark.infra


def statements(synth: Synthesized) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for policy_type in ("AWS::IAM::Policy", "AWS::IAM::Role", "AWS::IAM::ManagedPolicy"):
        for resource in synth.resources(policy_type).values():
            props = resource["Properties"]
            documents = [props["PolicyDocument"]] if "PolicyDocument" in props else []
            documents += [p["PolicyDocument"] for p in props.get("Policies", [])]
            for document in documents:
                found += document["Statement"]
    return found


def actions(statement: dict[str, Any]) -> list[str]:
    value = statement.get("Action", [])
    return [value] if isinstance(value, str) else list(value)


def resources(statement: dict[str, Any]) -> list[Any]:
    value = statement.get("Resource", [])
    return value if isinstance(value, list) else [value]


def granting(synth: Synthesized, action: str) -> list[dict[str, Any]]:
    return [s for s in statements(synth) if action in actions(s) and s["Effect"] == "Allow"]


def csp_directives(policy: Any) -> dict[str, list[str]]:
    """A synthesized Content-Security-Policy (a `Fn::Join` of text and imported names) by
    directive, the state bucket's imported name written `<state-bucket>`."""
    separator, parts = policy["Fn::Join"]
    text = separator.join(
        part
        if isinstance(part, str)
        else "<state-bucket>"
        if "StateBucket" in json.dumps(part)
        else "<token>"
        for part in parts
    )
    directives: dict[str, list[str]] = {}
    for directive in text.split(";"):
        name, *sources = directive.split()
        directives[name] = sources
    return directives


def test_cli_synth_writes_every_stack_template_offline(cli_synth: CliSynth) -> None:
    names = {path.name.split(".")[0] for path in cli_synth.templates}
    assert names == {kind.capitalize() for kind in STACK_KINDS}
    for kind in STACK_KINDS:
        assert f"serverless-openclaw-{kind}" in cli_synth.stdout


def test_no_nat_gateway_anywhere(synthesized: Synthesized) -> None:
    for template in synthesized.templates.values():
        template.resource_count_is("AWS::EC2::NatGateway", 0)
        template.resource_count_is("AWS::EC2::EIP", 0)
    network = synthesized.templates["network"]
    network.resource_count_is("AWS::EC2::InternetGateway", 1)
    subnets = synthesized.resources("AWS::EC2::Subnet")
    assert len(subnets) == 2
    # Only public subnets: every route table sends 0.0.0.0/0 to the internet gateway.
    for route in synthesized.resources("AWS::EC2::Route").values():
        assert "GatewayId" in route["Properties"]


def test_s3_and_dynamodb_gateway_endpoints(synthesized: Synthesized) -> None:
    endpoints = synthesized.resources("AWS::EC2::VPCEndpoint").values()
    services = {json.dumps(e["Properties"]["ServiceName"]) for e in endpoints}
    assert any(".s3" in s for s in services) and any(".dynamodb" in s for s in services)
    assert all(e["Properties"]["VpcEndpointType"] == "Gateway" for e in endpoints)


def test_task_security_group_has_no_inbound_rule(synthesized: Synthesized) -> None:
    from aws_cdk.assertions import Match

    for template in synthesized.templates.values():
        template.resource_count_is("AWS::EC2::SecurityGroupIngress", 0)
    groups = synthesized.resources("AWS::EC2::SecurityGroup")
    assert groups, "the task security group is missing"
    for group in groups.values():
        assert not group["Properties"].get("SecurityGroupIngress")
    synthesized.templates["network"].has_resource_properties(
        "AWS::EC2::SecurityGroup",
        {
            "SecurityGroupEgress": [
                Match.object_like({"CidrIp": "0.0.0.0/0", "FromPort": 443, "ToPort": 443})
            ]
        },
    )


def test_every_lambda_is_arm64_and_outside_the_vpc(synthesized: Synthesized) -> None:
    functions = synthesized.resources("AWS::Lambda::Function")
    assert len(functions) >= 6
    for name, function in functions.items():
        props = function["Properties"]
        assert props.get("Architectures") == ["arm64"], name
        assert "VpcConfig" not in props, name


def test_handlers_are_python312_with_the_gateway_entry_points(synthesized: Synthesized) -> None:
    handlers = {
        f["Properties"]["Handler"]
        for f in synthesized.resources("AWS::Lambda::Function").values()
        if f["Properties"].get("Runtime") == "python3.12"
    }
    assert handlers == {
        f"serverless_openclaw.gateway.{name}.handler"
        for name in (
            "ws_connect",
            "ws_message",
            "ws_disconnect",
            "http_api",
            "watchdog",
            "telegram_webhook",
        )
    }


def test_handlers_get_the_settings_they_read(synthesized: Synthesized) -> None:
    from aws_cdk.assertions import Match

    synthesized.templates["api"].has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "serverless_openclaw.gateway.ws_message.handler",
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "SOC_PREFIX": "serverless-openclaw",
                        "SOC_STATE_BUCKET": Match.any_value(),
                        "SOC_USER_POOL_ID": Match.any_value(),
                        "SOC_USER_POOL_CLIENT_ID": Match.any_value(),
                        "SOC_CONNECTIONS_URL": Match.any_value(),
                        "SOC_ECS_CLUSTER": Match.any_value(),
                        "SOC_TASK_DEFINITION": Match.any_value(),
                        "SOC_SUBNETS": Match.any_value(),
                        "SOC_SECURITY_GROUPS": Match.any_value(),
                        "SOC_CONTAINER_NAME": "agent",
                        "SOC_CAPACITY_PROVIDER": "FARGATE_SPOT",
                        "SOC_INBOX_DLQ_ARN": Match.any_value(),
                        "SOC_TELEGRAM_BOT_TOKEN_PARAM": "/serverless-openclaw/telegram/bot-token",
                    }
                )
            },
        },
    )


def test_agent_task_is_spot_arm64_with_graceful_stop(synthesized: Synthesized) -> None:
    from aws_cdk.assertions import Match

    compute = synthesized.templates["compute"]
    compute.has_resource_properties(
        "AWS::ECS::ClusterCapacityProviderAssociations",
        {
            "DefaultCapacityProviderStrategy": [
                Match.object_like({"CapacityProvider": "FARGATE_SPOT"})
            ]
        },
    )
    compute.has_resource_properties(
        "AWS::ECS::TaskDefinition",
        {
            "Cpu": "1024",
            "Memory": "2048",
            "RequiresCompatibilities": ["FARGATE"],
            "RuntimePlatform": {"CpuArchitecture": "ARM64", "OperatingSystemFamily": "LINUX"},
            "ContainerDefinitions": [
                Match.object_like(
                    {
                        "Name": "agent",
                        "Essential": True,
                        "StopTimeout": 120,
                        "PortMappings": Match.absent(),
                        "HealthCheck": Match.object_like({"Command": Match.array_with(["CMD"])}),
                        "LogConfiguration": Match.object_like({"LogDriver": "awslogs"}),
                    }
                )
            ],
        },
    )


def test_secrets_reach_the_task_from_ssm_never_in_plain_environment(
    synthesized: Synthesized,
) -> None:
    (task,) = synthesized.resources("AWS::ECS::TaskDefinition").values()
    (container,) = task["Properties"]["ContainerDefinitions"]
    env_names = {item["Name"] for item in container.get("Environment", [])}
    secret_names = {item["Name"] for item in container["Secrets"]}
    assert {"ANTHROPIC_API_KEY", "SOC_TELEGRAM_BOT_TOKEN", "SOC_CONNECTIONS_URL"} <= secret_names
    assert "TELEGRAM_BOT_TOKEN" not in env_names | secret_names
    assert not any("KEY" in name or "TOKEN" in name for name in env_names)
    for secret in container["Secrets"]:
        assert ":parameter/serverless-openclaw/" in json.dumps(secret["ValueFrom"])
    health = " ".join(container["HealthCheck"]["Command"])
    assert "/health" in health and "127.0.0.1:8080" in health


def test_tables_match_the_shared_definitions(synthesized: Synthesized) -> None:
    tables = {
        t["Properties"]["TableName"]: t["Properties"]
        for t in synthesized.resources("AWS::DynamoDB::Table").values()
    }
    assert set(tables) == {spec.physical_name("serverless-openclaw") for spec in ALL_TABLES}
    for spec in ALL_TABLES:
        props = tables[spec.physical_name("serverless-openclaw")]
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["SSESpecification"] == {"SSEEnabled": True}
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        if spec.ttl_attribute:
            assert props["TimeToLiveSpecification"] == {
                "AttributeName": spec.ttl_attribute,
                "Enabled": True,
            }
        indexes = {
            index["IndexName"]
            for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes")
            for index in props.get(key, [])
        }
        assert indexes == {index.name for index in spec.indexes}


def test_buckets_are_encrypted_private_and_state_is_versioned(synthesized: Synthesized) -> None:
    from aws_cdk.assertions import Match

    buckets = synthesized.resources("AWS::S3::Bucket")
    assert len(buckets) == 2
    for bucket in buckets.values():
        props = bucket["Properties"]
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
    synthesized.templates["storage"].has_resource_properties(
        "AWS::S3::Bucket",
        {
            "VersioningConfiguration": {"Status": "Enabled"},
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "NoncurrentVersionExpiration": {"NoncurrentDays": 3},
                                "Status": "Enabled",
                            }
                        )
                    ]
                )
            },
        },
    )
    # TLS only, on both buckets.
    policies = synthesized.resources("AWS::S3::BucketPolicy").values()
    denies = [
        s
        for p in policies
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny" and "aws:SecureTransport" in json.dumps(s)
    ]
    assert len(denies) == 2


def test_inbox_dead_letter_queue_is_encrypted_fifo(synthesized: Synthesized) -> None:
    synthesized.templates["storage"].has_resource_properties(
        "AWS::SQS::Queue",
        {
            "QueueName": "serverless-openclaw-dead-letters.fifo",
            "FifoQueue": True,
            "SqsManagedSseEnabled": True,
        },
    )
    for queue in synthesized.resources("AWS::SQS::Queue").values():
        assert queue["Properties"].get("SqsManagedSseEnabled") is True


def test_cognito_only_admins_create_users(synthesized: Synthesized) -> None:
    auth = synthesized.templates["auth"]
    auth.has_resource_properties(
        "AWS::Cognito::UserPool",
        {"AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True}},
    )
    auth.has_resource_properties(
        "AWS::Cognito::UserPoolClient",
        {
            "GenerateSecret": False,
            "ExplicitAuthFlows": ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        },
    )
    # No hosted UI: no OAuth flows, no example.com callback URL.
    (client,) = synthesized.resources("AWS::Cognito::UserPoolClient").values()
    assert not client["Properties"].get("AllowedOAuthFlows")
    assert not client["Properties"].get("CallbackURLs")


def test_websocket_routes_and_http_routes_without_an_api_gateway_authorizer(
    synthesized: Synthesized,
) -> None:
    """The handlers verify the ID token themselves: an API Gateway JWT authorizer would answer
    401 with its own body (not docs/api.md's) and would let an access token through."""
    routes = [r["Properties"] for r in synthesized.resources("AWS::ApiGatewayV2::Route").values()]
    keys = {r["RouteKey"] for r in routes}
    assert {"$connect", "$default", "$disconnect"} <= keys
    # ws_message answers in its response body (ack, pong, errors): a two-way $default route.
    (default,) = [r for r in routes if r["RouteKey"] == "$default"]
    assert default.get("RouteResponseSelectionExpression") == "$default"
    responses = synthesized.resources("AWS::ApiGatewayV2::RouteResponse").values()
    assert [r["Properties"]["RouteResponseKey"] for r in responses] == ["$default"]
    api_routes = [r for r in routes if r["RouteKey"].endswith("/api/{proxy+}")]
    assert {r["RouteKey"].split()[0] for r in api_routes} == {"GET", "POST", "PUT", "DELETE"}
    assert all(r.get("AuthorizationType", "NONE") == "NONE" for r in api_routes)
    (webhook,) = [r for r in routes if r["RouteKey"] == "POST /telegram/webhook"]
    assert webhook.get("AuthorizationType", "NONE") == "NONE"
    assert not synthesized.resources("AWS::ApiGatewayV2::Authorizer")


def test_watchdog_runs_every_minute(synthesized: Synthesized) -> None:
    from aws_cdk.assertions import Match

    synthesized.templates["api"].has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": "rate(1 minute)",
            "Targets": [Match.object_like({"Arn": Match.any_value()})],
        },
    )


def test_least_privilege_for_starting_and_stopping_tasks(synthesized: Synthesized) -> None:
    runs = granting(synthesized, "ecs:RunTask")
    assert len(runs) == 2  # the handlers and the watchdog
    for run in runs:
        # The family's revisions (RunTask takes the latest ACTIVE one), on our cluster.
        assert len(resources(run)) == 1
        assert ":task-definition/serverless-openclaw-agent:*" in json.dumps(resources(run))
        assert "ecs:cluster" in json.dumps(run["Condition"])
    for pass_role in granting(synthesized, "iam:PassRole"):
        # The execution role, the task definition's (rightless) role, the people's roles.
        assert len(resources(pass_role)) == 3
        assert ":role/serverless-openclaw-user-*" in json.dumps(resources(pass_role))
        assert pass_role["Condition"] == {
            "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
        }
    for action in ("ecs:StopTask", "ecs:DescribeTasks", "ecs:ListTasks"):
        for statement in granting(synthesized, action):
            assert "ecs:cluster" in json.dumps(statement["Condition"]), action
    assert not granting(synthesized, "ecs:TagResource")
    for statement in statements(synthesized):
        assert "*" not in actions(statement), "no statement may allow every action"


def test_queue_bucket_and_connections_grants_are_scoped(synthesized: Synthesized) -> None:
    inboxes = {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, ":sqs:us-east-1:", {"Ref": "AWS::AccountId"},
             ":serverless-openclaw-inbox-*"],
        ]
    }  # fmt: skip
    for statement in granting(synthesized, "sqs:SendMessage"):
        assert resources(statement) == [inboxes]
    person = "${aws:PrincipalTag/serverless-openclaw-user}"
    for statement in granting(synthesized, "sqs:ReceiveMessage"):
        # The agent its person's inbox; the watchdog the shared dead-letter queue only.
        text = json.dumps(resources(statement))
        assert f"serverless-openclaw-inbox-{person}.fifo" in text or "DeadLetterQueue" in text
    for action in ("sqs:DeleteQueue", "sqs:PurgeQueue", "sqs:SetQueueAttributes", "sqs:TagQueue"):
        assert not granting(synthesized, action), action
    assert not [s for s in statements(synthesized) if '"arn:aws:' in json.dumps(s)]
    for statement in granting(synthesized, "s3:GetObject"):
        if "ServiceRole" in json.dumps(statement):  # CDK's own web deployment helper
            continue
        text = json.dumps(resources(statement))
        assert f"/agents/{person}/*" in text or "/agents/*/attachments/*" in text
    # Only the agent reads backups, its person's; the handlers read attachments only.
    assert len(granting(synthesized, "s3:GetObject")) == 2
    for statement in granting(synthesized, "execute-api:ManageConnections"):
        assert "/prod/*/@connections/*" in json.dumps(resources(statement))
    # handlers, watchdog, agent task
    assert len(granting(synthesized, "execute-api:ManageConnections")) == 3


def test_handlers_may_put_and_get_attachments_and_nothing_else_of_the_state_bucket(
    synthesized: Synthesized,
) -> None:
    """Presigned upload forms and download links carry the signer's rights: the handlers'
    role has `s3:PutObject`/`s3:GetObject` on `agents/*/attachments/*`, never on a backup."""
    api = synthesized.template_json("api")
    handler_role = next(
        logical_id
        for logical_id, resource in api["Resources"].items()
        if resource["Type"] == "AWS::IAM::Role"
        and {"Key": "serverless-openclaw:role", "Value": "handlers"}
        in resource["Properties"].get("Tags", [])
    )
    s3_statements = [
        statement
        for resource in api["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy"
        and {"Ref": handler_role} in resource["Properties"]["Roles"]
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
        if any(action.startswith("s3:") for action in actions(statement))
    ]
    assert len(s3_statements) == 1
    (statement,) = s3_statements
    assert statement["Effect"] == "Allow" and "Condition" not in statement
    assert sorted(actions(statement)) == ["s3:GetObject", "s3:PutObject"]
    ((join_separator, parts),) = [r["Fn::Join"] for r in resources(statement)]
    assert join_separator == ""
    assert "StateBucket" in json.dumps(parts[0])  # the state bucket's ARN, imported
    assert parts[1:] == ["/agents/*/attachments/*"]


def test_state_bucket_accepts_upload_forms_from_the_web_app_only(
    synthesized: Synthesized,
) -> None:
    """The browser posts the presigned form to the bucket itself: a CORS rule allows POST
    from the site's origin (CloudFront's addresses when the site has no custom domain: its
    own is only known after the Web stack, which depends on this one)."""
    (bucket,) = [
        b
        for b in synthesized.resources("AWS::S3::Bucket").values()
        if "VersioningConfiguration" in b["Properties"]
    ]
    (rule,) = bucket["Properties"]["CorsConfiguration"]["CorsRules"]
    assert rule["AllowedMethods"] == ["POST"]
    assert rule["AllowedOrigins"] == ["https://*.cloudfront.net"]
    (site_bucket,) = [
        b
        for b in synthesized.resources("AWS::S3::Bucket").values()
        if "VersioningConfiguration" not in b["Properties"]
    ]
    assert "CorsConfiguration" not in site_bucket["Properties"]


def test_with_a_custom_domain_only_the_site_may_post_upload_forms() -> None:
    from aws_cdk import App
    from aws_cdk.assertions import Template

    from serverless_openclaw.infra.config import CustomDomain, DeploymentConfig
    from serverless_openclaw.infra.stacks import StorageStack

    domain = CustomDomain(
        domain_name="chat.example.com",
        certificate_arn="arn:aws:acm:us-east-1:123456789012:certificate/abc",
    )
    config = DeploymentConfig(custom_domain=domain)
    template = Template.from_stack(StorageStack(App(), "Storage", config=config))
    buckets = template.find_resources("AWS::S3::Bucket")
    (rule,) = [
        r for b in buckets.values() for r in b["Properties"]["CorsConfiguration"]["CorsRules"]
    ]
    assert rule["AllowedOrigins"] == ["https://chat.example.com"]
    assert rule["AllowedMethods"] == ["POST"]


def test_log_groups_have_retention_and_lambdas_use_them(synthesized: Synthesized) -> None:
    groups = synthesized.resources("AWS::Logs::LogGroup")
    assert groups
    for name, group in groups.items():
        assert group["Properties"].get("RetentionInDays") == 30, name
    for function in synthesized.resources("AWS::Lambda::Function").values():
        if function["Properties"].get("Runtime") == "python3.12":
            assert "LogGroup" in function["Properties"]["LoggingConfig"]


def test_alarms_for_failed_tasks_and_dead_letters(synthesized: Synthesized) -> None:
    from aws_cdk.assertions import Match

    monitoring = synthesized.templates["monitoring"]
    monitoring.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Namespace": "AWS/SQS",
            "Threshold": 1,
        },
    )
    # Failed tasks alert through EventBridge -> SNS (free), not a second paid alarm.
    assert len(synthesized.resources("AWS::CloudWatch::Alarm")) == 1
    monitoring.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": Match.object_like(
                {"source": ["aws.ecs"], "detail-type": ["ECS Task State Change"]}
            ),
            "Targets": Match.array_with([Match.object_like({"Arn": Match.any_value()})]),
        },
    )
    monitoring.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "owner@example.com"}
    )


def test_web_is_private_bucket_behind_cloudfront_with_security_headers(
    synthesized: Synthesized,
) -> None:
    from aws_cdk.assertions import Match

    web = synthesized.templates["web"]
    web.resource_count_is("AWS::CloudFront::OriginAccessControl", 1)
    web.has_resource_properties(
        "AWS::CloudFront::Distribution",
        {
            "DistributionConfig": Match.object_like(
                {
                    "DefaultRootObject": "index.html",
                    "DefaultCacheBehavior": Match.object_like(
                        {"ViewerProtocolPolicy": "redirect-to-https"}
                    ),
                    "Origins": Match.array_with(
                        [Match.object_like({"OriginAccessControlId": Match.any_value()})]
                    ),
                    # The REST API is this site's /api/*: same origin, nothing cached, and
                    # no distribution-wide error page that would hide the API's 404s.
                    "CacheBehaviors": [
                        Match.object_like(
                            {
                                "PathPattern": "/api/*",
                                "ViewerProtocolPolicy": "https-only",
                                "AllowedMethods": Match.array_with(["PUT", "POST", "DELETE"]),
                            }
                        )
                    ],
                    "CustomErrorResponses": Match.absent(),
                }
            )
        },
    )
    for api in synthesized.resources("AWS::ApiGatewayV2::Api").values():
        assert "CorsConfiguration" not in api["Properties"]
    (policy,) = synthesized.resources("AWS::CloudFront::ResponseHeadersPolicy").values()
    security = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    csp = json.dumps(security["ContentSecurityPolicy"])
    for directive in ("default-src 'self'", "frame-ancestors 'none'", "connect-src 'self'",
                      "https://cognito-idp.us-east-1.amazonaws.com"):  # fmt: skip
        assert directive in csp
    assert security["FrameOptions"]["FrameOption"] == "DENY"
    # Attachments: uploads posted to, thumbnails shown from the state bucket's regional
    # address (presigned), in connect-src and img-src; nothing else of S3.
    directives = csp_directives(security["ContentSecurityPolicy"]["ContentSecurityPolicy"])
    bucket = "https://<state-bucket>.s3.us-east-1.amazonaws.com"
    assert bucket in directives["connect-src"]
    assert bucket in directives["img-src"]
    assert [d for d, sources in directives.items() if bucket in sources] == [
        "img-src",
        "connect-src",
    ]
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31_536_000


def test_runtime_config_json_comes_from_stack_outputs(synthesized: Synthesized) -> None:
    deployments = [
        d["Properties"]
        for d in synthesized.resources("Custom::CDKBucketDeployment").values()
        if d["Properties"].get("DistributionPaths") == ["/config.json"]
    ]
    (deployment,) = deployments
    markers = json.dumps(deployment["SourceMarkers"])
    # httpUrl is the site itself (the REST API is its /api/*).
    assert "UserPool" in markers and "WebSocketApi" in markers and "Distribution" in markers
    (key,) = deployment["SourceObjectKeys"]
    staged = synthesized.assembly_dir / f"asset.{key.removesuffix('.zip')}"
    if staged.is_dir():
        text = (staged / "config.json").read_text()
    else:
        with zipfile.ZipFile(staged.with_suffix(".zip")) as archive:
            text = archive.read("config.json").decode()
    # Deploy-time values are markers the deployment replaces with quoted JSON strings.
    config = json.loads(re.sub(r"<<marker:0xbaba:(\d+)>>", r'"marker-\1"', text))
    assert set(config) == {"region", "userPoolId", "userPoolClientId", "wsUrl", "httpUrl"}
    assert config["region"] == "us-east-1"


def test_stack_outputs_the_cli_reads(synthesized: Synthesized) -> None:
    expected = {
        "auth": {"UserPoolId", "UserPoolClientId"},
        "api": {"WebSocketUrl", "HttpApiUrl", "TelegramWebhookUrl"},
        "web": {"WebUrl"},
        "compute": {"ClusterName", "AgentLogGroup"},
    }
    for kind, outputs in expected.items():
        assert outputs <= set(synthesized.template_json(kind).get("Outputs", {})), kind
