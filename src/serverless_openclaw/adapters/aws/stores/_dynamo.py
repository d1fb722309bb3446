"""What every store shares: (de)serialisation, error conversion, timestamps, page cursors."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from serverless_openclaw.adapters.aws.errors import converted as _converted
from serverless_openclaw.core.errors import ConditionFailed, InvalidRequest, StorageUnavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

Item = dict[str, Any]
RawItem = Mapping[str, "AttributeValueTypeDef"]

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

T = TypeVar("T")


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, set)):
        return [_plain(v) for v in value]
    return value


def _dynamo_value(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _dynamo_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dynamo_value(v) for v in value]
    return value


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    """Python values -> DynamoDB attribute values (floats become Decimals; None is dropped)."""
    return {k: _serializer.serialize(_dynamo_value(v)) for k, v in item.items() if v is not None}


def value(raw: Any) -> Any:
    return _serializer.serialize(_dynamo_value(raw))


def deserialize(raw: RawItem) -> Item:
    return {k: _plain(_deserializer.deserialize(v)) for k, v in raw.items()}


def converted() -> AbstractContextManager[None]:
    """DynamoDB errors -> ours; a cancelled transaction is a lost condition."""
    return _converted(
        "DynamoDB",
        codes={
            "TransactionCanceledException": ConditionFailed,
            "ValidationException": InvalidRequest,
            "ResourceNotFoundException": StorageUnavailable,
        },
    )


# --- time ----------------------------------------------------------------------------------
def now_utc() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime | None) -> str | None:
    """Fixed-width UTC ISO 8601 (microseconds, `Z`): sorts as text in the order of time."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


# --- cursors -------------------------------------------------------------------------------
def encode_cursor(last_key: Mapping[str, Any] | None) -> str | None:
    """An opaque page cursor (url-safe base64 of the last evaluated key)."""
    if not last_key:
        return None
    payload = json.dumps(deserialize(last_key), separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, *, expect: Mapping[str, str]) -> dict[str, Any] | None:
    """The start key for the next page. `expect` pins attributes the caller's query fixes
    (its partition key): a cursor made for another user's data is refused, never followed."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        decoded = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidRequest("invalid cursor") from exc
    if not isinstance(decoded, dict) or not decoded or len(decoded) > 4:
        raise InvalidRequest("invalid cursor")
    if any(not isinstance(v, str) for v in decoded.values()):
        raise InvalidRequest("invalid cursor")
    for key, expected in expect.items():
        if decoded.get(key) != expected:
            raise InvalidRequest("invalid cursor")
    return serialize(decoded)


def paginate(call: Callable[..., Any], key: str, **kwargs: Any) -> Iterator[Any]:
    """All items of a scan/query, page by page."""
    start: Any = None
    while True:
        if start:
            kwargs["ExclusiveStartKey"] = start
        with converted():
            page = call(**kwargs)
        yield from page.get(key, [])
        start = page.get("LastEvaluatedKey")
        if not start:
            return
