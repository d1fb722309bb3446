"""The REST API of docs/api.md (all of it except `/telegram/webhook`, which has its own Lambda).

Every request must carry `Authorization: Bearer <Cognito ID token>`; this function verifies
it (`services.verifier`) before any route runs, so a missing, malformed or wrong token — also
an access token, or a token without the `Bearer` scheme — is a 401 in the documented shape,
`{"error": {"code": "unauthorized", ...}}` with `WWW-Authenticate: Bearer`, whatever the
path. (API Gateway's JWT authorizer would answer 401 itself with `{"message": ...}`, so the
HTTP API has none.) The user is the token's `sub`. Every path names a resource of that user
only, so another user's conversation id answers exactly like a missing one (404). Errors are
`{"error": {"code", "message"}}`.
"""

from __future__ import annotations

import json
import re
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Final, cast

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from pydantic import BaseModel, ValidationError

from serverless_openclaw.app import attachments
from serverless_openclaw.app import services as ops
from serverless_openclaw.app.services import Services
from serverless_openclaw.contracts.records import AttachmentUploadRequest, PairingCode
from serverless_openclaw.core.errors import (
    InvalidRequest,
    NotFound,
    OpenClawError,
    StorageUnavailable,
    Unauthorized,
)
from serverless_openclaw.gateway import telegram_webhook
from serverless_openclaw.gateway.observability import entry, logger
from serverless_openclaw.telegram import replies

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

_CONVERSATION_ID: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
DEFAULT_PAGE: Final = 50
MAX_PAGE: Final = 100

BEARER: Final = "bearer"
"""The scheme name, compared case-insensitively (RFC 9110, section 11.1)."""

app = APIGatewayHttpResolver()
_services_var: ContextVar[Services] = ContextVar("services")
_user_var: ContextVar[str] = ContextVar("user")


def _json(status: int, payload: Any) -> Response[str]:
    return Response(status_code=status, content_type="application/json", body=json.dumps(payload))


def _model(status: int, model: BaseModel) -> Response[str]:
    return Response(
        status_code=status,
        content_type="application/json",
        body=model.model_dump_json(exclude_none=False),
    )


def _no_content() -> Response[str]:
    return Response(status_code=204, content_type="application/json", body="")


def _error(status: int, code: str, message: str) -> Response[str]:
    return _json(status, {"error": {"code": code, "message": message[:300]}})


def _services() -> Services:
    return _services_var.get()


def _user() -> str:
    """The caller `handle` authenticated."""
    return _user_var.get()


def bearer_token(headers: dict[str, str] | None) -> str:
    """The token of an `Authorization: Bearer <token>` header; `Unauthorized` for anything
    else (no header, another scheme, a bare token)."""
    value = next(
        (v for k, v in (headers or {}).items() if k.lower() == "authorization"),
        None,
    )
    if not value:
        raise Unauthorized("missing bearer token")
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != BEARER or not token.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <ID token>'")
    return token.strip()


def _unauthorized(reason: str) -> dict[str, Any]:
    return {
        "statusCode": 401,
        "headers": {
            "Content-Type": "application/json",
            "WWW-Authenticate": 'Bearer error="invalid_token"',
        },
        "body": json.dumps({"error": {"code": "unauthorized", "message": reason[:300]}}),
    }


def _conversation_id(raw: str) -> str:
    if not _CONVERSATION_ID.match(raw):
        raise NotFound("no such conversation")
    return raw


def _page_args() -> tuple[int, str | None]:
    params = app.current_event.query_string_parameters or {}
    raw_limit = params.get("limit")
    limit = DEFAULT_PAGE
    if raw_limit is not None:
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_PAGE:
            raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE}")
        limit = int(raw_limit)
    cursor = params.get("cursor") or None
    if cursor is not None and len(cursor) > 2048:
        raise InvalidRequest("invalid cursor")
    return limit, cursor


def _body_object() -> dict[str, Any]:
    try:
        # A binary content type arrives base64-encoded; its bytes need not be UTF-8.
        raw = app.current_event.decoded_body
    except ValueError as exc:
        raise InvalidRequest("the body is not UTF-8 text") from exc
    if not raw:
        return {}
    try:
        payload = json.loads(raw)
    except ValueError as exc:
        raise InvalidRequest("malformed JSON") from exc
    if not isinstance(payload, dict):
        raise InvalidRequest("the body must be a JSON object")
    return payload


# --- conversations -------------------------------------------------------------------------
@app.get("/api/conversations")
def list_conversations() -> Response[str]:
    limit, cursor = _page_args()
    page = _services().conversations.list_conversations(_user(), limit=limit, cursor=cursor)
    return _model(200, page)


@app.get("/api/conversations/<conversation_id>")
def get_conversation(conversation_id: str) -> Response[str]:
    found = _services().conversations.get_conversation(_user(), _conversation_id(conversation_id))
    if found is None:
        raise NotFound("no such conversation")
    return _model(200, found)


@app.delete("/api/conversations/<conversation_id>")
def delete_conversation(conversation_id: str) -> Response[str]:
    deleted = _services().conversations.delete_conversation(
        _user(), _conversation_id(conversation_id)
    )
    if not deleted:
        raise NotFound("no such conversation")
    return _no_content()


@app.get("/api/conversations/<conversation_id>/messages")
def list_messages(conversation_id: str) -> Response[str]:
    user, conversation = _user(), _conversation_id(conversation_id)
    limit, cursor = _page_args()
    store = _services().conversations
    if store.get_conversation(user, conversation) is None:
        raise NotFound("no such conversation")
    return _model(200, store.list_messages(user, conversation, limit=limit, cursor=cursor))


# --- settings ------------------------------------------------------------------------------
@app.get("/api/settings")
def get_settings() -> Response[str]:
    return _model(200, _services().user_settings.get(_user()))


