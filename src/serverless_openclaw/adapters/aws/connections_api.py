"""API Gateway's @connections API: push frames to open WebSocket connections.

Production and local use the same boto3 client; only the endpoint differs
(`SOC_CONNECTIONS_URL`: the stage URL, or the local API Gateway emulator).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from serverless_openclaw.core.errors import ConnectionGone, StorageUnavailable

if TYPE_CHECKING:
    from mypy_boto3_apigatewaymanagementapi import ApiGatewayManagementApiClient


class ConnectionsApi(Protocol):
    def post(self, connection_id: str, data: bytes) -> None:
        """Send one text frame; `ConnectionGone` when the connection is closed."""
        ...

    def get(self, connection_id: str) -> dict[str, Any]: ...

    def delete(self, connection_id: str) -> None:
        """Close the connection from the server side."""
        ...


@contextmanager
def _converted(what: str) -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "GoneException" or status == 410:
            raise ConnectionGone(what) from exc
        raise StorageUnavailable(f"@connections {what}: {code or exc}") from exc
    except BotoCoreError as exc:
        raise StorageUnavailable(f"@connections {what}: {exc}") from exc


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
