"""The control plane: Lambda handlers behind a WebSocket API and an HTTP API, and the watchdog.

Lambdas run outside the VPC (they only call AWS APIs and Telegram). Two roles: the request
handlers share one (each of them may queue a job and wake the agent), the watchdog has its
own (the only one that scans task-state rows, lists tasks and reads dead letters). What each
may touch is in `infra/access.py` and docs/iam.md, scoped to this deployment's resources.
Their environment is written by the settings classes they read (`HandlerSettings`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Aws, Duration, RemovalPolicy, Stack, Tags
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from serverless_openclaw.adapters.aws.agent_roles import person_policy_names, role_arn_prefix
from serverless_openclaw.infra import nag
from serverless_openclaw.infra.access import (
    AGENT_TASK,
    DEAD_LETTER_ACTIONS,
    HANDLER_ATTACHMENT_ACTIONS,
    HANDLER_QUEUE_ACTIONS,
    HANDLER_TABLES,
    WATCHDOG,
    WATCHDOG_QUEUE_ACTIONS,
    WATCHDOG_TABLES,
    RoleName,
)
from serverless_openclaw.infra.components.agent import AgentTask
from serverless_openclaw.infra.components.auth import Auth
from serverless_openclaw.infra.components.network import Network
from serverless_openclaw.infra.components.storage import Storage
from serverless_openclaw.infra.config import DeploymentConfig
from serverless_openclaw.infra.policies import ROLE_TAG, managed_policy_description
from serverless_openclaw.infra.retention import retention
from serverless_openclaw.settings import (
    AuthSettings,
    ComputeSettings,
    HandlerSettings,
    NamesSettings,
    TelegramSettings,
)

HANDLER_MODULE = "serverless_openclaw.gateway"
STAGE = "prod"


@dataclass(frozen=True)
class HandlerSpec:
    name: str
    memory_mb: int = 256
    timeout_s: int = 29
    role: RoleName = "handlers"


HANDLERS: tuple[HandlerSpec, ...] = (
    HandlerSpec("ws_connect"),
    HandlerSpec("ws_message"),
    HandlerSpec("ws_disconnect", timeout_s=10),
    HandlerSpec("http_api"),
    # 256 MB: a sweep peaked at ~87 MB of 128 (imports, boto3 clients, a page of rows).
    HandlerSpec("watchdog", memory_mb=256, timeout_s=55, role=WATCHDOG),
)
TELEGRAM_HANDLER = HandlerSpec("telegram_webhook")


class ControlPlane(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        code_dir: Path,
        network: Network,
        storage: Storage,
        auth: Auth,
        agent: AgentTask,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self._config = config
        self.code = lambda_.Code.from_asset(str(code_dir))
        self.roles: dict[RoleName, iam.Role] = {
            "handlers": self._role("HandlerRole", "handlers", "request handlers"),
            WATCHDOG: self._role("WatchdogRole", WATCHDOG, "watchdog"),
        }
        self.role = self.roles["handlers"]
        self.websocket_api = apigw.WebSocketApi(
            self, "WebSocketApi", api_name=f"{config.prefix}-ws"
        )
        self.websocket_stage = apigw.WebSocketStage(
            self,
            "WebSocketStage",
            web_socket_api=self.websocket_api,
            stage_name=STAGE,
            auto_deploy=True,
            throttle=apigw.ThrottleSettings(rate_limit=50, burst_limit=100),
        )
        self.connections_url = self.websocket_stage.callback_url
        self.connections_url_param = ssm.StringParameter(
            self,
            "ConnectionsUrl",
            parameter_name=config.connections_url_param,
            string_value=self.connections_url,
            description="@connections endpoint the agent task posts replies to",
        )

        self.settings = self._settings(network, storage, auth, agent)
        environment = {
            **self.settings.to_environment(),
            "POWERTOOLS_SERVICE_NAME": config.prefix,
        }
        specs = HANDLERS + ((TELEGRAM_HANDLER,) if config.telegram else ())
        self.log_groups: dict[str, logs.LogGroup] = {}
        self.functions: dict[str, lambda_.Function] = {
            spec.name: self._function(spec, environment) for spec in specs
        }

        ws = self.functions
        self.websocket_api.add_route(
            "$connect",
            integration=integrations.WebSocketLambdaIntegration(
                "ConnectIntegration", ws["ws_connect"]
            ),
        )
        self.websocket_api.add_route(
            "$default",
            integration=integrations.WebSocketLambdaIntegration(
                "DefaultIntegration", ws["ws_message"]
            ),
            # ws_message answers each frame (ack, pong, status, error) in its response body:
            # a two-way route, so API Gateway sends that body back to the client.
            return_response=True,
        )
        self.websocket_api.add_route(
            "$disconnect",
            integration=integrations.WebSocketLambdaIntegration(
                "DisconnectIntegration", ws["ws_disconnect"]
            ),
        )
        for route in self.websocket_api.node.find_all():
            if isinstance(route, apigw.CfnRoute):
                key = str(route.route_key)
                reason = nag.WS_CONNECT_AUTH if key == "$connect" else nag.WS_ROUTES_AUTH
                nag.suppress(route, nag.Accepted("AwsSolutions-APIG4", reason))
        nag.suppress(self.websocket_stage, nag.Accepted("AwsSolutions-APIG1", nag.WS_ACCESS_LOGS))

        self.http_api = self._http_api(config)
        self._grant(config, stack, storage, agent)
        self._schedule_watchdog()

    def _role(self, construct_id: str, name: RoleName, what: str) -> iam.Role:
        role = iam.Role(
            self,
            construct_id,
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"serverless-openclaw {what}",
        )
        Tags.of(role).add(ROLE_TAG, name)
        return role

    # --- functions ------------------------------------------------------------------------
    def _settings(
        self, network: Network, storage: Storage, auth: Auth, agent: AgentTask
    ) -> HandlerSettings:
        """What every handler reads (`HandlerSettings`), with this deployment's values. The
        task definition is named by its family: RunTask takes the latest ACTIVE revision,
        and nothing that changes with the agent's code crosses from the Compute stack."""
        config = self._config
        telegram = (
            TelegramSettings.given(
                telegram_bot_token_param=config.telegram_bot_token_param,
                telegram_webhook_secret_param=config.telegram_webhook_secret_param,
            )
            if config.telegram
            else TelegramSettings.given()
        )
        return HandlerSettings.given(
            names=NamesSettings.given(
                prefix=config.prefix,
                state_bucket=storage.state_bucket.bucket_name,
                connections_url=self.connections_url,
                inbox_dlq_arn=storage.inbox_dlq.queue_arn,
            ),
            auth=AuthSettings.given(
                user_pool_id=auth.user_pool.user_pool_id,
                user_pool_client_id=auth.client.user_pool_client_id,
            ),
            compute=ComputeSettings.given(
                ecs_cluster=agent.cluster.cluster_name,
                task_definition=agent.family,
                container_name=agent.container.container_name,
                subnets=network.public_subnet_ids,
                security_groups=[network.task_security_group.security_group_id],
                capacity_provider="FARGATE_SPOT",
                assign_public_ip=True,
                agent_role_arn_prefix=role_arn_prefix(
                    config.prefix, account=Stack.of(self).account, partition=Aws.PARTITION
                ),
            ),
            telegram=telegram,
            default_idle_timeout_minutes=config.idle_timeout_minutes,
        )

    def _function(self, spec: HandlerSpec, environment: dict[str, str]) -> lambda_.Function:
        config = self._config
        name = f"{config.prefix}-{spec.name.replace('_', '-')}"
        construct_id = "".join(part.capitalize() for part in spec.name.split("_"))
        log_group = logs.LogGroup(
            self,
            f"{construct_id}FunctionLogs",
            log_group_name=f"/aws/lambda/{name}",
            retention=retention(config.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.log_groups[spec.name] = log_group
        role = self.roles[spec.role]
        function = lambda_.Function(
            self,
            f"{construct_id}Function",
            function_name=name,
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.ARM_64,
            handler=f"{HANDLER_MODULE}.{spec.name}.handler",
            code=self.code,
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_s),
            role=role,
            environment=environment,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[f"{log_group.log_group_arn}:log-stream:*"],
            )
        )
        nag.suppress(function, nag.Accepted("AwsSolutions-L1", nag.PYTHON_RUNTIME))
        return function

    # --- HTTP API -------------------------------------------------------------------------
    def _http_api(self, config: DeploymentConfig) -> apigw.HttpApi:
        """No CORS: browsers reach the REST API through the web app's own CloudFront
        distribution (`/api/*`, same origin), so no other site may call it from a page.

        No JWT authorizer either: the `http_api` Lambda verifies `Authorization: Bearer <ID
        token>` itself (the same verifier as `ws_connect`), because an API Gateway authorizer
        would answer 401 with its own body instead of the documented `{"error": {...}}` and
        would accept a Cognito access token as well as an ID token."""
        api = apigw.HttpApi(
            self,
            "HttpApi",
            api_name=f"{config.prefix}-http",
            create_default_stage=False,
        )
        self.http_stage = apigw.HttpStage(
            self,
            "HttpStage",
            http_api=api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigw.ThrottleSettings(rate_limit=50, burst_limit=100),
        )
        self.http_access_logs = logs.LogGroup(
            self,
            "HttpAccessLogs",
            log_group_name=f"/{config.prefix}/http-access",
            retention=retention(config.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        cfn_stage = self.http_stage.node.default_child
        assert isinstance(cfn_stage, apigw.CfnStage)
        cfn_stage.access_log_settings = apigw.CfnStage.AccessLogSettingsProperty(
            destination_arn=self.http_access_logs.log_group_arn,
            format=(
                '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
                '"time":"$context.requestTime","method":"$context.httpMethod",'
                '"route":"$context.routeKey","status":"$context.status",'
                '"latency":"$context.responseLatency",'
                '"error":"$context.integrationErrorMessage"}'
            ),
        )
        rest = integrations.HttpLambdaIntegration("RestIntegration", self.functions["http_api"])
        routes = api.add_routes(
            path="/api/{proxy+}",
            methods=[
                apigw.HttpMethod.GET,
                apigw.HttpMethod.POST,
                apigw.HttpMethod.PUT,
                apigw.HttpMethod.DELETE,
            ],
            integration=rest,
        )
        for route in routes:
            nag.suppress(route, nag.Accepted("AwsSolutions-APIG4", nag.HTTP_API_AUTH))
        if config.telegram:
            routes = api.add_routes(
                path="/telegram/webhook",
                methods=[apigw.HttpMethod.POST],
                integration=integrations.HttpLambdaIntegration(
                    "TelegramIntegration", self.functions["telegram_webhook"]
                ),
            )
            for route in routes:
                nag.suppress(route, nag.Accepted("AwsSolutions-APIG4", nag.TELEGRAM_WEBHOOK_AUTH))
        return api

    @property
    def http_url(self) -> str:
        return self.http_api.api_endpoint

    @property
    def http_domain(self) -> str:
        """The HTTP API's host name (CloudFront's origin for `/api/*`)."""
        stack = Stack.of(self)
        return f"{self.http_api.api_id}.execute-api.{stack.region}.{stack.url_suffix}"

    @property
    def websocket_url(self) -> str:
        return self.websocket_stage.url

    # --- permissions ----------------------------------------------------------------------
    def _grant(
        self, config: DeploymentConfig, stack: Stack, storage: Storage, agent: AgentTask
    ) -> None:
        handlers, watchdog = self.roles["handlers"], self.roles[WATCHDOG]
        storage.grant_table_access(handlers, HANDLER_TABLES)
        storage.grant_table_access(watchdog, WATCHDOG_TABLES)
        handlers.add_to_principal_policy(
            iam.PolicyStatement(
                actions=list(HANDLER_QUEUE_ACTIONS), resources=[storage.inbox_arn()]
            )
        )
        watchdog.add_to_principal_policy(
            iam.PolicyStatement(
                actions=list(WATCHDOG_QUEUE_ACTIONS), resources=[storage.inbox_arn()]
            )
        )
        handlers.add_to_principal_policy(
            iam.PolicyStatement(
                actions=list(HANDLER_ATTACHMENT_ACTIONS),
                resources=[storage.attachment_object_arn()],
            )
        )
        watchdog.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["sqs:GetQueueUrl", *DEAD_LETTER_ACTIONS],
                resources=[storage.inbox_dlq.queue_arn],
            )
        )
        connections = stack.format_arn(
            service="execute-api",
            resource=self.websocket_api.api_id,
            resource_name=f"{STAGE}/*/@connections/*",
        )
        for role in (handlers, watchdog):
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["execute-api:ManageConnections"], resources=[connections]
                )
            )
        # Each person's agent task posts its streamed replies to the same @connections API.
        # A managed policy of this stack (the Compute stack needs nothing from us) that the
        # operator's `user add` attaches to the person's role with the Compute stack's.
        self.agent_connections_policy_name = person_policy_names(config.prefix)[1]
        agent_connections = iam.ManagedPolicy(
            self,
            "AgentConnectionsPolicy",
            managed_policy_name=self.agent_connections_policy_name,
            description=managed_policy_description(
                AGENT_TASK, "stream replies to the open browsers of the agent's person"
            ),
            statements=[
                iam.PolicyStatement(
                    actions=["execute-api:ManageConnections"], resources=[connections]
                )
            ],
        )
        nag.suppress(agent_connections, nag.connections())
        on_cluster = {"ArnEquals": {"ecs:cluster": agent.cluster.cluster_arn}}
        # Both wake agents: RunTask by family (the latest ACTIVE revision), passing ECS the
        # execution role and the person's own task role (`<prefix>-user-<hash>`, made by the
        # operator's `user add`; the task definition's default role holds no right).
        for role in (handlers, watchdog):
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["ecs:RunTask"],
                    resources=[agent.task_definition_revisions_arn],
                    conditions=on_cluster,
                )
            )
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["iam:PassRole"],
                    resources=[
                        agent.task_role.role_arn,
                        agent.execution_role.role_arn,
                        self.person_roles_arn(config, stack),
                    ],
                    conditions={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
                )
            )
        tasks = stack.format_arn(
            service="ecs", resource="task", resource_name=f"{agent.cluster.cluster_name}/*"
        )
        # Handlers stop the agent they started (stop button, a launch given up on).
        handlers.add_to_principal_policy(
            iam.PolicyStatement(actions=["ecs:StopTask"], resources=[tasks], conditions=on_cluster)
        )
        watchdog.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:StopTask", "ecs:DescribeTasks"],
                resources=[tasks],
                conditions=on_cluster,
            )
        )
        watchdog.add_to_principal_policy(
            iam.PolicyStatement(actions=["ecs:ListTasks"], resources=["*"], conditions=on_cluster)
        )
        if config.telegram:
            token, secret = (
                stack.format_arn(service="ssm", resource="parameter", resource_name=name[1:])
                for name in (config.telegram_bot_token_param, config.telegram_webhook_secret_param)
            )
            handlers.add_to_principal_policy(
                iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[token, secret])
            )
            # Notices (a skipped wake, an unanswerable message) also go to the linked chat.
            watchdog.add_to_principal_policy(
                iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[token])
            )
        for role in (handlers, watchdog):
            nag.suppress(
                role,
                nag.log_streams(),
                nag.table_indexes(),
                nag.inbox_queues(config.prefix),
                nag.connections(),
                nag.ecs_tasks(),
                nag.task_definition_revisions(config.prefix),
                nag.person_roles(config.prefix),
            )
        nag.suppress(handlers, nag.attachments())

    @staticmethod
    def person_roles_arn(config: DeploymentConfig, stack: Stack) -> str:
        """Every person's task role (`iam:PassRole` names no other)."""
        return role_arn_prefix(config.prefix, account=stack.account, partition=Aws.PARTITION) + "*"

    def _schedule_watchdog(self) -> None:
        rule = events.Rule(
            self,
            "WatchdogSchedule",
            description="Stops idle agent tasks, recovers stuck ones, finds orphans",
            schedule=events.Schedule.rate(Duration.minutes(1)),
        )
        rule.add_target(targets.LambdaFunction(self.functions["watchdog"], retry_attempts=0))
