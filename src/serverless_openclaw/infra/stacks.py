"""The seven stacks. Each composes constructs and receives its siblings' constructs, never names.

Dependency order: Network -> Storage -> Auth -> Compute -> Api -> Web, Monitoring.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_ecs as ecs
from constructs import Construct

from serverless_openclaw.infra.components.agent import AgentTask
from serverless_openclaw.infra.components.auth import Auth
from serverless_openclaw.infra.components.control_plane import ControlPlane
from serverless_openclaw.infra.components.monitoring import Monitoring
from serverless_openclaw.infra.components.network import Network
from serverless_openclaw.infra.components.storage import Storage
from serverless_openclaw.infra.components.web import WebApp
from serverless_openclaw.infra.config import DeploymentConfig

CLOUDFRONT_ORIGINS: Final = "https://*.cloudfront.net"
"""The web app's origin when it has no custom domain. Its CloudFront address is only known
once the Web stack's distribution exists, and the Web stack depends (through the Api stack)
on this one: naming the distribution here would make a cycle. Any CloudFront-hosted page may
then send the bucket a cross-origin POST, but only with a form our handlers signed (the
presigned policy fixes the key, type and size); a custom domain narrows it to the site."""


def web_origins(config: DeploymentConfig) -> list[str]:
    """The origins whose pages may post upload forms to the state bucket (its CORS rule)."""
    if config.custom_domain is not None:
        return [f"https://{config.custom_domain.domain_name}"]
    return [CLOUDFRONT_ORIGINS]


class NetworkStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeploymentConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.network = Network(self, "Network", egress_ports=config.egress_ports)


class StorageStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeploymentConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.storage = Storage(
            self,
            "Storage",
            prefix=config.prefix,
            noncurrent_version_days=config.noncurrent_version_days,
            retain_data=config.retain_data,
            web_origins=web_origins(config),
        )
        CfnOutput(self, "StateBucketName", value=self.storage.state_bucket.bucket_name)
        CfnOutput(self, "InboxDeadLetterQueueArn", value=self.storage.inbox_dlq.queue_arn)


class AuthStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeploymentConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.auth = Auth(self, "Auth", prefix=config.prefix, retain_data=config.retain_data)
        CfnOutput(self, "UserPoolId", value=self.auth.user_pool.user_pool_id)
        CfnOutput(self, "UserPoolClientId", value=self.auth.client.user_pool_client_id)


class ComputeStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        network: Network,
        storage: Storage,
        image: ecs.ContainerImage,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.agent = AgentTask(
            self, "Agent", config=config, network=network, storage=storage, image=image
        )
        CfnOutput(self, "ClusterName", value=self.agent.cluster.cluster_name)
        CfnOutput(self, "AgentLogGroup", value=self.agent.log_group.log_group_name)
        CfnOutput(self, "TaskDefinitionFamily", value=self.agent.family)


class ApiStack(Stack):
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
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.control_plane = ControlPlane(
            self,
            "ControlPlane",
            config=config,
            code_dir=code_dir,
            network=network,
            storage=storage,
            auth=auth,
            agent=agent,
        )
        cp = self.control_plane
        CfnOutput(self, "WebSocketUrl", value=cp.websocket_url)
        CfnOutput(self, "HttpApiUrl", value=cp.http_url)
        CfnOutput(self, "ConnectionsUrl", value=cp.connections_url)
        if config.telegram:
            CfnOutput(self, "TelegramWebhookUrl", value=f"{cp.http_url}/telegram/webhook")


class WebStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        auth: Auth,
        storage: Storage,
        control_plane: ControlPlane,
        dist_dir: Path | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.web = WebApp(
            self,
            "Web",
            config=config,
            auth=auth,
            storage=storage,
            control_plane=control_plane,
            dist_dir=dist_dir,
        )
        CfnOutput(self, "WebUrl", value=self.web.url)
        CfnOutput(self, "DistributionId", value=self.web.distribution.distribution_id)


class MonitoringStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        agent: AgentTask,
        storage: Storage,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            prefix=config.prefix,
            agent=agent,
            storage=storage,
            alarms=config.alarms,
            alarm_email=config.alarm_email,
        )
        CfnOutput(self, "AlertTopicArn", value=self.monitoring.topic.topic_arn)
