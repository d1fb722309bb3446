"""The agent task's wiring: `AgentSettings` to the ports of one person's task.

`SOC_BACKEND` (`BackendSettings`) chooses the adapter family: `aws` (boto3; on AWS, or against
moto locally) or `embedded` (SQLite under `SOC_EMBEDDED_DIR`: the local product).
"""

from __future__ import annotations

from serverless_openclaw.adapters.aws.clients import AwsClients, AwsCredentials
from serverless_openclaw.adapters.aws.ports import AwsConfig, AwsPorts
from serverless_openclaw.ports.factory import PortFactory
from serverless_openclaw.settings import AgentSettings


def wire_task(
    settings: AgentSettings,
    *,
    clients: AwsClients | None = None,
    credentials: AwsCredentials | None = None,
) -> PortFactory:
    """The agent task's ports: its own user's data only (it never starts tasks or signs
    anyone in). On the embedded backend it opens the local stack's database (`SOC_BACKEND=
    embedded`, `SOC_EMBEDDED_DIR`) and pushes through the API Gateway emulator."""
    names = settings.names
    if settings.storage.backend == "embedded":
        from serverless_openclaw.adapters.embedded import EmbeddedPorts
        from serverless_openclaw.adapters.embedded.loopback_push import LoopbackConnections

        if settings.storage.embedded_dir is None:
            raise ValueError("SOC_EMBEDDED_DIR is required with SOC_BACKEND=embedded")
        url = names.connections_url
        return EmbeddedPorts(
            settings.storage.embedded_dir,
            connections_api=LoopbackConnections(url) if url else None,
        )
    if clients is None and credentials is not None:
        clients = AwsClients(names.region, credentials=credentials)
    return AwsPorts(
        AwsConfig(
            region=names.region,
            prefix=names.prefix,
            state_bucket=names.state_bucket,
            connections_url=names.connections_url,
            dead_letter_arn=names.inbox_dlq_arn,
        ),
        clients=clients,
    )
