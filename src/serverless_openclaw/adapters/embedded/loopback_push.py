"""The @connections API of the local API Gateway emulator, over plain HTTP (the `ConnectionsApi`
port for the embedded backend).

The emulator serves API Gateway's management routes (`POST/GET/DELETE
<stage URL>/@connections/<id>`) with the same answers (410 Gone, 413 too large); on AWS a
SigV4-signed boto3 client calls them, locally there is nothing to sign, so this adapter needs
no AWS credentials at all.
"""

from __future__ import annotations

from typing import Any

import httpx

from serverless_openclaw.adapters.http_pool import HttpPool
from serverless_openclaw.core.errors import ConnectionGone, PayloadTooLarge, StorageUnavailable


class LoopbackConnections:
    """Implements `ports.push.ConnectionsApi` against `<stage URL>/@connections`: one
    connection pool, shared by every thread that pushes, opened on first use; `close()` ends
    it (`EmbeddedPorts.close`)."""

    def __init__(self, stage_url: str, *, timeout_s: float = 5.0) -> None:
        self.stage_url = stage_url.rstrip("/")
        self._pool = HttpPool(timeout=timeout_s)

    def close(self) -> None:
        self._pool.close()

    def _call(self, method: str, connection_id: str, data: bytes | None = None) -> httpx.Response:
        url = f"{self.stage_url}/@connections/{connection_id}"
        try:
            response = self._pool.client().request(method, url, content=data)
        except httpx.HTTPError as exc:
            raise StorageUnavailable(f"@connections {method.lower()}: {exc}") from exc
        if response.status_code == 410:
            raise ConnectionGone(f"connection {connection_id} is gone")
        if response.status_code == 413:
            raise PayloadTooLarge("@connections post: message too long")
        if response.status_code >= 400:
            raise StorageUnavailable(f"@connections {method.lower()}: HTTP {response.status_code}")
        return response

    def post(self, connection_id: str, data: bytes) -> None:
        self._call("POST", connection_id, data)

    def get(self, connection_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = self._call("GET", connection_id).json()
        return answer

    def delete(self, connection_id: str) -> None:
        self._call("DELETE", connection_id)
