"""API Gateway on one machine: the WebSocket API, its @connections management API, the HTTP
API with a JWT authorizer, and the static site — calling the same Lambda handler functions
with the event shapes API Gateway sends.

It also enforces the API Gateway limits that matter here, so that code which would fail on
AWS fails locally too: 128 KB WebSocket frames (close 1009), 29 s integration timeout
(HTTP 503 / an error frame), 10 minutes idle and 2 hours per WebSocket connection, and 128 KB
@connections posts (413).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import secrets
import string
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from .lambda_runtime import LambdaRuntime

log = logging.getLogger(__name__)

Handler = Callable[[Any, Any], Any]

MAX_FRAME_BYTES = 128 * 1024
INTEGRATION_TIMEOUT_S = 29.0
IDLE_TIMEOUT_S = 600.0
MAX_CONNECTION_S = 7200.0


@dataclass(frozen=True)
class Limits:
    frame_bytes: int = MAX_FRAME_BYTES
    integration_timeout_s: float = INTEGRATION_TIMEOUT_S
    idle_timeout_s: float = IDLE_TIMEOUT_S
    max_connection_s: float = MAX_CONNECTION_S


@dataclass(frozen=True)
class Routes:
    """The Lambda handler behind each route (same functions as on AWS)."""

    ws_connect: Handler
    ws_message: Handler
    ws_disconnect: Handler
    http_api: Handler
    telegram_webhook: Handler | None = None


@dataclass(frozen=True)
class JwtAuthorizer:
    """API Gateway's JWT authorizer: issuer, audience (aud or client_id), expiry, signature."""

    issuer: str
    audience: str
    jwks_url: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "_jwks", jwt.PyJWKClient(self.jwks_url, cache_keys=True))

    def claims(self, authorization: str | None) -> dict[str, Any] | None:
        if not authorization:
            return None
        token = authorization.removeprefix("Bearer ").strip()
        try:
            key = self._jwks.get_signing_key_from_jwt(token).key  # type: ignore[attr-defined]
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=["RS256"],
                issuer=self.issuer,
                options={"verify_aud": False, "require": ["exp", "iss"]},
            )
        except jwt.PyJWTError:
            return None
        if self.audience not in (claims.get("aud"), claims.get("client_id")):
            return None
        return claims


@dataclass
class _Connection:
    socket: WebSocket
    connected_at: float
    last_active: float
    source_ip: str
    user_agent: str
    closed: bool = False


def _now_ms() -> int:
    return int(time.time() * 1000)


def _request_time() -> str:
    return datetime.now(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


_ID_ALPHABET = string.ascii_letters + string.digits


def _connection_id() -> str:
    # API Gateway ids look like "SfbTDeJ5IAMCJ2g=": 14 letters/digits and "=".
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(14)) + "="


