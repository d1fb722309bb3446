"""The control plane: Lambda handlers behind a WebSocket API and an HTTP API, and the watchdog.

Lambdas run outside the VPC (they only call AWS APIs and Telegram). One role serves every
handler because each of them may wake the agent (RunTask) and route a job (SQS); what the
role may touch is listed in `_grant` and scoped to this deployment's resources.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from serverless_openclaw.infra import nag
from serverless_openclaw.infra.components.agent import AgentTask
from serverless_openclaw.infra.components.auth import Auth
from serverless_openclaw.infra.components.network import Network
from serverless_openclaw.infra.components.storage import Storage
from serverless_openclaw.infra.config import DeploymentConfig
from serverless_openclaw.infra.retention import retention

HANDLER_MODULE = "serverless_openclaw.gateway"
STAGE = "prod"


@dataclass(frozen=True)
class HandlerSpec:
    name: str
    memory_mb: int = 256
    timeout_s: int = 29


HANDLERS: tuple[HandlerSpec, ...] = (
    HandlerSpec("ws_connect"),
    HandlerSpec("ws_message"),
    HandlerSpec("ws_disconnect", timeout_s=10),
    HandlerSpec("http_api"),
    HandlerSpec("watchdog", memory_mb=128, timeout_s=55),
)
TELEGRAM_HANDLER = HandlerSpec("telegram_webhook")

SQS_ACTIONS = (
    "sqs:CreateQueue",
    "sqs:GetQueueUrl",
    "sqs:GetQueueAttributes",
    "sqs:SetQueueAttributes",
    "sqs:TagQueue",
    "sqs:SendMessage",
    "sqs:DeleteQueue",
    "sqs:PurgeQueue",
)


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
        self.role = iam.Role(
            self,
            "HandlerRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="serverless-openclaw control-plane Lambdas",
        )
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

        environment = self._environment(network, storage, auth, agent)
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

        self.http_api = self._http_api(config, auth)
        self._grant(config, stack, storage, agent)
        self._schedule_watchdog()

    # --- functions ------------------------------------------------------------------------
    def _environment(
        self, network: Network, storage: Storage, auth: Auth, agent: AgentTask
    ) -> dict[str, str]:
        config = self._config
        stack = Stack.of(self)
        env = {
            "SOC_PREFIX": config.prefix,
            "SOC_STATE_BUCKET": storage.state_bucket.bucket_name,
            "SOC_INBOX_DLQ_ARN": storage.inbox_dlq.queue_arn,
            "SOC_USER_POOL_ID": auth.user_pool.user_pool_id,
            "SOC_USER_POOL_CLIENT_ID": auth.client.user_pool_client_id,
            "SOC_CONNECTIONS_URL": self.connections_url,
            "SOC_ECS_CLUSTER": agent.cluster.cluster_name,
            "SOC_TASK_DEFINITION": agent.task_definition.task_definition_arn,
            "SOC_CONTAINER_NAME": agent.container.container_name,
            "SOC_SUBNETS": stack.to_json_string(network.public_subnet_ids),
            "SOC_SECURITY_GROUPS": stack.to_json_string(
                [network.task_security_group.security_group_id]
            ),
            "SOC_CAPACITY_PROVIDER": "FARGATE_SPOT",
            "SOC_ASSIGN_PUBLIC_IP": "true",
            "SOC_DEFAULT_MODEL_PROVIDER": config.llm_provider,
            "SOC_DEFAULT_IDLE_TIMEOUT_MINUTES": str(config.idle_timeout_minutes),
            "POWERTOOLS_SERVICE_NAME": config.prefix,
        }
        if config.telegram:
            env["SOC_TELEGRAM_BOT_TOKEN_PARAM"] = config.telegram_bot_token_param
            env["SOC_TELEGRAM_WEBHOOK_SECRET_PARAM"] = config.telegram_webhook_secret_param
        return env

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
            role=self.role,
            environment=environment,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
        )
        nag.suppress(function, nag.Accepted("AwsSolutions-L1", nag.PYTHON_RUNTIME))
        return function

    # --- HTTP API -------------------------------------------------------------------------
    def _http_api(self, config: DeploymentConfig, auth: Auth) -> apigw.HttpApi:
        origins = [f"https://{config.custom_domain.domain_name}"] if config.custom_domain else ["*"]
        authorizer = authorizers.HttpJwtAuthorizer(
            "CognitoJwt",
            jwt_issuer=auth.issuer,
            jwt_audience=[auth.client.user_pool_client_id],
            identity_source=["$request.header.Authorization"],
        )
        api = apigw.HttpApi(
            self,
            "HttpApi",
            api_name=f"{config.prefix}-http",
            create_default_stage=False,
            cors_preflight=apigw.CorsPreflightOptions(
                allow_origins=origins,
                allow_headers=["Authorization", "Content-Type"],
                allow_methods=[
                    apigw.CorsHttpMethod.GET,
                    apigw.CorsHttpMethod.POST,
                    apigw.CorsHttpMethod.PUT,
                    apigw.CorsHttpMethod.DELETE,
                    apigw.CorsHttpMethod.OPTIONS,
                ],
                max_age=Duration.hours(1),
            ),
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
                '"error":"$context.authorizer.error"}'
            ),
        )
        rest = integrations.HttpLambdaIntegration("RestIntegration", self.functions["http_api"])
        api.add_routes(
            path="/api/{proxy+}",
            methods=[
                apigw.HttpMethod.GET,
                apigw.HttpMethod.POST,
                apigw.HttpMethod.PUT,
                apigw.HttpMethod.DELETE,
            ],
            integration=rest,
            authorizer=authorizer,
        )
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
    def websocket_url(self) -> str:
        return self.websocket_stage.url

    # --- permissions ----------------------------------------------------------------------
    def _grant(
        self, config: DeploymentConfig, stack: Stack, storage: Storage, agent: AgentTask
    ) -> None:
        role = self.role
        region, account = stack.region, stack.account
        log_streams = [f"{group.log_group_arn}:log-stream:*" for group in self.log_groups.values()]
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=log_streams
            )
        )
        storage.grant_tables(role)
        storage.grant_state(role, write=False)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=list(SQS_ACTIONS),
                resources=[storage.inbox_arn_pattern(region, account)],
            )
        )
        connections = stack.format_arn(
            service="execute-api",
            resource=self.websocket_api.api_id,
            resource_name=f"{STAGE}/*/@connections/*",
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["execute-api:ManageConnections"], resources=[connections])
        )
        # The agent task posts its streamed replies to the same @connections API. The policy
        # lives here, attached to the task role, so the Compute stack needs nothing from us.
        iam.Policy(
            self,
            "AgentConnectionsPolicy",
            roles=[agent.task_role],
            statements=[
                iam.PolicyStatement(
                    actions=["execute-api:ManageConnections"], resources=[connections]
                )
            ],
        )
        cluster_arn = agent.cluster.cluster_arn
        on_cluster = {"ArnEquals": {"ecs:cluster": cluster_arn}}
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:RunTask"],
                resources=[agent.task_definition.task_definition_arn],
                conditions=on_cluster,
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:TagResource"],
                resources=["*"],
                conditions={"StringEquals": {"ecs:CreateAction": "RunTask"}},
            )
        )
        tasks = stack.format_arn(
            service="ecs", resource="task", resource_name=f"{agent.cluster.cluster_name}/*"
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:StopTask", "ecs:DescribeTasks"],
                resources=[tasks],
                conditions=on_cluster,
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["ecs:ListTasks"], resources=["*"], conditions=on_cluster)
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[agent.task_role.role_arn, agent.execution_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            )
        )
        if config.telegram:
            params = [
                stack.format_arn(service="ssm", resource="parameter", resource_name=name[1:])
                for name in (config.telegram_bot_token_param, config.telegram_webhook_secret_param)
            ]
            role.add_to_principal_policy(
                iam.PolicyStatement(actions=["ssm:GetParameter"], resources=params)
            )
        nag.suppress(
            role,
            nag.log_streams(),
            nag.table_indexes(),
            nag.inbox_queues(config.prefix),
            nag.state_prefix(),
            nag.connections(),
            nag.ecs_tasks(),
        )
        nag.suppress(self, nag.connections())

    def _schedule_watchdog(self) -> None:
        rule = events.Rule(
            self,
            "WatchdogSchedule",
            description="Stops idle agent tasks, recovers stuck ones, finds orphans",
            schedule=events.Schedule.rate(Duration.minutes(1)),
        )
        rule.add_target(targets.LambdaFunction(self.functions["watchdog"], retry_attempts=0))
