"""Lambda's runtime on one machine: the context a handler gets, and one invocation at a time.

On AWS a Lambda container runs one invocation at a time, and the powertools Logger/Metrics
singletons the handlers use assume exactly that. The dev stack calls the same handlers from
several threads (the API Gateway emulator, the watchdog tick, the Telegram poller), so every
call goes through one `LambdaRuntime`, which keeps Lambda's semantics: serialised calls, a
context whose remaining time counts down to the integration timeout.

This is the only Lambda context class of the local stack; production code never builds one.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

Handler = Callable[[Any, Any], Any]

DEFAULT_TIMEOUT_S: Final = 29.0
"""API Gateway's integration timeout: the most any handler of ours may take."""


@dataclass
class LambdaContext:
    """What a handler may read from the Lambda context (powertools reads these)."""

    function_name: str
    timeout_s: float = DEFAULT_TIMEOUT_S
    memory_limit_in_mb: int = 256
    region: str = "us-east-1"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    deadline: float = 0.0

    def __post_init__(self) -> None:
        if not self.deadline:
            self.deadline = time.monotonic() + self.timeout_s

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:000000000000:function:{self.function_name}"

    @property
    def function_version(self) -> str:
        return "$LATEST"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


POWERTOOLS_DEFAULTS: Final = {
    "POWERTOOLS_SERVICE_NAME": "serverless-openclaw",
    "POWERTOOLS_METRICS_NAMESPACE": "ServerlessOpenClaw",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}
"""What the function configuration would set for powertools on Lambda; locally no metrics
(CloudWatch's embedded format would flood the terminal) and warnings only."""


def configure_powertools() -> None:
    """Powertools reads its settings from the process environment when the handler modules
    are imported (as Lambda sets them before the runtime starts): call this first. Values
    already in the environment win (e.g. a test's POWERTOOLS_LOG_LEVEL=INFO)."""
    for name, value in POWERTOOLS_DEFAULTS.items():
        os.environ.setdefault(name, value)


class LambdaRuntime:
    """Calls handlers as one Lambda container per process would: one at a time."""

    def __init__(self, *, region: str = "us-east-1") -> None:
        self.region = region
        self._lock = threading.Lock()

    def call(
        self, name: str, handler: Handler, event: Any, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> Any:
        """Blocking: wait for the running invocation to finish, then run this one. The
        deadline starts when the call is made, as API Gateway's timeout does."""
        context = LambdaContext(name, timeout_s=timeout_s, region=self.region)
        with self._lock:
            return handler(event, context)

    async def invoke(
        self, name: str, handler: Handler, event: Any, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> Any:
        """`call` in a worker thread, given up on after `timeout_s` (`TimeoutError`, as API
        Gateway answers 504/503 while the Lambda may still finish)."""
        return await asyncio.wait_for(
            asyncio.to_thread(self.call, name, handler, event, timeout_s), timeout_s
        )

    def serialized(self, name: str, handler: Handler) -> Handler:
        """`handler(event, context)` that takes its turn like every other invocation (for
        callers that bring their own context, e.g. the Telegram poller)."""

        def run(event: Any, context: Any) -> Any:
            with self._lock:
                return handler(event, context)

        run.__name__ = f"{name}_serialized"
        return run
