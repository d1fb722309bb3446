"""WebSocket `$default`: one client frame in, one server frame back (the route's response).

`send` -> `ack` once the job is durably queued (and the agent is woken); `status` -> `status`;
`ping` -> `pong`; `abort` -> a control job, answered later by `stream_end aborted:true` from
the agent. Anything else -> an `error` frame with a stable code and a 4xx `statusCode`.
The user is whoever opened the connection (`$connect` verified the token); a frame never
names a user, so it cannot reach another user's data.
"""

from __future__ import annotations

import json
from typing import Any, Final, get_args

from aws_lambda_powertools.logging import correlation_paths
from pydantic import ValidationError

from serverless_openclaw.app import services as ops
from serverless_openclaw.app.services import Services
from serverless_openclaw.contracts.frames import (
    AbortFrame,
    ErrorFrame,
    PingFrame,
    PongFrame,
    SendFrame,
    ServerFrame,
    StatusRequestFrame,
    client_frame_adapter,
    encode,
)
from serverless_openclaw.contracts.limits import MAX_FRAME_BYTES, MAX_TEXT_BYTES, NUL_REFUSED
from serverless_openclaw.core.errors import (
    InvalidRequest,
    OpenClawError,
    PayloadTooLarge,
    StorageUnavailable,
    Unauthorized,
)
from serverless_openclaw.gateway.events import parse_ws_event
from serverless_openclaw.gateway.observability import entry, logger

ACTIONS: Final = frozenset(
    get_args(field.annotation)[0]
    for field in (
        SendFrame.model_fields["action"],
        StatusRequestFrame.model_fields["action"],
        AbortFrame.model_fields["action"],
        PingFrame.model_fields["action"],
    )
)


class UnknownAction(InvalidRequest):
    code = "unknown_action"


def _answer(frame: ServerFrame | None, status: int = 200) -> dict[str, Any]:
    response: dict[str, Any] = {"statusCode": status}
    if frame is not None:
        response["body"] = encode(frame)
    return response


def _error(exc: OpenClawError, frame_id: str | None) -> dict[str, Any]:
    code = getattr(exc, "code", "internal")
    status = int(getattr(exc, "status", 500))
    if isinstance(exc, StorageUnavailable):
        code, status = "internal", 503
    message = str(exc) if status < 500 else "the service is unavailable; try again"
    return _answer(ErrorFrame(id=frame_id, code=code, message=message[:300]), status)


def _frame_id(payload: Any) -> str | None:
    if isinstance(payload, dict):
        value = payload.get("id")
        if isinstance(value, str) and 0 < len(value) <= 64:
            return value
    return None


def _validation_error(exc: ValidationError) -> InvalidRequest:
    for error in exc.errors():
        if error.get("loc", ())[-1:] != ("text",):
            continue
        if "larger than" in str(error.get("msg")):
            return PayloadTooLarge(f"text is larger than {MAX_TEXT_BYTES // 1024} KB")
        if NUL_REFUSED in str(error.get("msg")):
            return InvalidRequest(NUL_REFUSED)  # said to the person as it is
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "frame"
    return InvalidRequest(f"{where}: {first.get('msg', 'invalid')}"[:200])


def parse_frame(body: str) -> SendFrame | StatusRequestFrame | AbortFrame | PingFrame:
    if len(body.encode()) > MAX_FRAME_BYTES:
        raise PayloadTooLarge("frame is too large")
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise InvalidRequest("malformed JSON") from exc
    if not isinstance(payload, dict):
        raise InvalidRequest("a frame is a JSON object")
    action = payload.get("action")
    if action is None:
        raise InvalidRequest("missing action")
    if not isinstance(action, str) or action not in ACTIONS:
        raise UnknownAction(f"unknown action {str(action)[:40]!r}")
    try:
        return client_frame_adapter.validate_python(payload)
    except ValidationError as exc:
        raise _validation_error(exc) from exc


def handle(raw: Any, services: Services) -> dict[str, Any]:
    try:
        event = parse_ws_event(raw)
    except InvalidRequest as exc:
        logger.warning("message: malformed event")
        return _error(exc, None)
    frame_id: str | None = None
    try:
        body = event.text_body()
        try:
            frame_id = _frame_id(json.loads(body)) if len(body) <= MAX_FRAME_BYTES else None
        except ValueError:
            frame_id = None
        record = services.connections.get(event.requestContext.connectionId)
        if record is None:
            raise Unauthorized("unknown connection; reconnect")
        logger.append_keys(user_id=record.user_id)
        frame = parse_frame(body)
        return _answer(_dispatch(services, record.user_id, frame))
    except OpenClawError as exc:
        level = logger.error if isinstance(exc, StorageUnavailable) else logger.info
        level("frame refused", extra={"code": getattr(exc, "code", "internal"), "reason": str(exc)})
        return _error(exc, frame_id)


def _dispatch(
    services: Services,
    user_id: str,
    frame: SendFrame | StatusRequestFrame | AbortFrame | PingFrame,
) -> ServerFrame | None:
    match frame:
        case PingFrame():
            return PongFrame()
        case StatusRequestFrame():
            return ops.status_frame(services.task_state.get(user_id))
        case AbortFrame(conversationId=conversation_id):
            ops.send_control(services, user_id, "abort", conversation_id)
            return None
        case SendFrame():
            return ops.submit_chat(services, user_id, frame)
    raise InvalidRequest("unsupported frame")  # pragma: no cover


handler = entry(
    "ws_message",
    correlation_paths.API_GATEWAY_REST,
    handle,
    on_crash=_answer(ErrorFrame(code="internal", message="internal error"), 500),
)
