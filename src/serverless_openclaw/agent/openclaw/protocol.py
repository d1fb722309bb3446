"""The OpenClaw gateway WebSocket protocol (v3-v4) as plain code: no sockets here.

Frames are JSON text. Requests `{"type":"req","id","method","params"}`, responses
`{"type":"res","id","ok","payload"|"error"}`, events `{"type":"event","event","payload","seq"}`.
The gateway's schemas are closed, so we send exactly the documented fields and nothing else.
Chat runs stream `chat` events; `TextAssembler` turns their delta/replace/cumulative forms
into one consistent view of the text so far.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from serverless_openclaw.core.errors import (
    GatewayAuthError,
    GatewayError,
    GatewayProtocolError,
)
from serverless_openclaw.core.pins import GATEWAY_PROTOCOL_MAX, GATEWAY_PROTOCOL_MIN

from .device import DeviceIdentity, SignatureInput

CLIENT_ID = "gateway-client"
CLIENT_MODE = "backend"
ROLE = "operator"
SCOPES: tuple[str, ...] = ("operator.read", "operator.write")
"""What the bridge needs: chat, history, cron.list. Not admin (config, cron.add...)."""
AUTH_DETAIL_CODES = frozenset(
    {"AUTH_TOKEN_MISMATCH", "AUTH_TOKEN_MISSING", "AUTH_PASSWORD_MISMATCH", "AUTH_REQUIRED"}
)


# --- incoming frames -----------------------------------------------------------------------
class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class ErrorShape(_Loose):
    code: str = "UNKNOWN"
    message: str = ""
    details: dict[str, Any] | None = None
    retryable: bool | None = None
    retryAfterMs: int | None = None


class ResponseFrame(_Loose):
    type: Literal["res"]
    id: str
    ok: bool
    payload: Any = None
    error: ErrorShape | None = None


class EventFrame(_Loose):
    type: Literal["event"]
    event: str
    payload: Any = None
    seq: int | None = None


def parse_frame(text: str | bytes) -> ResponseFrame | EventFrame:
    """Parse one frame; anything else is a GatewayProtocolError (the caller drops the socket)."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GatewayProtocolError(f"frame is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise GatewayProtocolError("frame is not a JSON object")
    try:
        if data.get("type") == "res":
            return ResponseFrame.model_validate(data)
        if data.get("type") == "event":
            return EventFrame.model_validate(data)
    except ValidationError as exc:
        raise GatewayProtocolError(f"malformed {data.get('type')} frame: {exc}") from exc
    raise GatewayProtocolError(f"unknown frame type {data.get('type')!r}")


def error_from(method: str, error: ErrorShape | None) -> GatewayError:
    """Map an error response to our exception tree, keeping code, details and retry hints."""
    shape = error or ErrorShape()
    details = shape.details or {}
    detail_code = str(details.get("code", ""))
    message = f"{method}: {shape.message or shape.code}"
    if detail_code in AUTH_DETAIL_CODES or detail_code.startswith("DEVICE_AUTH_"):
        return GatewayAuthError(message, code=detail_code, details=details)
    retryable = bool(shape.retryable) or shape.code == "UNAVAILABLE"
    return GatewayError(
        message,
        code=shape.code,
        retryable=retryable,
        retry_after_ms=shape.retryAfterMs,
        details=details,
    )


# --- outgoing frames -----------------------------------------------------------------------
def request_frame(request_id: str, method: str, params: dict[str, Any]) -> str:
    return json.dumps({"type": "req", "id": request_id, "method": method, "params": params})


@dataclass(frozen=True)
class Challenge:
    nonce: str
    ts: int


def parse_challenge(frame: ResponseFrame | EventFrame) -> Challenge:
    if not isinstance(frame, EventFrame) or frame.event != "connect.challenge":
        raise GatewayProtocolError("expected connect.challenge as the first frame")
    payload = frame.payload if isinstance(frame.payload, dict) else {}
    nonce, ts = payload.get("nonce"), payload.get("ts")
    if not isinstance(nonce, str) or not nonce or not isinstance(ts, int) or ts < 0:
        raise GatewayProtocolError("connect.challenge without a valid nonce and ts")
    return Challenge(nonce=nonce, ts=ts)


