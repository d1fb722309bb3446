"""Send server frames to every open WebSocket connection of a user.

Used by the handlers (status frames) and by the agent's bridge (stream frames). Connections
that API Gateway reports gone (410) are removed from the store on the way.
"""

from __future__ import annotations

import logging

from serverless_openclaw.contracts.frames import ServerFrame, encode
from serverless_openclaw.core.errors import ConnectionGone, StorageUnavailable
from serverless_openclaw.ports.push import ConnectionsApi
from serverless_openclaw.ports.stores import ConnectionStore

log = logging.getLogger(__name__)


class Broadcaster:
    def __init__(self, connections: ConnectionStore, api: ConnectionsApi) -> None:
        self._connections = connections
        self._api = api

    def send_to(self, connection_id: str, frame: ServerFrame) -> bool:
        """True if delivered; False (and the connection forgotten) if it is gone."""
        try:
            self._api.post(connection_id, encode(frame).encode())
        except ConnectionGone:
            self._connections.delete(connection_id)
            return False
        return True

    def send(self, user_id: str, frame: ServerFrame) -> int:
        """Deliver `frame` to each of the user's connections; returns how many got it.

        One unreachable connection does not stop the others: a non-410 failure is logged and
        skipped (the frame is a best-effort push; durable state lives in DynamoDB).
        """
        delivered = 0
        for record in self._connections.for_user(user_id):
            try:
                if self.send_to(record.connection_id, frame):
                    delivered += 1
            except StorageUnavailable as exc:
                log.warning("push to a connection failed: %s", exc)
        return delivered
