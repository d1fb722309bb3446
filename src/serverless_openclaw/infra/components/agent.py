"""The agent task: Fargate Spot, ARM64, one per active user, started by the control plane."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import ArnFormat, Aws, Duration, RemovalPolicy, Stack, Tags
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from serverless_openclaw.infra import nag
from serverless_openclaw.infra.access import (
    AGENT_EXECUTION,
    AGENT_QUEUE_ACTIONS,
    AGENT_TABLES,
    AGENT_TASK,
)
from serverless_openclaw.infra.components.network import Network
from serverless_openclaw.infra.components.storage import Storage
from serverless_openclaw.infra.config import PROVIDER_KEY_ENV, DeploymentConfig
from serverless_openclaw.infra.policies import ROLE_TAG
from serverless_openclaw.infra.retention import retention
from serverless_openclaw.settings import AgentSettings, ModelSettings, NamesSettings

CONTAINER_NAME = "agent"
HEALTH_PORT = 8080
STOP_TIMEOUT = Duration.seconds(120)
"""SIGTERM -> SIGKILL grace: the bridge drains the current turn and syncs state to S3."""
RUNTIME_DIR = "/opt/openclaw"
HEALTH_COMMAND = (
    "import urllib.request; "
    f"urllib.request.urlopen('http://127.0.0.1:{HEALTH_PORT}/health', timeout=4)"
)


def agent_image(config: DeploymentConfig, repo_root: Path) -> ecs.ContainerImage:
    if config.agent_image:
        return ecs.ContainerImage.from_registry(config.agent_image)
    dockerfile = repo_root / "container" / "Dockerfile"
    if not dockerfile.exists():
        raise FileNotFoundError(
            f"{dockerfile} not found: deploy from a checkout of the repository or pass a "
            "prebuilt image with --agent-image"
        )
    return ecs.ContainerImage.from_asset(
        str(repo_root),
        file="container/Dockerfile",
        platform=ecr_assets.Platform.LINUX_ARM64,
    )


class AgentTask(Construct):
    """Cluster, task definition and roles. The task has no port mapping: nothing connects to
    it; it long-polls the user's inbox queue."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        network: Network,
        storage: Storage,
        image: ecs.ContainerImage,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            cluster_name=f"{config.prefix}-agents",
            vpc=network.vpc,
            enable_fargate_capacity_providers=True,
            container_insights_v2=ecs.ContainerInsights.DISABLED,
        )
        self.cluster.add_default_capacity_provider_strategy(
            [ecs.CapacityProviderStrategy(capacity_provider="FARGATE_SPOT", weight=1)]
        )
        nag.suppress(self.cluster, nag.Accepted("AwsSolutions-ECS4", nag.ECS_INSIGHTS))
        self.log_group = logs.LogGroup(
            self,
            "AgentLogs",
            log_group_name=f"/{config.prefix}/agent",
            retention=retention(config.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.family = f"{config.prefix}-agent"
        """What the control plane starts (RunTask takes the latest ACTIVE revision): a plain
        name, so a new revision (new code, a new image) never changes a cross-stack value."""
        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "TaskDefinition",
            family=self.family,
            cpu=config.task_cpu,
            memory_limit_mib=config.task_memory_mib,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.ARM64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
        )
        self.task_role = self.task_definition.task_role
        self.execution_role = self.task_definition.obtain_execution_role()
        Tags.of(self.task_role).add(ROLE_TAG, AGENT_TASK)
        Tags.of(self.execution_role).add(ROLE_TAG, AGENT_EXECUTION)
        self.task_definition_revisions_arn = stack.format_arn(
            service="ecs",
            resource="task-definition",
            resource_name=f"{self.family}:*",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        secrets = self._secrets(config)
        self.container = self.task_definition.add_container(
            "Agent",
            container_name=CONTAINER_NAME,
            image=image,
            essential=True,
            environment=self._environment(config, storage, stack),
            secrets=secrets,
            logging=ecs.LogDrivers.aws_logs(stream_prefix="agent", log_group=self.log_group),
            stop_timeout=STOP_TIMEOUT,
            health_check=ecs.HealthCheck(
                command=["CMD", "python", "-c", HEALTH_COMMAND],
                interval=Duration.seconds(30),
                timeout=Duration.seconds(5),
                retries=3,
                start_period=Duration.seconds(180),
            ),
        )
        nag.suppress(self.task_definition, nag.Accepted("AwsSolutions-ECS2", nag.ECS_ENV))
        self._grant(config, storage, stack)

    def _environment(
        self, config: DeploymentConfig, storage: Storage, stack: Stack
    ) -> dict[str, str]:
        """What every task reads (`AgentSettings`) and is the same for all of them; each
        task's identity comes in the RunTask overrides (`settings.launch_environment`)."""
        model: dict[str, str] = {"model_provider": config.llm_provider}
        if config.model_id:
            model["model_id"] = config.model_id
        if config.model_base_url:
            model["model_base_url"] = config.model_base_url
        return AgentSettings.given(
            names=NamesSettings.given(
                prefix=config.prefix,
                state_bucket=storage.state_bucket.bucket_name,
                region=stack.region,
            ),
            model=ModelSettings.given(**model),
            openclaw_runtime_dir=RUNTIME_DIR,
            health_port=HEALTH_PORT,
        ).to_environment()

    def _secrets(self, config: DeploymentConfig) -> dict[str, ecs.Secret]:
        """Values ECS reads from SSM when the task starts; never in the task definition."""
        secrets: dict[str, ecs.Secret] = {
            # A plain String written by the Api stack: the @connections URL (no cycle).
            "SOC_CONNECTIONS_URL": ecs.Secret.from_ssm_parameter(
                ssm.StringParameter.from_string_parameter_name(
                    self, "ConnectionsUrlParam", config.connections_url_param
                )
            )
        }
        if config.llm_key_param:
            secrets[PROVIDER_KEY_ENV[config.llm_provider]] = ecs.Secret.from_ssm_parameter(
                ssm.StringParameter.from_secure_string_parameter_attributes(
                    self, "LlmKeyParam", parameter_name=config.llm_key_param
                )
            )
        if config.telegram:
            # Never TELEGRAM_BOT_TOKEN: OpenClaw would take the bot over (decision D3).
            secrets["SOC_TELEGRAM_BOT_TOKEN"] = ecs.Secret.from_ssm_parameter(
                ssm.StringParameter.from_secure_string_parameter_attributes(
                    self, "TelegramTokenParam", parameter_name=config.telegram_bot_token_param
                )
            )
        return secrets

    def _grant(
        self, config: DeploymentConfig, storage: Storage, stack: Stack, user_id: str = "*"
    ) -> None:
        """The task role, with every resource a function of the person (`user_id`, `*` for
        every task today; per-user roles are the next step of decision D13)."""
        storage.grant_table_access(self.task_role, AGENT_TABLES)
        storage.grant_state(self.task_role, user_id=user_id)
        self.task_role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=list(AGENT_QUEUE_ACTIONS), resources=[storage.inbox_arn(user_id)]
            )
        )
        reasons = [nag.table_indexes(), nag.inbox_queues(config.prefix), nag.state_prefix()]
        if config.llm_provider == "bedrock":
            self.task_role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
                    resources=[
                        f"arn:{Aws.PARTITION}:bedrock:*::foundation-model/*",
                        f"arn:{Aws.PARTITION}:bedrock:*:{stack.account}:inference-profile/*",
                    ],
                )
            )
            reasons.append(
                nag.Accepted(
                    "AwsSolutions-IAM5",
                    nag.BEDROCK_MODELS,
                    (
                        "Resource::arn:<AWS::Partition>:bedrock:*::foundation-model/*",
                        nag.resource_regex(
                            rf"arn:<AWS::Partition>:bedrock:\*:{nag.ACCOUNT}:inference-profile/\*"
                        ),
                    ),
                )
            )
        nag.suppress(self.task_role, *reasons)
        nag.suppress(
            self.execution_role,
            nag.Accepted("AwsSolutions-IAM5", nag.ECR_AUTH, ("Resource::*",)),
        )
