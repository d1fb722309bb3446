"""What the suites share: options, a scratch folder, how a benchmark's dev stack is set up,
and one real-agent dev stack started on first use (relay, memory, coldstart and the
real-agent load share it when run together).

The stack itself is the harness the tests use too (`harness/`, beside `bench/`): the whole
product in a child process, so that its event loop, its moto and its Lambda handlers never
share an interpreter (or a GIL) with the code that measures them, driven only through its
public WebSocket and HTTP APIs and observed through each agent's own /status.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import DevStackProcess, Person, new_id

OFFLINE_LABEL = "[offline model]"

BENCH_ENV: Mapping[str, str] = {
    # The per-user message quota (20/min) is a product limit, not a speed: a benchmark user
    # sends faster than a person would, so it is lifted for every suite.
    "SOC_MESSAGES_PER_MINUTE": "1000000",
    "SOC_DEV_WATCHDOG_INTERVAL_SECONDS": "5",
    "SOC_MIN_UPTIME_SECONDS": "0",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}
"""A benchmark's stack environment, instead of the tests' fast clocks."""


def bench_stack(
    state_dir: Path,
    *,
    agent_command: list[str] | None = None,
    agent_env: Mapping[str, str] | None = None,
) -> DevStackProcess:
    """A dev stack as every suite runs it: the aws backend (boto3 against moto, IAM enforced,
    as the product runs on AWS), BENCH_ENV, and a gateway token of its own in every agent's
    environment so that the relay suite can talk to an agent's OpenClaw gateway directly.
    `agent_command` replaces the agent task (`python -m bench.stack_runner`)."""
    return DevStackProcess(
        state_dir,
        backend="aws",
        defaults=BENCH_ENV,
        agent_command=agent_command,
        agent_env=agent_env,
        gateway_token=secrets.token_urlsafe(32),
    )


@dataclass(frozen=True)
class Options:
    """Run counts and shapes; defaults are what docs/performance.md reports."""

    relay_pairs: int = 20
    """Relay turns and direct turns measured (alternating), after the warm-up."""
    warmup_turns: int = 3
    think_s: float = 1.5
    """Pause after each reply, as a person reading it would (see relay.py on why it matters)."""
    back_to_back: int = 6
    """Relay turns sent the moment the previous reply ends (no pause), measured apart."""
    reply_chars: int = 480
    chunk_chars: int = 8
    chunk_delay_ms: float = 40.0
    """The offline model streams `reply_chars` in `chunk_chars` pieces, one per delay:
    60 chunks over ~2.4 s, so coalescing (posts per second of streaming) is visible."""
    coldstarts: int = 5
    open_sends: int = 5
    open_send_delay_s: float = 15.0
    """Wake on open, then the person sends this much later (coldstart suite)."""
    task_cpus: str = ""
    """Pin agent tasks and the bare gateway to these cores (`0`, `0,1`; "" = no pinning)."""
    task_cpu_quota: float = 0.0
    """Or give them a CFS quota of this many CPUs (a cgroup; 0 = none)."""
    import_runs: int = 12
    warm_invocations: int = 60
    memory_replies: int = 8
    memory_growth_turns: int = 30
    load_users: int = 50
    load_real_users: int = 3
    load_seconds: float = 60.0
    load_window_s: float = 10.0
    load_think_s: float = 1.0
    keep: bool = False
    work_dir: Path | None = None


@dataclass
class Context:
    options: Options
    log: Callable[[str], None] = lambda _: None
    notes: dict[str, Any] = field(default_factory=dict)
    _dir: Path | None = None
    _real: DevStackProcess | None = None
    _relay_user: Person | None = None
    _owned: list[DevStackProcess] = field(default_factory=list)

    @property
    def dir(self) -> Path:
        if self._dir is None:
            base = self.options.work_dir
            if base is not None:
                base.mkdir(parents=True, exist_ok=True)
            self._dir = Path(tempfile.mkdtemp(prefix="soc-bench-", dir=base))
        return self._dir

    @property
    def task_tmp(self) -> Path:
        """The $TMPDIR of the coldstart suite's agent tasks (emptied before each start, as a
        new Fargate task's /tmp is empty)."""
        folder = self.dir / "task-tmp"
        folder.mkdir(exist_ok=True)
        return folder

    def own_stack(self, stack: DevStackProcess) -> None:
        """A suite's own stack, stopped with the others at the end."""
        self._owned.append(stack)

    async def real_stack(self) -> DevStackProcess:
        """`serverless-openclaw dev` with the real agent and OpenClaw, started once."""
        if self._real is None:
            self.log("starting the dev stack (real agent, offline model)")
            stack = bench_stack(self.dir / "real")
            started = time.monotonic()
            await asyncio.to_thread(stack.start)
            self.log(f"dev stack up in {time.monotonic() - started:.1f} s")
            self._real = stack
            self.script_model(stack)
        return self._real

    def script_model(self, stack: DevStackProcess) -> None:
        o = self.options
        stack.offline_model().script(
            [
                {
                    "match": r"^bench ",
                    "reply": f"{OFFLINE_LABEL} {{text}}. The tide comes in and goes out.",
                    "repeat_to": o.reply_chars,
                    "chunk_chars": o.chunk_chars,
                    "delay_ms": o.chunk_delay_ms,
                }
            ],
            default_delay_ms=15.0,
            default_chunk_chars=12,
        )

    async def relay_user(self) -> Person:
        """A user whose agent is running and warm (its first, cold turn already done)."""
        if self._relay_user is None:
            stack = await self.real_stack()
            user = await asyncio.to_thread(
                stack.create_user, wakeOnConnect=False, idleTimeoutMinutes=120
            )
            self.log("first message to a new user's agent (cold start, not measured here)")
            async with user.ws() as ws:
                message = new_id()
                await ws.send({"action": "send", "id": message, "text": "hello"})
                await ws.reply_end(message, timeout=600)
            self._relay_user = user
        return self._relay_user

    async def close(self) -> None:
        for stack in self._owned:
            self.log("stopping a suite's own dev stack")
            await asyncio.to_thread(stack.stop)
        self._owned.clear()
        if self._real is not None:
            self.log("stopping the dev stack")
            await asyncio.to_thread(self._real.stop)
            self._real = None
        if self._dir is not None and not self.options.keep:
            shutil.rmtree(self._dir, ignore_errors=True)
