"""Local compute: agent tasks as child processes that stop like containers and die with the
stack, however the stack dies."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from serverless_openclaw.adapters.embedded.compute import ProcessCompute, reap_leftovers
from serverless_openclaw.ports.compute import LaunchSpec

ROOT = Path(__file__).resolve().parents[2]

POLITE = (
    "import json, os, signal, sys, time\n"
    "json.dump({k: v for k, v in os.environ.items() if k.startswith('SOC_')},"
    " open('env.tmp', 'w'))\n"
    "os.replace('env.tmp', 'env.json')\n"
    "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n"
    "time.sleep(300)\n"
)
STUBBORN = (
    "import signal, subprocess, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "child = subprocess.Popen(['sleep', '300'], start_new_session=True)\n"
    "open('child.pid', 'w').write(str(child.pid))\n"
    "time.sleep(300)\n"
)


def wait(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)
    return result


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def spec(user: str = "user-1", launch: str = "launch-1") -> LaunchSpec:
    return LaunchSpec(user, launch, f"embedded://inbox/{user}")


@pytest.fixture
def compute_for(tmp_path: Path) -> Iterator[Callable[[str], ProcessCompute]]:
    made: list[ProcessCompute] = []

    def make(script: str) -> ProcessCompute:
        compute = ProcessCompute(
            [sys.executable, "-c", script],
            tasks_dir=tmp_path / "tasks",
            environment={"PATH": os.environ["PATH"], "SOC_BACKEND": "embedded"},
            stop_timeout_s=0.5,
        )
        made.append(compute)
        return compute

    yield make
    for compute in made:
        compute.close(timeout_s=2)


def test_a_task_runs_with_its_launch_in_the_environment_and_stops_on_request(
    compute_for: Callable[[str], ProcessCompute], tmp_path: Path
) -> None:
    compute = compute_for(POLITE)
    task = compute.run_task(spec())
    info = compute.describe([task])[task]
    assert (info.last_status, info.user_id, info.launch_id) == ("RUNNING", "user-1", "launch-1")
    assert compute.list_running() == [task]
    env = wait(lambda: (tmp_path / "tasks" / task / "env.json").exists() and json.loads(
        (tmp_path / "tasks" / task / "env.json").read_text()))  # fmt: skip
    assert env["SOC_USER_ID"] == "user-1"
    assert env["SOC_TASK_ID"] == "launch-1"
    assert env["SOC_BACKEND"] == "embedded"
    compute.stop_task(task, "idle")
    assert compute.list_running() == []
    stopped = wait(lambda: compute.describe([task])[task].last_status == "STOPPED" and
                   compute.describe([task])[task])  # fmt: skip
    assert (stopped.exit_code, stopped.stopped_reason) == (0, "idle")
    assert compute.describe(["local-unknown"]) == {}


def test_a_task_that_ignores_sigterm_is_killed_with_what_it_started(
    compute_for: Callable[[str], ProcessCompute], tmp_path: Path
) -> None:
    compute = compute_for(STUBBORN)
    task = compute.run_task(spec())
    pid_file = tmp_path / "tasks" / task / "child.pid"
    child = int(wait(lambda: pid_file.exists() and pid_file.read_text()))
    compute.stop_task(task, "stop")
    wait(lambda: compute.describe([task])[task].last_status == "STOPPED")
    wait(lambda: gone(child))
    assert compute.describe([task])[task].exit_code == 137


STACK = """
import os, sys, time
from pathlib import Path
from serverless_openclaw.adapters.embedded.compute import ProcessCompute
from serverless_openclaw.ports.compute import LaunchSpec
compute = ProcessCompute(
    [sys.executable, "-c", "import time; time.sleep(300)"],
    tasks_dir=Path(sys.argv[1]), environment={"PATH": os.environ["PATH"]},
)
compute.run_task(LaunchSpec("u1", "l1", "q"))
compute.run_task(LaunchSpec("u2", "l2", "q"))
print(" ".join(map(str, compute.running_pids())), flush=True)
time.sleep(300)
"""


def test_tasks_die_with_a_stack_killed_by_sigkill(tmp_path: Path) -> None:
    stack = subprocess.Popen(
        [sys.executable, "-c", STACK, str(tmp_path / "tasks")],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'src'}"},
    )
    assert stack.stdout is not None
    with stack.stdout:
        pids = [int(p) for p in stack.stdout.readline().split()]
    assert len(pids) == 2
    assert all(not gone(pid) for pid in pids)
    stack.send_signal(signal.SIGKILL)
    stack.wait(10)
    wait(lambda: all(gone(pid) for pid in pids), timeout=10)


def test_leftovers_of_an_earlier_stack_are_reaped(tmp_path: Path) -> None:
    home = tmp_path / "tasks" / "local-old"
    home.mkdir(parents=True)
    leftover = subprocess.Popen(
        ["sleep", "300"], cwd=home, start_new_session=True, env={"HOME": str(home)}
    )
    unrelated = subprocess.Popen(["sleep", "300"], cwd=tmp_path)
    try:
        assert reap_leftovers(tmp_path / "tasks") == [leftover.pid]
        leftover.wait(5)
        assert gone(leftover.pid)
        assert unrelated.poll() is None
    finally:
        unrelated.kill()
        unrelated.wait()


def test_close_waits_for_the_drain_and_a_second_signal_cuts_it_short(
    compute_for: Callable[[str], ProcessCompute],
) -> None:
    import threading

    compute = compute_for(STUBBORN)
    compute.run_task(spec("u1", "l1"))
    compute.run_task(spec("u2", "l2"))
    pids = compute.running_pids()
    force = threading.Event()
    threading.Timer(0.5, force.set).start()
    started = time.monotonic()
    compute.close(timeout_s=60, force=force)
    assert time.monotonic() - started < 10
    assert all(gone(pid) for pid in pids)
