"""Local compute: each agent task is a child process of the local stack (the `Compute` port).

What a container gives a task on ECS, this gives a process:
- its own empty working folder and log file (`<tasks dir>/<task id>/`, `<task id>.log`) and
  the environment the control plane chose (the stack's base environment, then the launch's);
- a process group of its own, so StopTask can reach everything the task started in it: SIGTERM
  to the task, then SIGKILL to the group after `stop_timeout_s`, as ECS does after
  `stopTimeout`;
- death with the stack, however the stack dies: every task process is started with
  `PR_SET_PDEATHSIG` = SIGKILL. The kernel sends it when the *thread* that forked the child
  exits, so all tasks are forked by one long-lived spawner thread, which ends only with the
  process. (The agent's OpenClaw gateway in turn dies with the agent: gateway_process.py.)
- nothing it started outlives it: when the task's main process is gone, its group is killed,
  and so is every process still working or living (HOME) in the task's folder — OpenClaw runs
  in a session of its own, which a group kill does not reach. `reap_leftovers()` does the same
  for a whole tasks folder when the stack starts after a crash.

Task ids are `local-<uuid>` and do not survive the stack: after a restart every row naming an
old task describes as gone, and the watchdog's sweep resets it (and restarts the agent when
jobs wait). A task that somehow outlived its stack is also fenced by its launch id (D12).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from serverless_openclaw.core.errors import StorageUnavailable
from serverless_openclaw.ports.compute import LaunchSpec, TaskInfo

_PR_SET_PDEATHSIG: Final = 1
_PR_SET_CHILD_SUBREAPER: Final = 36
TASK_PREFIX: Final = "local-"


def _linux() -> bool:
    return sys.platform.startswith("linux")


def _prctl(option: int, value: int) -> None:
    if _linux():
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def become_subreaper() -> None:
    """Adopt the orphans of our tasks (Linux), as a container's init would.

    A task's processes that outlive it (OpenClaw runs in a session of its own) would otherwise
    go to PID 1, which in some sandboxes never reaps them: a killed gateway then stays a
    zombie, its pid still "exists", and the next task's OpenClaw takes the lease recorded in
    the restored state as held by a live process and refuses to start.
    """
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)


def processes_inside(directory: Path) -> list[int]:
    """Processes working or living (HOME) in `directory` or below it (Linux /proc; none found
    elsewhere). A task's folder is its own, so these are the task's processes: the OpenClaw
    gateway works in the user's state folder but its HOME is the task's."""
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    root = str(directory.resolve())

    def inside(path: str) -> bool:
        return path == root or path.startswith(root + os.sep)

    found: list[int] = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        homes = [v[5:].decode(errors="replace") for v in environ if v.startswith(b"HOME=")]
        if inside(cwd) or any(inside(home) for home in homes):
            found.append(int(entry.name))
    return found


def end_all(pids: Sequence[int], timeout_s: float = 5.0) -> None:
    """SIGKILL `pids` and reap those that are (or become, once orphaned) our children."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    pending = set(pids)
    deadline = time.monotonic() + timeout_s
    while pending and time.monotonic() < deadline:
        for pid in list(pending):
            try:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    pending.discard(pid)
            except ChildProcessError:
                # Not our child: gone already, or adopted by us only when its parent dies.
                if not Path(f"/proc/{pid}").exists():
                    pending.discard(pid)
        time.sleep(0.05)


def reap_leftovers(tasks_dir: Path) -> list[int]:
    """Kill what an earlier stack's tasks left running (a crash of the stack, before
    PDEATHSIG existed or where the platform has none). Returns the pids it ended."""
    pids = processes_inside(tasks_dir) if tasks_dir.exists() else []
    end_all(pids)
    return pids


def _die_with(parent: int) -> Callable[[], None]:
    def preexec() -> None:
        """In the child, before exec: SIGKILL when the spawner thread (= the stack) ends;
        if the stack is already gone, do not start at all."""
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:
            os._exit(70)

    return preexec


