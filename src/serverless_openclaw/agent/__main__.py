"""`python -m serverless_openclaw.agent`: the agent task's entry point (container CMD)."""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from serverless_openclaw.agent.wiring import wire_task
from serverless_openclaw.settings import AgentSettings

from .logs import configure
from .supervisor import Supervisor


def main() -> int:
    settings = AgentSettings()
    configure(settings.log_level, user=settings.user_id[:12], launch=(settings.task_id or "")[:8])
    code = asyncio.run(Supervisor(settings, wire_task(settings)).run())
    logging.shutdown()
    sys.stdout.flush()
    # A long poll may still be blocked in a worker thread; everything is persisted by now,
    # so do not wait up to 20 s for it.
    os._exit(code)


if __name__ == "__main__":
    main()
