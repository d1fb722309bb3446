"""Logging, metrics and the last line of defence shared by every Lambda entry point.

`entry(...)` wraps a `handle(event, services)` function into `handler(event, context)`:
structured logs with the request's correlation id (never the event itself: it carries tokens
and message text), one `Invocations` metric per call flushed in `finally`, and a catch-all
that turns a bug into a logged 500 instead of a Lambda error (which API Gateway would show
as a bare 502 and the local emulator as a crash).

Invocations are serialised per process: a Lambda container runs one at a time, and the
powertools Logger/Metrics singletons assume exactly that, so a process that calls handlers
from several threads (the local API Gateway emulator) keeps the same semantics.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from serverless_openclaw.app import services as services_module
from serverless_openclaw.app.services import Services

SERVICE: Final = "serverless-openclaw"
NAMESPACE: Final = "ServerlessOpenClaw"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

_invocation = threading.Lock()

Handle = Callable[[Any, Services], dict[str, Any]]
Handler = Callable[[Any, Any], dict[str, Any]]


@dataclass(frozen=True)
class _StubContext:
    """Stands in when the caller passes no (or a partial) Lambda context."""

    function_name: str = "local"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:local:000000000000:function:local"
    memory_limit_in_mb: int = 0
    aws_request_id: str = "local"
    log_group_name: str = "local"
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def _usable(context: Any) -> Any:
    needed = ("function_name", "memory_limit_in_mb", "invoked_function_arn", "aws_request_id")
    return context if all(hasattr(context, name) for name in needed) else _StubContext()


def entry(
    name: str, correlation_id_path: str, handle: Handle, *, on_crash: dict[str, Any]
) -> Handler:
    """Build the Lambda `handler` of one entry point."""

    @metrics.log_metrics
    @logger.inject_lambda_context(correlation_id_path=correlation_id_path, clear_state=True)
    def wrapped(event: Any, context: Any) -> dict[str, Any]:
        metrics.add_dimension(name="handler", value=name)
        metrics.add_metric(name="Invocations", unit=MetricUnit.Count, value=1)
        try:
            return handle(event, services_module.current())
        except Exception:
            logger.exception("unhandled error", extra={"handler": name})
            metrics.add_metric(name="Crashes", unit=MetricUnit.Count, value=1)
            return dict(on_crash)

    def handler(event: Any, context: Any) -> dict[str, Any]:
        with _invocation:
            answer: dict[str, Any] = wrapped(event, _usable(context))
            return answer

    handler.__name__ = f"{name}_handler"
    return handler