@dataclass
class _Task:
    task_id: str
    spec: LaunchSpec
    environment: dict[str, str]
    log_path: Path
    work_dir: Path
    process: subprocess.Popen[bytes] | None = None
    started_at: datetime | None = None
    desired_status: str = "RUNNING"
    last_status: str = "PROVISIONING"
    stopped_reason: str | None = None
    exit_code: int | None = None
    stopping: bool = False

    def info(self) -> TaskInfo:
        return TaskInfo(
            arn=self.task_id,
            last_status=self.last_status,
            desired_status=self.desired_status,
            user_id=self.spec.user_id,
            launch_id=self.spec.launch_id,
            started_at=self.started_at,
            stopped_reason=self.stopped_reason,
            exit_code=self.exit_code,
            environment=dict(self.environment),
        )


def _describe_on_disk(task: _Task, pid: int) -> None:
    """`<task dir>/task.json`: which user and launch a folder belongs to, for a person (or a
    test) looking at the tasks folder after the fact — task ids do not outlive the stack."""
    record = {
        "taskId": task.task_id,
        "userId": task.spec.user_id,
        "launchId": task.spec.launch_id,
        "createdAt": time.time(),
        "pid": pid,
    }
    tmp = task.work_dir / "task.json.tmp"
    tmp.write_text(json.dumps(record))
    tmp.replace(task.work_dir / "task.json")


@dataclass
class _SpawnRequest:
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    log_path: Path
    result: Future[subprocess.Popen[bytes]] = field(default_factory=Future)


