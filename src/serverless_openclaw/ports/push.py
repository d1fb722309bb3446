"""Pushing frames to open WebSocket connections (API Gateway's @connections API)."""

from __future__ import annotations

from typing import Any, Protocol


class ConnectionsApi(Protocol):
    def post(self, connection_id: str, data: bytes) -> None:
        """Send one text frame; `ConnectionGone` when the connection is closed."""
        ...

    def get(self, connection_id: str) -> dict[str, Any]: ...

    def delete(self, connection_id: str) -> None:
        """Close the connection from the server side."""
        ...
