"""API Gateway's @connections API: push frames to open WebSocket connections.

Production and local use the same boto3 client; only the endpoint differs
(`SOC_CONNECTIONS_URL`: the stage URL, or the local API Gateway emulator).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from serverless_openclaw.adapters.aws.errors import converted
from serverless_openclaw.ports.push import ConnectionsApi

if TYPE_CHECKING:
    from mypy_boto3_apigatewaymanagementapi import ApiGatewayManagementApiClient


def _converted(what: str) -> AbstractContextManager[None]:
    return converted("@connections", what)


__all__ = ["ApiGatewayConnections", "ConnectionsApi"]


class ApiGatewayConnections:
    def __init__(self, client: ApiGatewayManagementApiClient) -> None:
        self._api = client

    def post(self, connection_id: str, data: bytes) -> None:
        with _converted("post"):
            self._api.post_to_connection(ConnectionId=connection_id, Data=data)

    def get(self, connection_id: str) -> dict[str, Any]:
        with _converted("get"):
            answer = self._api.get_connection(ConnectionId=connection_id)
        return {k: v for k, v in answer.items() if k != "ResponseMetadata"}

    def delete(self, connection_id: str) -> None:
        with _converted("delete"):
            self._api.delete_connection(ConnectionId=connection_id)
