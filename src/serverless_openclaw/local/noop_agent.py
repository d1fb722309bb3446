"""A stand-in agent for the local ECS emulator until the real agent container exists.

It does what the control plane expects of every task and nothing else: mark itself Running
(as its launch, `SOC_TASK_ID`), take no jobs, and on SIGTERM mark itself Stopping, then Idle,
and exit 0. It never heartbeats: it does no work, so the idle timeout applies to it.

Run: `python -m serverless_openclaw.local.noop_agent` with the task environment set.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
from types import FrameType

from serverless_openclaw.adapters.aws.clients import AwsClients
from serverless_openclaw.adapters.aws.stores.task_state import TaskStateStore
from serverless_openclaw.core.errors import ConditionFailed, OpenClawError, TransitionRejected
from serverless_openclaw.settings import AgentSettings

log = logging.getLogger("noop_agent")


def run(settings: AgentSettings, stop: threading.Event) -> int:
    if not settings.task_id:
        log.error("SOC_TASK_ID is not set; this process was not launched by the control plane")
        return 2
    store = TaskStateStore(AwsClients(settings.names.region).dynamodb(), settings.names.prefix)
    user, launch = settings.user_id, settings.task_id
    try:
        store.set_phase(user, launch, "noop agent")
        store.mark_running(user, launch)
    except (ConditionFailed, TransitionRejected) as exc:
        log.warning("this launch is no longer current: %s", exc)
        return 1
    log.info("running as launch %s of user %s", launch, user)
    stop.wait()
    log.info("SIGTERM: stopping")
    with contextlib.suppress(TransitionRejected):  # the control plane may have done it
        store.mark_stopping(user, launch, "shutting down")
    try:
        store.mark_idle(user, launch)
    except (TransitionRejected, OpenClawError) as exc:
        log.warning("could not mark idle: %s", exc)
    return 0


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s noop_agent %(message)s")
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    return run(AgentSettings(), stop)


if __name__ == "__main__":
    sys.exit(main())
