"""A running agent task as seen from outside: what it wrote about itself in its work dir.

`agent.json` (pid, healthPort, gatewayPort, launchId, stateDir) is written by the supervisor
once it runs. `AgentProcess` is that file as a read-only mapping (`agent["pid"]`, as tests
read it) with typed properties and the agent's own /status (as benchmarks read it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx


class AgentProcess(Mapping[str, Any]):
    """agent.json of one agent task, and what can be asked of that task."""

    def __init__(self, work_dir: Path, data: Mapping[str, Any]) -> None:
        self.work_dir = work_dir
        self.data = dict(data)

    @classmethod
    def read(cls, work_dir: Path) -> AgentProcess | None:
        """The task's agent.json, or None while it is not (completely) written yet."""
        try:
            data = json.loads((work_dir / "agent.json").read_text())
        except (OSError, json.JSONDecodeError):
            return None
        return cls(work_dir, data) if isinstance(data, dict) else None

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        return f"AgentProcess({self.work_dir.name}, {self.data})"

    @property
    def pid(self) -> int:
        return int(self.data["pid"])

    @property
    def gateway_port(self) -> int:
        return int(self.data["gatewayPort"])

    @property
    def health_port(self) -> int:
        return int(self.data["healthPort"])

    @property
    def log(self) -> Path:
        """What the task wrote to stdout and stderr (beside its work dir)."""
        return self.work_dir.parent / f"{self.work_dir.name}.log"

    @property
    def openclaw_state_dir(self) -> Path:
        """The user's OpenClaw state dir (it outlives the task: the same path every start)."""
        state = self.data.get("stateDir")
        return Path(state) if state else self.work_dir / "openclaw-state"

    # --- the task's own /status ------------------------------------------------------------
    def fetch_status(self) -> dict[str, Any]:
        """GET /status of the running task (supervisor phase, gateway pid, turns), blocking."""
        response = httpx.get(f"http://127.0.0.1:{self.health_port}/status", timeout=10)
        response.raise_for_status()
        return dict(response.json())

    async def status(self) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(f"http://127.0.0.1:{self.health_port}/status")
            response.raise_for_status()
            return dict(response.json())

    async def wait_running(self, timeout: float = 240) -> dict[str, Any]:
        """The task's status once it says its OpenClaw gateway runs."""
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(httpx.HTTPError):
                status = await self.status()
                if status.get("running"):
                    return status
            if time.monotonic() > deadline:
                raise TimeoutError(f"agent {self.work_dir.name} not running")
            await asyncio.sleep(0.1)

    # --- when it started (benchmarks anchor the /status marks with these) ------------------
    def running_logged_at(self) -> float | None:
        """Wall-clock time (epoch s) of the supervisor's "agent running" log line, which
        anchors the /status start-up marks (seconds since the supervisor started)."""
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return None
        for line in lines:
            if '"agent running:' not in line:
                continue
            with contextlib.suppress(ValueError, KeyError):
                return datetime.fromisoformat(json.loads(line)["ts"]).timestamp()
        return None

    def process_started_at(self) -> float | None:
        """Wall-clock time the task's process was created (/proc, 10 ms resolution)."""
        return process_start_wall(self.pid)


_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_start_wall(pid: int) -> float | None:
    """Creation time of `pid` as epoch seconds, from /proc/<pid>/stat (ticks since boot)
    converted through CLOCK_BOOTTIME, which is exact to a tick — psutil's create_time goes
    through /proc/stat's whole-second boot time instead."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    started_since_boot = int(fields[19]) / _CLK_TCK
    now_wall = time.time()
    now_boot = time.clock_gettime(time.CLOCK_BOOTTIME)
    return now_wall - (now_boot - started_since_boot)
