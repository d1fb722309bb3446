"""Logging, metrics and the last line of defence shared by every Lambda entry point.

`entry(...)` wraps a `handle(event, services)` function into `handler(event, context)`:
structured logs with the request's correlation id (never the event itself: it carries tokens
and message text), one `Invocations` metric per call flushed in `finally`, and a catch-all
that turns a bug into a logged 500 instead of a Lambda error (which API Gateway would show
as a bare 502 and the local emulator as a crash).

A Lambda container runs one invocation at a time and the powertools singletons assume it; a
process that calls handlers from several threads (the local stack) serialises the calls itself
(`local/lambda_runtime.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from serverless_openclaw import wiring
from serverless_openclaw.app.services import Services

SERVICE: Final = "serverless-openclaw"
NAMESPACE: Final = "ServerlessOpenClaw"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

APPLICATION_LOGGERS: Final = ("serverless_openclaw.app", "serverless_openclaw.telegram")
"""The layers below the handlers log with the standard library. In Lambda those records reach
only the runtime's root handler, as plain text and never at INFO ("starting agent", with the
person and the launch, was lost): they get the handlers' JSON lines, level and keys."""


def _application_logs_as_ours() -> None:
    for name in APPLICATION_LOGGERS:
        library = logging.getLogger(name)
        library.setLevel(logger.log_level)
        library.handlers = [logger.registered_handler]
        library.propagate = False


_application_logs_as_ours()

Handle = Callable[[Any, Services], dict[str, Any]]
Handler = Callable[[Any, Any], dict[str, Any]]


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
            return handle(event, wiring.current())
        except Exception:
            logger.exception("unhandled error", extra={"handler": name})
            metrics.add_metric(name="Crashes", unit=MetricUnit.Count, value=1)
            return dict(on_crash)

    def handler(event: Any, context: Any) -> dict[str, Any]:
        answer: dict[str, Any] = wrapped(event, context)
        return answer

    handler.__name__ = f"{name}_handler"
    return handler
