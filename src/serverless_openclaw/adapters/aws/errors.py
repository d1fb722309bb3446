"""botocore errors -> `core.errors`, in one place (every adapter here converts with
`converted(...)`; business code never sees a botocore exception).

The error code decides the class; anything unknown is `StorageUnavailable` (the service could
not be reached or refused the call), and an IAM refusal (or any other 403) is
`AccessDenied`, a kind of it that says so plainly, so a missing permission is never mistaken
for an outage in the logs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Final

from botocore.exceptions import BotoCoreError, ClientError

from serverless_openclaw.core.errors import (
    AccessDenied,
    ConditionFailed,
    Conflict,
    ConnectionGone,
    InvalidRequest,
    NotFound,
    OpenClawError,
    StorageUnavailable,
)

CODES: Final[Mapping[str, type[OpenClawError]]] = {
    "ConditionalCheckFailedException": ConditionFailed,
    "AWS.SimpleQueueService.NonExistentQueue": NotFound,
    "QueueDoesNotExist": NotFound,
    "GoneException": ConnectionGone,
    "ParameterNotFound": NotFound,
    "UserNotFoundException": NotFound,
    "ResourceNotFoundException": NotFound,
    "UsernameExistsException": Conflict,
    "InvalidParameterException": InvalidRequest,
    "InvalidPasswordException": InvalidRequest,
    "AccessDenied": AccessDenied,
    "AccessDeniedException": AccessDenied,
    "UnauthorizedOperation": AccessDenied,
    "AuthorizationError": AccessDenied,
}
"""Error codes that mean the same thing whichever service says them."""


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextmanager
def converted(
    service: str,
    what: str = "",
    *,
    codes: Mapping[str, type[OpenClawError]] | None = None,
) -> Iterator[None]:
    """Run a boto3 call; its errors come out as ours. `codes` adds or overrides mappings
    for this call (e.g. DynamoDB's `TransactionCanceledException` is a lost condition)."""
    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        message = str(exc.response.get("Error", {}).get("Message", "")) or str(exc)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        kind = (codes or {}).get(code) or CODES.get(code)
        if kind is None and status == 410:
            kind = ConnectionGone
        if kind is None and status == 403:
            # Refused (an error body botocore could not read, as moto's XML answer to a
            # JSON-protocol call): an authorization failure, never an outage.
            kind = AccessDenied
        where = f"{service} {what}".strip()
        raise (kind or StorageUnavailable)(f"{where}: {code} {message}".strip()) from exc
    except BotoCoreError as exc:
        raise StorageUnavailable(f"{service} {what}: {exc}".strip()) from exc
