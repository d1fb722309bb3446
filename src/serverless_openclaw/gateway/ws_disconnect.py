"""WebSocket `$disconnect`: forget the connection (rows also expire on their own)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths

from serverless_openclaw.app.services import Services
from serverless_openclaw.core.errors import InvalidRequest, OpenClawError
from serverless_openclaw.gateway.events import parse_ws_event
from serverless_openclaw.gateway.observability import entry, logger


def handle(raw: Any, services: Services) -> dict[str, Any]:
    try:
        event = parse_ws_event(raw)
    except InvalidRequest:
        logger.warning("disconnect: malformed event")
        return {"statusCode": 400}
    try:
        services.connections.delete(event.requestContext.connectionId)
    except OpenClawError as exc:
        logger.warning("disconnect: cannot delete the connection", extra={"error": str(exc)})
        return {"statusCode": 503}
    return {"statusCode": 200}


handler = entry(
    "ws_disconnect", correlation_paths.API_GATEWAY_REST, handle, on_crash={"statusCode": 500}
)