def connect_params(
    *,
    challenge: Challenge,
    token: str,
    identity: DeviceIdentity | None,
    client_version: str,
    platform: str = "linux",
    scopes: tuple[str, ...] = SCOPES,
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "minProtocol": GATEWAY_PROTOCOL_MIN,
        "maxProtocol": GATEWAY_PROTOCOL_MAX,
        "client": {
            "id": CLIENT_ID,
            "version": client_version,
            "platform": platform,
            "mode": CLIENT_MODE,
        },
        "role": ROLE,
        "scopes": list(scopes),
        "caps": [],
        "auth": {"token": token},
    }
    if identity is not None:
        signature = identity.sign(
            SignatureInput(
                device_id=identity.device_id,
                client_id=CLIENT_ID,
                client_mode=CLIENT_MODE,
                role=ROLE,
                scopes=scopes,
                signed_at_ms=challenge.ts,
                token=token,
                nonce=challenge.nonce,
                platform=platform,
            )
        )
        params["device"] = {
            "id": identity.device_id,
            "publicKey": identity.public_key,
            "signature": signature,
            "signedAt": challenge.ts,
            "nonce": challenge.nonce,
        }
    return params


@dataclass(frozen=True)
class Hello:
    protocol: int
    server_version: str
    tick_interval_ms: int
    max_payload: int
    methods: frozenset[str]


def parse_hello(payload: Any) -> Hello:
    if not isinstance(payload, dict) or payload.get("type") != "hello-ok":
        raise GatewayProtocolError("connect succeeded without a hello-ok payload")
    protocol = payload.get("protocol")
    if not isinstance(protocol, int) or not (
        GATEWAY_PROTOCOL_MIN <= protocol <= GATEWAY_PROTOCOL_MAX
    ):
        raise GatewayProtocolError(f"gateway chose protocol {protocol!r}, we speak 3-4")
    policy = payload.get("policy") or {}
    server = payload.get("server") or {}
    features = payload.get("features") or {}
    return Hello(
        protocol=protocol,
        server_version=str(server.get("version", "")),
        tick_interval_ms=int(policy.get("tickIntervalMs", 15_000)),
        max_payload=int(policy.get("maxPayload", 25 * 1024 * 1024)),
        methods=frozenset(features.get("methods") or ()),
    )


# --- chat runs -----------------------------------------------------------------------------
ChatState = Literal["status", "delta", "final", "aborted", "error"]


class ChatEvent(_Loose):
    runId: str
    sessionKey: str = ""
    seq: int = 0
    state: str
    phase: str | None = None
    deltaText: str | None = None
    replace: bool = False
    message: dict[str, Any] | None = None
    errorMessage: str | None = None
    errorKind: str | None = None
    stopReason: str | None = None


def parse_chat_event(frame: EventFrame) -> ChatEvent | None:
    if frame.event != "chat" or not isinstance(frame.payload, dict):
        return None
    try:
        return ChatEvent.model_validate(frame.payload)
    except ValidationError:
        return None


def message_text(message: dict[str, Any] | None) -> str | None:
    """The text of an assistant message: its text parts joined (None when it has none)."""
    if not message:
        return None
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        ]
        return "".join(parts) if parts else None
    return None


@dataclass(frozen=True)
class TextUpdate:
    """What changed. `appended` is the new suffix when the text only grew; when the gateway
    rewrote earlier text (`replaced`), consumers redraw from `text`."""

    text: str
    appended: str
    replaced: bool


@dataclass
class TextAssembler:
    """One run's text so far, from delta events in either form.

    - `deltaText` is the new suffix, or the whole text when `replace` is set;
    - `message.content[].text`, when present, is the whole text so far and wins.
    """

    text: str = ""
    _last_seq: int = field(default=-1, repr=False)

    def feed(self, event: ChatEvent) -> TextUpdate | None:
        if event.seq and event.seq <= self._last_seq:
            return None  # a duplicate or out-of-order event
        self._last_seq = max(self._last_seq, event.seq)
        full = message_text(event.message)
        if full is None:
            if event.deltaText is None:
                return None
            full = event.deltaText if event.replace else self.text + event.deltaText
        return self._advance(full)

    def finish(self, event: ChatEvent) -> str:
        """The final text: the final message if it has one, else what streamed so far."""
        full = message_text(event.message)
        if full is not None:
            self.text = full
        return self.text

    def _advance(self, full: str) -> TextUpdate | None:
        if full == self.text:
            return None
        if full.startswith(self.text):
            update = TextUpdate(text=full, appended=full[len(self.text) :], replaced=False)
        else:
            update = TextUpdate(text=full, appended="", replaced=True)
        self.text = full
        return update
