"""The local ECS stops a task the way a container stops: nothing the task started lives on.

The agent runs OpenClaw in a session of its own, out of reach of a process-group kill. Had
it survived its killed task (as it did before), it would have kept the database lease that
the restored state names, and the next task's OpenClaw refused to start ("Agent main
database is still open in process N"): a kill -9 turned into a message nobody answered. The
same happened with a killed process left as a zombie (where PID 1 does not reap), so the
emulator adopts and reaps them, as a container's init would.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import psutil
import pytest

from serverless_openclaw.local.ecs_emulator import EcsEmulator, TaskDefinition, processes_inside

pytestmark = [pytest.mark.faults]

SPAWNER = (
    "import subprocess, time\n"
    "child = subprocess.Popen(['sleep', '300'], start_new_session=True)\n"
    "open('child.pid', 'w').write(str(child.pid))\n"
    "time.sleep(300)\n"
)


def _wait(check, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError("condition not met")
        time.sleep(0.05)
    return result


def _gone(pid: int) -> bool:
    """Gone entirely: a zombie's pid still "exists" for OpenClaw's lease check."""
    return not psutil.pid_exists(pid)


@pytest.mark.parametrize("how", ["kill -9 of the task", "StopTask past the stop timeout"])
def test_a_stopped_task_takes_its_detached_processes_along(tmp_path: Path, how: str) -> None:
    emulator = EcsEmulator(
        default=TaskDefinition(command=(sys.executable, "-c", SPAWNER)),
        log_dir=tmp_path / "tasks",
        stop_timeout_s=0.5,
    )
    try:
        arn = emulator.run_task({"taskDefinition": "agent", "cluster": "c"})["tasks"][0]["taskArn"]
        workdir = tmp_path / "tasks" / arn.rsplit("/", 1)[-1]
        child = int(
            _wait(lambda: (workdir / "child.pid").exists() and (workdir / "child.pid").read_text())
        )
        main = emulator.running_processes()[0]
        assert os.getpgid(child) != os.getpgid(main), "the child left the task's process group"
        if how == "kill -9 of the task":
            os.killpg(main, signal.SIGKILL)
        else:
            # The task ignores nothing here, but `sleep` in its own session never sees SIGTERM.
            emulator.stop_task({"task": arn})
        _wait(
            lambda: emulator.describe_tasks({"tasks": [arn]})["tasks"][0]["lastStatus"] == "STOPPED"
        )
        _wait(lambda: _gone(child))
        assert not [p for p in processes_inside(workdir) if not _gone(p)]
    finally:
        emulator.close(timeout_s=2)
