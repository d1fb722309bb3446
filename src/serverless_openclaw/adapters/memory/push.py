"""API Gateway's @connections API in memory: what was pushed to each connection, for tests to
read; a connection can be told it is gone (then posts raise `ConnectionGone`, as a 410 does)."""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from typing import Any

from serverless_openclaw.core.errors import ConnectionGone


class MemoryConnections:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._posts: dict[str, list[bytes]] = defaultdict(list)
        self._gone: set[str] = set()

    # --- the port --------------------------------------------------------------------------
    def post(self, connection_id: str, data: bytes) -> None:
        with self._lock:
            if connection_id in self._gone:
                raise ConnectionGone(f"connection {connection_id} is gone")
            self._posts[connection_id].append(bytes(data))

    def get(self, connection_id: str) -> dict[str, Any]:
        with self._lock:
            if connection_id in self._gone:
                raise ConnectionGone(f"connection {connection_id} is gone")
        return {"connectionId": connection_id}

    def delete(self, connection_id: str) -> None:
        self.gone(connection_id)

    # --- for tests -------------------------------------------------------------------------
    def gone(self, connection_id: str) -> None:
        """The browser went away: later posts to it fail with `ConnectionGone`."""
        with self._lock:
            self._gone.add(connection_id)

    def is_gone(self, connection_id: str) -> bool:
        with self._lock:
            return connection_id in self._gone

    def posted(self, connection_id: str) -> list[bytes]:
        with self._lock:
            return list(self._posts.get(connection_id, []))

    def frames(self, connection_id: str) -> list[dict[str, Any]]:
        """The JSON frames posted to the connection, in order."""
        return [json.loads(data) for data in self.posted(connection_id)]
