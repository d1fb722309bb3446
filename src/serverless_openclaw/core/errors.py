"""The one exception tree of the project.

Adapters in `adapters/`, `agent/` and `telegram/` translate library errors (botocore, httpx,
websockets) into these with `raise ... from exc`; business code only ever catches these.
"""

from __future__ import annotations


class OpenClawError(Exception):
    """Base of every error this project raises on purpose."""


# --- request validation (4xx) --------------------------------------------------------------
class InvalidRequest(OpenClawError):
    """The caller sent something malformed. `code` is stable and shown to clients."""

    code = "invalid_request"
    status = 400


class PayloadTooLarge(InvalidRequest):
    code = "payload_too_large"
    status = 413


class InvalidPassword(InvalidRequest):
    """A new password the password policy refuses (the message says which rule)."""

    code = "invalid_password"


class Unauthorized(OpenClawError):
    code = "unauthorized"
    status = 401


class Forbidden(OpenClawError):
    code = "forbidden"
    status = 403


class NotFound(OpenClawError):
    """Also used for things that exist but belong to someone else: we never leak existence."""

    code = "not_found"
    status = 404


class ConversationDeleted(NotFound):
    """A write into a conversation the person deleted (a late reply or retry): refused."""


class Conflict(OpenClawError):
    code = "conflict"
    status = 409


class PortInUse(OpenClawError):
    """A port the local stack must listen on is taken by another program."""

    def __init__(self, port: int, what: str) -> None:
        super().__init__(f"port {port} is in use ({what})")
        self.port = port


class QuotaExceeded(OpenClawError):
    code = "quota_exceeded"
    status = 429

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


# --- state and storage ---------------------------------------------------------------------
class ConditionFailed(OpenClawError):
    """A conditional write lost a race; the caller re-reads and decides again."""


class TransitionRejected(OpenClawError):
    """The task state machine does not allow this event in the current state."""


class StorageUnavailable(OpenClawError):
    """An AWS service (DynamoDB, SQS, S3, ...) could not be reached or refused the call."""


class AccessDenied(StorageUnavailable):
    """The service refused the call for want of a permission (IAM): a bug in a policy or a
    caller reaching beyond its own data, never retried."""


class Fenced(OpenClawError):
    """A write by a task whose launch is no longer the current one was refused (D12): the
    task must stop taking jobs and exit."""


class ConnectionGone(OpenClawError):
    """An API Gateway WebSocket connection no longer exists (HTTP 410)."""


class RestoreFailed(OpenClawError):
    """The agent's state could not be restored; uploads must stay disabled."""


class BackupUnreachable(RestoreFailed):
    """The backup could not be read (storage down, no permission): worth a few retries."""


class BackupCorrupt(RestoreFailed):
    """A backup is there but does not verify (unreadable manifest, a file that does not
    match its hash, an unsafe path, files without a manifest): retrying will not help."""


class NoUsableBackup(BackupCorrupt):
    """Every backup version that may be restored failed to verify."""


class StateDirNotOurs(RestoreFailed):
    """The state dir holds files serverless-openclaw did not put there: never cleared."""


# --- OpenClaw gateway ----------------------------------------------------------------------
class GatewayError(OpenClawError):
    """The OpenClaw gateway answered with an error frame or could not be reached."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "gateway_error",
        retryable: bool = False,
        retry_after_ms: int | None = None,
        details: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable
        self.retry_after_ms = retry_after_ms
        self.details = details or {}


class GatewayAuthError(GatewayError):
    """Wrong token or device signature: retrying will not help."""


class GatewayProtocolError(GatewayError):
    """A frame we could not understand, or a protocol version we do not speak."""


class GatewayDisconnected(GatewayError):
    """The socket to the gateway closed; runs in flight on it are lost."""


class RunFailed(OpenClawError):
    """A chat run ended in `error` (model failure, tool failure...)."""

    def __init__(self, message: str, *, kind: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind


# --- runtime provisioning ------------------------------------------------------------------
class RuntimeInstallError(OpenClawError):
    """Node or OpenClaw could not be installed; the message says what to do."""


# --- Telegram ------------------------------------------------------------------------------
class TelegramError(OpenClawError):
    def __init__(
        self, message: str, *, status: int | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s


class DeployError(OpenClawError):
    """A deployment step failed (the operator's credentials, CloudFormation, CDK); the message
    says what to do about it."""
