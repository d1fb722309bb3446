"""The local Lambda runtime: one invocation at a time, as in one Lambda container, with a
context whose remaining time counts down to the integration timeout."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from serverless_openclaw.local.lambda_runtime import LambdaContext, LambdaRuntime


def test_invocations_from_many_threads_never_overlap() -> None:
    runtime = LambdaRuntime()
    inside = 0
    most = 0
    lock = threading.Lock()

    def handler(event: Any, context: Any) -> int:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        time.sleep(0.01)
        with lock:
            inside -= 1
        return int(event)

    serialized = runtime.serialized("poller", handler)
    threads = [threading.Thread(target=runtime.call, args=("h", handler, n)) for n in range(8)] + [
        threading.Thread(target=serialized, args=(n, None)) for n in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 1


async def test_a_slow_handler_times_out_like_api_gateway() -> None:
    runtime = LambdaRuntime()
    seen: list[int] = []

    def slow(event: Any, context: LambdaContext) -> None:
        seen.append(context.get_remaining_time_in_millis())
        time.sleep(0.5)

    with pytest.raises(TimeoutError):
        await runtime.invoke("slow", slow, {}, timeout_s=0.2)
    assert 0 < seen[0] <= 200
    await asyncio.sleep(0.5)  # the thread finishes, as a Lambda past API Gateway's timeout


def test_the_context_carries_what_powertools_reads() -> None:
    context = LambdaContext("ws_message", region="eu-west-1")
    assert context.invoked_function_arn.endswith(":eu-west-1:000000000000:function:ws_message")
    assert context.function_version == "$LATEST"
    assert 28_000 < context.get_remaining_time_in_millis() <= 29_000
