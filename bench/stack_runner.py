"""`serverless-openclaw dev` with another agent task command (the load suite's agent double).

The same `DevStack` as the CLI — moto, API Gateway emulator, ECS emulator, Lambda handlers —
started through its library interface, because the task command is a constructor argument
and not a setting a person would change.

    python -m bench.stack_runner --port P --state-dir DIR --agent-command '["python", ...]'
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from pathlib import Path

from serverless_openclaw.local.stack import DevStack
from serverless_openclaw.settings import DevSettings


async def serve(settings: DevSettings, agent_command: list[str]) -> None:
    stack = DevStack(
        settings,
        progress=lambda line: print(f"• {line}", flush=True),
        agent_command=agent_command,
        agent_stop_timeout_s=20,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stack.start()
        await stop.wait()
    finally:
        await stack.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.stack_runner")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--agent-command", required=True, help="JSON list")
    args = parser.parse_args(argv)
    command = json.loads(args.agent_command)
    if not isinstance(command, list) or not all(isinstance(c, str) for c in command):
        parser.error("--agent-command must be a JSON list of strings")
    asyncio.run(serve(DevSettings(port=args.port, state_dir=args.state_dir), command))


if __name__ == "__main__":
    main()