@app.put("/api/settings")
def put_settings() -> Response[str]:
    return _model(200, _services().user_settings.update(_user(), _body_object()))


# --- agent ---------------------------------------------------------------------------------
@app.get("/api/agent")
def get_agent() -> Response[str]:
    return _model(200, ops.agent_status(_services(), _user()))


@app.get("/api/usage")
def get_usage() -> Response[str]:
    """Today's and this month's estimated LLM spend against the person's budgets."""
    services, user = _services(), _user()
    return _model(200, services.spending.summary(user, services.user_settings.get(user)))


@app.post("/api/agent/start")
def start_agent() -> Response[str]:
    return _model(202, ops.wake(_services(), _user(), "start button").to_status())


@app.post("/api/agent/stop")
def stop_agent() -> Response[str]:
    return _model(202, ops.stop(_services(), _user(), "stop button").to_status())


@app.post("/api/agent/restart")
def restart_agent() -> Response[str]:
    return _model(202, ops.restart(_services(), _user()).to_status())


@app.post("/api/agent/backup")
def backup_agent() -> Response[str]:
    job = ops.request_backup(_services(), _user())
    return _json(202, {"jobId": job.jobId})


# --- telegram ------------------------------------------------------------------------------
@app.post("/api/telegram/pairing-code")
def create_pairing_code() -> Response[str]:
    code: PairingCode = _services().telegram.create_pairing_code(_user())
    return _model(201, code)


@app.get("/api/telegram")
def get_telegram_link() -> Response[str]:
    link = _services().telegram.link_of_user(_user())
    if link is None:
        # "Nothing linked" is a normal answer, not an error (browsers log every 4xx).
        return _json(200, None)
    return _model(200, link)


@app.delete("/api/telegram")
def delete_telegram_link() -> Response[str]:
    services, user = _services(), _user()
    link = services.telegram.link_of_user(user)
    services.telegram.unlink_user(user)
    if link is not None:  # the chat learns why it went quiet
        telegram_webhook.tell_chat(services, link.chatId, replies.UNLINKED_FROM_WEB)
    return _no_content()


# --- attachments (docs/api.md "Attachments") -----------------------------------------------
@app.post("/api/attachments")
def create_attachment_upload() -> Response[str]:
    user = _user()
    request = AttachmentUploadRequest.model_validate(_body_object())
    return _model(201, attachments.request_upload(_services(), user, request))


@app.get("/api/attachments/<attachment_id>")
def get_attachment_link(attachment_id: str) -> Response[str]:
    return _model(200, attachments.link(_services(), _user(), attachment_id))


# --- errors --------------------------------------------------------------------------------
@app.exception_handler(OpenClawError)  # type: ignore[untyped-decorator]
def _on_error(exc: OpenClawError) -> Response[str]:
    if isinstance(exc, StorageUnavailable):
        logger.error("storage unavailable", extra={"error": str(exc)})
        return _error(503, "internal", "the service is unavailable; try again")
    status = int(getattr(exc, "status", 500))
    code = str(getattr(exc, "code", "internal"))
    logger.info("request refused", extra={"code": code, "reason": str(exc)})
    if status >= 500:
        return _error(500, "internal", "internal error")
    response = _error(status, code, str(exc))
    retry = getattr(exc, "retry_after_s", None)
    if isinstance(retry, (int, float)):
        response.headers["Retry-After"] = str(max(1, int(retry)))
    return response


@app.exception_handler(ValidationError)  # type: ignore[untyped-decorator]
def _on_validation(exc: ValidationError) -> Response[str]:
    logger.info("request refused", extra={"code": "invalid_request"})
    return _error(400, "invalid_request", "the request is not valid")


@app.not_found
def _not_found(exc: Exception) -> Response[str]:
    return _error(404, "not_found", "no such route")


def _looks_like_http_event(event: Any) -> bool:
    if not isinstance(event, dict):
        return False
    context = event.get("requestContext")
    http = context.get("http") if isinstance(context, dict) else None
    return (
        isinstance(http, dict)
        and isinstance(http.get("method"), str)
        and isinstance(context, dict)
        and isinstance(context.get("stage"), str)  # the resolver strips it from the path
        and isinstance(event.get("rawPath"), str)
        and all(
            isinstance(event.get(key), (dict, type(None)))
            for key in ("headers", "queryStringParameters", "pathParameters")
        )
        and isinstance(event.get("body"), (str, type(None)))
        and all(
            isinstance(value, str)
            for key in ("headers", "queryStringParameters", "pathParameters")
            for value in (event.get(key) or {}).values()
        )
    )


def handle(event: Any, services: Services) -> dict[str, Any]:
    if not _looks_like_http_event(event):
        logger.warning("http: malformed event")
        return {
            "statusCode": 400,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"error": {"code": "invalid_request", "message": "bad event"}}),
        }
    try:
        caller = services.verifier.verify(bearer_token(event.get("headers")))
    except Unauthorized as exc:
        logger.info("request refused", extra={"code": "unauthorized", "reason": str(exc)})
        return _unauthorized(str(exc))
    logger.append_keys(user_id=caller.user_id)
    services_token = _services_var.set(services)
    user_token = _user_var.set(caller.user_id)
    try:
        # The resolver only keeps the Lambda context around; the entry wrapper logs it.
        answer: dict[str, Any] = app.resolve(event, cast("LambdaContext", None))
        return answer
    finally:
        _user_var.reset(user_token)
        _services_var.reset(services_token)


handler = entry(
    "http_api",
    correlation_paths.API_GATEWAY_HTTP,
    handle,
    on_crash={
        "statusCode": 500,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"error": {"code": "internal", "message": "internal error"}}),
    },
)