class ProcessCompute:
    """Implements `ports.compute.Compute`. Call `close()` to stop every task."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        tasks_dir: Path,
        environment: Mapping[str, str],
        stop_timeout_s: float = 60.0,
        keep_stopped: int = 200,
    ) -> None:
        self.command = list(command)
        self.tasks_dir = tasks_dir
        self.environment = dict(environment)
        self.stop_timeout_s = stop_timeout_s
        self.keep_stopped = keep_stopped
        self.launches = 0
        """How many tasks were started (tests count launches with it)."""
        self._tasks: dict[str, _Task] = {}
        self._lock = threading.Lock()
        self._requests: queue.Queue[_SpawnRequest | None] = queue.Queue()
        self._spawner = threading.Thread(target=self._spawn_loop, name="task-spawner", daemon=True)
        self._spawner.start()
        become_subreaper()

    # --- the spawner thread ----------------------------------------------------------------
    def _spawn_loop(self) -> None:
        parent = os.getpid()
        while (request := self._requests.get()) is not None:
            try:
                with open(request.log_path, "ab") as log:
                    process = subprocess.Popen(
                        request.argv,
                        env=request.env,
                        cwd=request.cwd,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                        preexec_fn=_die_with(parent),
                    )
            except OSError as exc:
                request.result.set_exception(exc)
            else:
                request.result.set_result(process)
        # Returning ends the thread: PDEATHSIG kills whatever it started. Only close() gets here.

    # --- Compute ---------------------------------------------------------------------------
    def run_task(self, spec: LaunchSpec) -> str:
        if not self._spawner.is_alive():
            raise StorageUnavailable("local compute is closed")
        task_id = f"{TASK_PREFIX}{uuid.uuid4().hex}"
        work_dir = self.tasks_dir / task_id
        work_dir.mkdir(parents=True, exist_ok=True)
        env = {**self.environment, **spec.environment()}
        task = _Task(task_id, spec, spec.environment(), self.tasks_dir / f"{task_id}.log", work_dir)
        request = _SpawnRequest(self.command, env, work_dir, task.log_path)
        self._requests.put(request)
        try:
            process = request.result.result(timeout=30)
        except (OSError, TimeoutError) as exc:
            raise StorageUnavailable(f"the agent task could not start: {exc}") from exc
        _describe_on_disk(task, process.pid)
        with self._lock:
            self.launches += 1
            task.process = process
            task.last_status = "RUNNING"
            task.started_at = datetime.now(UTC)
            self._tasks[task_id] = task
            self._forget_old()
        threading.Thread(
            target=self._reap, args=(task,), name=f"reap-{task_id[6:14]}", daemon=True
        ).start()
        return task_id

    def stop_task(self, task_arn: str, reason: str) -> None:
        with self._lock:
            task = self._tasks.get(task_arn)
            if task is None or task.desired_status == "STOPPED":
                return
            task.desired_status = "STOPPED"
            task.stopped_reason = reason
            if task.last_status == "RUNNING":
                task.last_status = "DEACTIVATING"
        self._terminate(task)

    def describe(self, task_arns: Sequence[str]) -> dict[str, TaskInfo]:
        with self._lock:
            return {arn: self._tasks[arn].info() for arn in task_arns if arn in self._tasks}

    def list_running(self) -> list[str]:
        with self._lock:
            return [t.task_id for t in self._tasks.values() if t.desired_status == "RUNNING"]

    # --- lifecycle -------------------------------------------------------------------------
    def running_pids(self) -> list[int]:
        with self._lock:
            return [
                t.process.pid
                for t in self._tasks.values()
                if t.process is not None and t.process.poll() is None
            ]

    def close(self, timeout_s: float | None = None, force: threading.Event | None = None) -> None:
        """SIGTERM every task, wait up to `timeout_s` (default: the stop timeout) for them to
        finish their turn and back up — less if `force` is set meanwhile — then SIGKILL what
        is left. Idempotent."""
        with self._lock:
            tasks = [t for t in self._tasks.values() if t.process is not None]
            for task in tasks:
                if task.desired_status != "STOPPED":
                    task.desired_status = "STOPPED"
                    task.stopped_reason = "the local stack stopped"
        for task in tasks:
            self._signal(task, signal.SIGTERM, group=False)
        deadline = time.monotonic() + (self.stop_timeout_s if timeout_s is None else timeout_s)
        for task in tasks:
            assert task.process is not None
            while task.process.poll() is None:
                if time.monotonic() >= deadline or (force is not None and force.is_set()):
                    self._kill(task)
                    task.process.wait()
                    break
                with contextlib.suppress(subprocess.TimeoutExpired):
                    task.process.wait(0.1)
        self._requests.put(None)

    def kill_all(self) -> None:
        """SIGKILL every task at once (a second Ctrl+C)."""
        with self._lock:
            tasks = [t for t in self._tasks.values() if t.process is not None]
        for task in tasks:
            self._kill(task)

    # --- internals -------------------------------------------------------------------------
    def _terminate(self, task: _Task) -> None:
        if task.process is None or task.process.poll() is not None or task.stopping:
            return
        task.stopping = True
        self._signal(task, signal.SIGTERM, group=False)

        def kill_later() -> None:
            assert task.process is not None
            try:
                task.process.wait(self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                self._kill(task)

        threading.Thread(target=kill_later, name=f"stop-{task.task_id[6:14]}", daemon=True).start()

    def _kill(self, task: _Task) -> None:
        self._signal(task, signal.SIGKILL, group=True)
        end_all(processes_inside(task.work_dir), timeout_s=2.0)

    @staticmethod
    def _signal(task: _Task, sig: signal.Signals, *, group: bool) -> None:
        if task.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if group:
                os.killpg(task.process.pid, sig)
            else:
                task.process.send_signal(sig)

    def _reap(self, task: _Task) -> None:
        assert task.process is not None
        code = task.process.wait()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(task.process.pid, signal.SIGKILL)  # whatever the task left behind
        end_all(processes_inside(task.work_dir))
        with self._lock:
            task.exit_code = 128 - code if code < 0 else code  # as Docker reports signals
            task.last_status = task.desired_status = "STOPPED"
            if task.stopped_reason is None:
                task.stopped_reason = "Essential container in task exited"

    def _forget_old(self) -> None:
        stopped = [t for t in self._tasks.values() if t.last_status == "STOPPED"]
        for task in stopped[: max(0, len(stopped) - self.keep_stopped)]:
            del self._tasks[task.task_id]
