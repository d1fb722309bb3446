"""The parts of API Gateway WebSocket events the handlers read, as lenient pydantic models.

Lenient on purpose: API Gateway adds fields over time and the local emulator sends fewer;
what we rely on is required, the rest is ignored.
"""

from __future__ import annotations

import base64
from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from serverless_openclaw.core.errors import InvalidRequest


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class WsRequestContext(_Lenient):
    connectionId: str = Field(min_length=1, max_length=256)
    routeKey: str | None = None
    eventType: str | None = None
    requestId: str | None = None


class WsEvent(_Lenient):
    requestContext: WsRequestContext
    body: str | None = None
    isBase64Encoded: bool = False
    headers: dict[str, str] | None = None
    queryStringParameters: dict[str, str] | None = None

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in (self.headers or {}).items():
            if key.lower() == wanted:
                return value
        return None

    def text_body(self) -> str:
        if self.body is None:
            return ""
        if not self.isBase64Encoded:
            return self.body
        try:
            return base64.b64decode(self.body, validate=True).decode()
        except ValueError as exc:  # binascii.Error, non-ASCII input, UnicodeDecodeError
            raise InvalidRequest("body is not valid base64 UTF-8") from exc


def parse_ws_event(event: Any) -> WsEvent:
    """`InvalidRequest` for anything that is not a WebSocket event with a connection id."""
    if not isinstance(event, dict):
        raise InvalidRequest("not an API Gateway WebSocket event")
    try:
        return parse(event=event, model=WsEvent)
    except ValidationError as exc:
        raise InvalidRequest("not an API Gateway WebSocket event") from exc
