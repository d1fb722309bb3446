"""WebSocket `$connect`: verify the Cognito token, remember the connection, and (setting
`wakeOnConnect`, default on, decision D8) start the agent while the person is still typing.

The token arrives as `?token=` or as the `Sec-WebSocket-Protocol` value, which is then echoed
as the chosen subprotocol (browsers close the socket otherwise). Any failure answers 401 and
the socket never opens.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths

from serverless_openclaw.app import services as ops
from serverless_openclaw.app.services import Services
from serverless_openclaw.core.errors import (
    InvalidRequest,
    OpenClawError,
    QuotaExceeded,
    StorageUnavailable,
    Unauthorized,
)
from serverless_openclaw.gateway.events import WsEvent, parse_ws_event
from serverless_openclaw.gateway.observability import entry, logger

SUBPROTOCOL_HEADER = "Sec-WebSocket-Protocol"


def _token(event: WsEvent) -> tuple[str | None, str | None]:
    """(token, subprotocol to echo)."""
    query = (event.queryStringParameters or {}).get("token")
    if query:
        return query, None
    offered = event.header(SUBPROTOCOL_HEADER)
    if offered:
        for candidate in (part.strip() for part in offered.split(",")):
            if candidate.count(".") == 2:
                return candidate, candidate
    return None, None


def _refuse(status: int) -> dict[str, Any]:
    return {"statusCode": status}


def handle(raw: Any, services: Services) -> dict[str, Any]:
    try:
        event = parse_ws_event(raw)
    except InvalidRequest:
        logger.warning("connect: malformed event")
        return _refuse(400)
    token, subprotocol = _token(event)
    try:
        identity = services.verifier.verify(token)
    except Unauthorized as exc:
        logger.info("connect refused", extra={"reason": str(exc)})
        return _refuse(401)
    user_id = identity.user_id
    connection_id = event.requestContext.connectionId
    logger.append_keys(user_id=user_id)
    # Wake first: the wake pushes a status frame to the user's connections, and API Gateway
    # answers 410 Gone for a connection whose $connect has not returned yet — which would
    # make the broadcaster forget this very connection. The client asks for the status once
    # the socket is open.
    _wake_on_connect(services, user_id)
    try:
        services.connections.put(connection_id, user_id, services.clock())
    except OpenClawError as exc:
        logger.error("connect: cannot store the connection", extra={"error": str(exc)})
        return _refuse(503 if isinstance(exc, StorageUnavailable) else 400)
    response: dict[str, Any] = {"statusCode": 200}
    if subprotocol:
        response["headers"] = {SUBPROTOCOL_HEADER: subprotocol}
    return response


def _wake_on_connect(services: Services, user_id: str) -> None:
    """Best effort: the connection is accepted whatever happens here."""
    try:
        if not services.user_settings.get(user_id).wakeOnConnect:
            return
        ops.wake(services, user_id, "connect")
    except QuotaExceeded as exc:
        logger.info("not waking on connect", extra={"reason": str(exc)})
    except OpenClawError as exc:
        logger.warning("wake on connect failed", extra={"error": str(exc)})


handler = entry(
    "ws_connect", correlation_paths.API_GATEWAY_REST, handle, on_crash={"statusCode": 500}
)