class ApiGatewayEmulator:
    def __init__(
        self,
        routes: Routes,
        *,
        authorizer: JwtAuthorizer | None,
        stage: str = "local",
        site_dir: Path | None = None,
        site_config: Callable[[Request], Mapping[str, Any]] | None = None,
        limits: Limits | None = None,
        runtime: LambdaRuntime | None = None,
        mounts: Sequence[BaseRoute] = (),
    ) -> None:
        self.routes = routes
        self.runtime = runtime or LambdaRuntime()
        self.authorizer = authorizer
        self.stage = stage
        self.site_dir = site_dir
        self.site_config = site_config
        self.limits = limits or Limits()
        self.connections: dict[str, _Connection] = {}
        self._invocations: set[asyncio.Task[None]] = set()
        self.posts = 0
        self.app = Starlette(
            routes=[
                WebSocketRoute("/ws", self._websocket),
                Route(
                    f"/{stage}/@connections/{{connection_id}}",
                    self._management,
                    methods=["POST", "GET", "DELETE"],
                ),
                Route(
                    "/api/{path:path}",
                    self._http_api,
                    methods=["GET", "POST", "PUT", "DELETE", "PATCH"],
                ),
                Route("/telegram/webhook", self._telegram, methods=["POST"]),
                Route("/config.json", self._config_json, methods=["GET"]),
                *mounts,
                Route("/{path:path}", self._static, methods=["GET"]),
            ]
        )

    # --- invoking handlers -----------------------------------------------------------------
    async def _invoke(self, name: str, handler: Handler, event: dict[str, Any]) -> Any:
        return await self.runtime.invoke(name, handler, event, self.limits.integration_timeout_s)

    # --- WebSocket API ---------------------------------------------------------------------
    def _ws_context(
        self,
        websocket: WebSocket,
        route: str,
        event_type: str,
        connection_id: str,
        connected_at: int,
    ) -> dict[str, Any]:
        host = websocket.headers.get("host", "127.0.0.1")
        return {
            "routeKey": route,
            "eventType": event_type,
            "extendedRequestId": _connection_id(),
            "requestTime": _request_time(),
            "messageDirection": "IN",
            "stage": self.stage,
            "connectedAt": connected_at,
            "requestTimeEpoch": _now_ms(),
            "identity": {
                "userAgent": websocket.headers.get("user-agent", ""),
                "sourceIp": websocket.client.host if websocket.client else "127.0.0.1",
            },
            "requestId": _connection_id(),
            "domainName": host,
            "connectionId": connection_id,
            "apiId": "local",
        }

    async def _websocket(self, websocket: WebSocket) -> None:
        connection_id = _connection_id()
        connected_at = _now_ms()
        headers = {k.title(): v for k, v in websocket.headers.items()}
        query = dict(websocket.query_params)
        connect_event = {
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} or None,
            "requestContext": self._ws_context(
                websocket, "$connect", "CONNECT", connection_id, connected_at
            ),
            "isBase64Encoded": False,
        }
        try:
            result = await self._invoke("ws_connect", self.routes.ws_connect, connect_event)
        except TimeoutError:
            result = {"statusCode": 504}
        status = int((result or {}).get("statusCode", 200)) if isinstance(result, dict) else 200
        if status != 200:
            # The upgrade is refused with the handler's status, as API Gateway does.
            try:
                await websocket.send_denial_response(
                    JSONResponse(
                        {"message": "Forbidden" if status != 401 else "Unauthorized"},
                        status_code=status,
                    )
                )
            except RuntimeError:  # the server cannot send denial responses
                await websocket.close(code=1008)
            return
        subprotocol = ((result or {}).get("headers") or {}).get("Sec-WebSocket-Protocol")
        await websocket.accept(subprotocol=subprotocol)
        now = time.monotonic()
        source_ip = websocket.client.host if websocket.client else "127.0.0.1"
        conn = _Connection(websocket, now, now, source_ip, headers.get("User-Agent", ""))
        self.connections[connection_id] = conn
        reason, code = "Client disconnected", 1005
        watchdog = asyncio.create_task(self._watch(connection_id, conn))
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    code = int(message.get("code") or 1005)
                    break
                data = message.get("text")
                if data is None and message.get("bytes") is not None:
                    data = message["bytes"].decode("utf-8", errors="replace")
                conn.last_active = time.monotonic()
                if len((data or "").encode()) > self.limits.frame_bytes:
                    reason, code = "Message too big", 1009
                    await websocket.close(code=1009, reason="Message too big")
                    break
                task = asyncio.create_task(
                    self._message(websocket, connection_id, connected_at, data or "")
                )
                self._invocations.add(task)
                task.add_done_callback(self._invocations.discard)
        except WebSocketDisconnect as exc:
            code = exc.code
        finally:
            watchdog.cancel()
            conn.closed = True
            self.connections.pop(connection_id, None)
            disconnect_event = {
                "headers": headers,
                "multiValueHeaders": {k: [v] for k, v in headers.items()},
                "requestContext": {
                    **self._ws_context(
                        websocket, "$disconnect", "DISCONNECT", connection_id, connected_at
                    ),
                    "disconnectStatusCode": code,
                    "disconnectReason": reason,
                },
                "isBase64Encoded": False,
            }
            with contextlib.suppress(Exception):
                await self._invoke("ws_disconnect", self.routes.ws_disconnect, disconnect_event)

    async def _message(
        self, websocket: WebSocket, connection_id: str, connected_at: int, body: str
    ) -> None:
        event = {
            "requestContext": {
                **self._ws_context(websocket, "$default", "MESSAGE", connection_id, connected_at),
                "messageId": _connection_id(),
            },
            "body": body,
            "isBase64Encoded": False,
        }
        try:
            result = await self._invoke("ws_message", self.routes.ws_message, event)
        except TimeoutError:
            await self._send(
                connection_id,
                json.dumps(
                    {"message": "Endpoint request timed out", "connectionId": connection_id}
                ),
            )
            return
        except Exception:
            log.exception("ws_message crashed")
            await self._send(
                connection_id,
                json.dumps({"message": "Internal server error", "connectionId": connection_id}),
            )
            return
        # A route response (two-way route): API Gateway sends the handler's body back.
        if isinstance(result, dict) and isinstance(result.get("body"), str) and result["body"]:
            await self._send(connection_id, result["body"])

    async def _watch(self, connection_id: str, conn: _Connection) -> None:
        while not conn.closed:
            await asyncio.sleep(min(5.0, self.limits.idle_timeout_s / 4))
            now = time.monotonic()
            if now - conn.last_active > self.limits.idle_timeout_s or (
                now - conn.connected_at > self.limits.max_connection_s
            ):
                with contextlib.suppress(Exception):
                    await conn.socket.close(code=1001, reason="Going away")
                return

    async def _send(self, connection_id: str, text: str) -> bool:
        conn = self.connections.get(connection_id)
        if conn is None or conn.socket.application_state != WebSocketState.CONNECTED:
            return False
        try:
            await conn.socket.send_text(text)
        except (RuntimeError, WebSocketDisconnect, OSError):
            return False
        conn.last_active = time.monotonic()
        return True

    # --- @connections ----------------------------------------------------------------------
    @staticmethod
    def _error(status: int, error_type: str, message: str | None = None) -> Response:
        return JSONResponse(
            {"message": message}, status_code=status, headers={"x-amzn-ErrorType": error_type}
        )

    async def _management(self, request: Request) -> Response:
        connection_id = request.path_params["connection_id"]
        conn = self.connections.get(connection_id)
        if conn is None or conn.closed:
            return self._error(410, "GoneException")
        if request.method == "GET":
            return JSONResponse(
                {
                    "connectedAt": datetime.fromtimestamp(
                        time.time() - (time.monotonic() - conn.connected_at), UTC
                    ).isoformat(),
                    "identity": {"sourceIp": conn.source_ip, "userAgent": conn.user_agent},
                    "lastActiveAt": datetime.now(UTC).isoformat(),
                }
            )
        if request.method == "DELETE":
            with contextlib.suppress(Exception):
                await conn.socket.close(code=1000)
            return Response(status_code=204)
        body = await request.body()
        if len(body) > self.limits.frame_bytes:
            return self._error(413, "PayloadTooLargeException", "Message too long")
        self.posts += 1
        if not await self._send(connection_id, body.decode("utf-8", errors="replace")):
            return self._error(410, "GoneException")
        return Response(status_code=200)

    # --- HTTP API --------------------------------------------------------------------------
    def _http_event(
        self,
        request: Request,
        body: bytes,
        route_key: str,
        claims: dict[str, Any] | None,
        path_parameters: dict[str, str] | None,
    ) -> dict[str, Any]:
        headers = {k.lower(): v for k, v in request.headers.items()}
        text: str | None
        try:
            text, b64 = body.decode("utf-8"), False
        except UnicodeDecodeError:
            text, b64 = base64.b64encode(body).decode(), True
        context: dict[str, Any] = {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": headers.get("host", "127.0.0.1"),
            "domainPrefix": "local",
            "http": {
                "method": request.method,
                "path": request.url.path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.client.host if request.client else "127.0.0.1",
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": _connection_id(),
            "routeKey": route_key,
            "stage": "$default",
            "time": _request_time(),
            "timeEpoch": _now_ms(),
        }
        if claims is not None:
            # API Gateway passes JWT claims as strings.
            context["authorizer"] = {
                "jwt": {
                    "claims": {
                        k: v
                        if isinstance(v, str)
                        else ("[" + " ".join(map(str, v)) + "]" if isinstance(v, list) else str(v))
                        for k, v in claims.items()
                    },
                    "scopes": None,
                }
            }
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": request.url.path,
            "rawQueryString": request.url.query,
            "headers": headers,
            "requestContext": context,
            "isBase64Encoded": b64,
        }
        if request.cookies:
            event["cookies"] = [f"{k}={v}" for k, v in request.cookies.items()]
        if request.query_params:
            event["queryStringParameters"] = dict(request.query_params)
        if path_parameters:
            event["pathParameters"] = path_parameters
        if body:
            event["body"] = text
        return event

    @staticmethod
    def _http_response(result: Any) -> Response:
        if not isinstance(result, dict) or "statusCode" not in result:
            return JSONResponse(result)  # the "simplified" v2 response format
        body = result.get("body") or ""
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
        headers = dict(result.get("headers") or {})
        response = Response(raw, status_code=int(result["statusCode"]), headers=headers)
        for cookie in result.get("cookies") or []:
            response.headers.append("set-cookie", cookie)
        return response

    async def _http_api(self, request: Request) -> Response:
        claims = None
        if self.authorizer is not None:
            claims = await asyncio.to_thread(
                self.authorizer.claims, request.headers.get("authorization")
            )
            if claims is None:
                return JSONResponse(
                    {"message": "Unauthorized"},
                    status_code=401,
                    headers={"www-authenticate": 'Bearer error="invalid_token"'},
                )
        body = await request.body()
        event = self._http_event(
            request, body, "ANY /api/{proxy+}", claims, {"proxy": request.path_params["path"]}
        )
        try:
            result = await self._invoke("http_api", self.routes.http_api, event)
        except TimeoutError:
            return JSONResponse({"message": "Service Unavailable"}, status_code=503)
        except Exception:
            log.exception("http_api crashed")
            return JSONResponse({"message": "Internal Server Error"}, status_code=500)
        return self._http_response(result)

    async def _telegram(self, request: Request) -> Response:
        if self.routes.telegram_webhook is None:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        body = await request.body()
        event = self._http_event(request, body, "POST /telegram/webhook", None, None)
        try:
            result = await self._invoke("telegram_webhook", self.routes.telegram_webhook, event)
        except TimeoutError:
            return JSONResponse({"message": "Service Unavailable"}, status_code=503)
        except Exception:
            log.exception("telegram_webhook crashed")
            return JSONResponse({"message": "Internal Server Error"}, status_code=500)
        return self._http_response(result)

    # --- the site --------------------------------------------------------------------------
    async def _config_json(self, request: Request) -> Response:
        if self.site_config is None:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        return JSONResponse(dict(self.site_config(request)), headers={"cache-control": "no-store"})

    async def _static(self, request: Request) -> Response:
        if self.site_dir is None or not (self.site_dir / "index.html").exists():
            return Response(
                "The web app is not built. Run scripts/bootstrap (or `npm ci && npm run build` "
                "in web/).\n",
                media_type="text/plain",
                status_code=404,
            )
        relative = request.path_params.get("path") or "index.html"
        candidate = (self.site_dir / relative).resolve()
        if self.site_dir.resolve() not in candidate.parents or not candidate.is_file():
            candidate = self.site_dir / "index.html"  # single-page app fallback
        headers = {
            "content-security-policy": (
                "default-src 'self'; connect-src 'self' ws: wss: http://127.0.0.1:* "
                "http://localhost:*; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                "frame-ancestors 'none'"
            ),
            "x-content-type-options": "nosniff",
            "referrer-policy": "no-referrer",
        }
        if candidate.name == "index.html":
            headers["cache-control"] = "no-cache"
        return FileResponse(candidate, headers=headers)
