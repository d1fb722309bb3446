"""A local ECS: the JSON API subset the control plane uses, running each task as a process.

Speaks `X-Amz-Target: AmazonEC2ContainerServiceV20141113.{RunTask,StopTask,DescribeTasks,
ListTasks}` (awsJson1.1), so `aws/compute.py::EcsCompute` works unchanged with
`AWS_ENDPOINT_URL_ECS` pointing here. Each RunTask starts `command` as a child process with
the environment a Fargate container would get: the base environment (this process's, so it
reaches the same moto), the task definition's variables, then the container overrides. Its
output goes to `<log_dir>/<task id>.log`.

StopTask sends SIGTERM and, like ECS after `stopTimeout`, SIGKILL to the process group if it
is still there after `stop_timeout_s`. DescribeTasks reflects the exit: lastStatus STOPPED,
stoppedReason, stopCode and the container's exit code.

When a task's main process is gone, so is everything it started, as when a container stops:
its process group, and every process still working inside the task's own folder (the agent
runs OpenClaw in a session of its own, which a process-group kill does not reach; left
running, it would keep the restored state's database lease and block the next task).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from serverless_openclaw.adapters.embedded.compute import (
    become_subreaper,
    end_all,
    processes_inside,
)
from serverless_openclaw.settings import environ_snapshot

__all__ = ["EcsApiError", "EcsEmulator", "TaskDefinition", "processes_inside"]

TARGET_PREFIX: Final = "AmazonEC2ContainerServiceV20141113."
ACCOUNT: Final = "000000000000"
CONTENT_TYPE: Final = "application/x-amz-json-1.1"


@dataclass(frozen=True)
class TaskDefinition:
    """What the emulator runs for one task definition (family or ARN)."""

    command: Sequence[str]
    environment: Mapping[str, str] = field(default_factory=dict)
    container_name: str = "agent"
    cwd: Path | None = None


class EcsApiError(Exception):
    def __init__(self, kind: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status


@dataclass
class _Task:
    arn: str
    cluster_arn: str
    definition_arn: str
    container_name: str
    started_by: str | None
    group: str | None
    overrides: dict[str, Any]
    capacity_provider: str | None
    log_path: Path
    created_at: float
    own_dir: Path | None = None
    """The task's own working folder (None when the task definition names a shared one)."""
    process: subprocess.Popen[bytes] | None = None
    last_status: str = "PROVISIONING"
    desired_status: str = "RUNNING"
    started_at: float | None = None
    stopping_at: float | None = None
    stopped_at: float | None = None
    stopped_reason: str | None = None
    stop_code: str | None = None
    exit_code: int | None = None

    def as_json(self) -> dict[str, Any]:
        container: dict[str, Any] = {
            "containerArn": f"{self.arn.replace(':task/', ':container/')}/{self.container_name}",
            "taskArn": self.arn,
            "name": self.container_name,
            "lastStatus": self.last_status,
        }
        if self.exit_code is not None:
            container["exitCode"] = self.exit_code
        if self.process is not None:
            container["runtimeId"] = str(self.process.pid)
        task: dict[str, Any] = {
            "taskArn": self.arn,
            "clusterArn": self.cluster_arn,
            "taskDefinitionArn": self.definition_arn,
            "lastStatus": self.last_status,
            "desiredStatus": self.desired_status,
            "launchType": "FARGATE",
            "platformVersion": "1.4.0",
            "cpu": "1024",
            "memory": "2048",
            "createdAt": self.created_at,
            "overrides": self.overrides,
            "containers": [container],
        }
        optional = {
            "capacityProviderName": self.capacity_provider,
            "startedBy": self.started_by,
            "group": self.group,
            "startedAt": self.started_at,
            "stoppingAt": self.stopping_at,
            "stoppedAt": self.stopped_at,
            "executionStoppedAt": self.stopped_at,
            "stoppedReason": self.stopped_reason,
            "stopCode": self.stop_code,
        }
        task.update({k: v for k, v in optional.items() if v is not None})
        return task


def _body(raw: bytes) -> dict[str, Any]:
    body = json.loads(raw or b"{}")
    if not isinstance(body, dict):
        raise EcsApiError("ClientException", "request body must be an object")
    return body


def _unknown(target: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def refuse(body: dict[str, Any]) -> dict[str, Any]:
        raise EcsApiError("InvalidAction", f"operation {target!r} is not emulated")

    return refuse


def _override_env(overrides: Mapping[str, Any], container: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in overrides.get("containerOverrides", []) or []:
        if isinstance(item, dict) and item.get("name") == container:
            for pair in item.get("environment", []) or []:
                if isinstance(pair, dict) and "name" in pair:
                    env[str(pair["name"])] = str(pair.get("value", ""))
    return env


class EcsEmulator:
    """The emulator's state and its Starlette `app`. Call `close()` to stop every task."""

    def __init__(
        self,
        *,
        default: TaskDefinition,
        task_definitions: Mapping[str, TaskDefinition] | None = None,
        log_dir: Path,
        region: str = "us-east-1",
        stop_timeout_s: float = 30.0,
        base_env: Callable[[], dict[str, str]] = environ_snapshot,
    ) -> None:
        self.default = default
        self.task_definitions = dict(task_definitions or {})
        self.log_dir = log_dir
        self.region = region
        self.stop_timeout_s = stop_timeout_s
        self._base_env = base_env
        self._tasks: dict[str, _Task] = {}
        self._lock = threading.Lock()
        self.run_task_calls = 0
        """How many RunTask requests arrived (tests count launches with it)."""
        self.app = Starlette(routes=[Route("/", self._endpoint, methods=["POST"])])
        become_subreaper()

    # --- HTTP ------------------------------------------------------------------------------
    async def _endpoint(self, request: Request) -> Response:
        target = request.headers.get("x-amz-target", "")
        try:
            body = _body(await request.body())
            operation = (
                target.removeprefix(TARGET_PREFIX) if target.startswith(TARGET_PREFIX) else ""
            )
            handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
                "RunTask": self.run_task,
                "StopTask": self.stop_task,
                "DescribeTasks": self.describe_tasks,
                "ListTasks": self.list_tasks,
            }
            answer = handlers.get(operation, _unknown(target))(body)
        except EcsApiError as exc:
            return JSONResponse(
                {"__type": exc.kind, "message": str(exc)},
                status_code=exc.status,
                media_type=CONTENT_TYPE,
            )
        except ValueError:
            return JSONResponse(
                {"__type": "SerializationException", "message": "malformed JSON"},
                status_code=400,
                media_type=CONTENT_TYPE,
            )
        return JSONResponse(answer, media_type=CONTENT_TYPE)

    # --- operations ------------------------------------------------------------------------
    def _cluster_arn(self, cluster: str | None) -> str:
        name = cluster or "default"
        if name.startswith("arn:"):
            return name
        return f"arn:aws:ecs:{self.region}:{ACCOUNT}:cluster/{name}"

    def _definition(self, name: str) -> tuple[str, TaskDefinition]:
        family = (
            name.split("/")[-1].split(":")[0] if name.startswith("arn:") else name.split(":")[0]
        )
        spec = self.task_definitions.get(name) or self.task_definitions.get(family) or self.default
        revision = name.split(":")[-1] if ":" in name and not name.startswith("arn:") else "1"
        arn = (
            name
            if name.startswith("arn:")
            else (f"arn:aws:ecs:{self.region}:{ACCOUNT}:task-definition/{family}:{revision}")
        )
        return arn, spec

    def run_task(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.run_task_calls += 1
        definition = body.get("taskDefinition")
        if not isinstance(definition, str) or not definition:
            raise EcsApiError("ClientException", "taskDefinition is required")
        count = body.get("count", 1)
        if not isinstance(count, int) or not 1 <= count <= 10:
            raise EcsApiError("InvalidParameterException", "count must be between 1 and 10")
        if body.get("launchType") and body.get("capacityProviderStrategy"):
            raise EcsApiError(
                "InvalidParameterException",
                "Specifying both a launch type and capacity provider strategy is not supported.",
            )
        strategy = body.get("capacityProviderStrategy") or []
        provider = strategy[0].get("capacityProvider") if strategy else None
        if provider not in (None, "FARGATE", "FARGATE_SPOT"):
            raise EcsApiError("InvalidParameterException", f"unknown capacity provider {provider}")
        started_by = body.get("startedBy")
        if started_by is not None and (not isinstance(started_by, str) or len(started_by) > 36):
            raise EcsApiError("InvalidParameterException", "startedBy is at most 36 characters")
        overrides = body.get("overrides") or {}
        if not isinstance(overrides, dict):
            raise EcsApiError("ClientException", "overrides must be an object")
        definition_arn, spec = self._definition(definition)
        cluster_arn = self._cluster_arn(body.get("cluster"))
        tasks = [
            self._start(cluster_arn, definition_arn, spec, overrides, started_by, body, provider)
            for _ in range(count)
        ]
        return {"tasks": [t.as_json() for t in tasks], "failures": []}

    def _start(
        self,
        cluster_arn: str,
        definition_arn: str,
        spec: TaskDefinition,
        overrides: dict[str, Any],
        started_by: str | None,
        body: dict[str, Any],
        provider: str | None,
    ) -> _Task:
        task_id = uuid.uuid4().hex
        cluster = cluster_arn.split("/")[-1]
        self.log_dir.mkdir(parents=True, exist_ok=True)
        task = _Task(
            arn=f"arn:aws:ecs:{self.region}:{ACCOUNT}:task/{cluster}/{task_id}",
            cluster_arn=cluster_arn,
            definition_arn=definition_arn,
            container_name=spec.container_name,
            started_by=started_by,
            group=body.get("group"),
            overrides=overrides,
            capacity_provider=provider,
            log_path=self.log_dir / f"{task_id}.log",
            created_at=time.time(),
        )
        env = {
            **self._base_env(),
            **spec.environment,
            **_override_env(overrides, spec.container_name),
        }
        # Like a container, every task starts in an empty folder of its own.
        workdir = spec.cwd or self.log_dir / task_id
        workdir.mkdir(parents=True, exist_ok=True)
        task.own_dir = None if spec.cwd else workdir
        with open(task.log_path, "ab") as log:
            try:
                task.process = subprocess.Popen(
                    list(spec.command),
                    env=env,
                    cwd=workdir,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as exc:
                task.last_status = task.desired_status = "STOPPED"
                task.stopped_at = time.time()
                task.stop_code = "TaskFailedToStart"
                task.stopped_reason = f"CannotStartContainerError: {exc}"
        if task.process is not None:
            task.last_status = "RUNNING"
            task.started_at = time.time()
            threading.Thread(
                target=self._reap, args=(task,), name=f"ecs-task-{task_id[:8]}", daemon=True
            ).start()
        with self._lock:
            self._tasks[task.arn] = task
        return task

    def _reap(self, task: _Task) -> None:
        assert task.process is not None
        code = task.process.wait()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(task.process.pid, signal.SIGKILL)  # whatever the container left behind
        if task.own_dir is not None:
            end_all(processes_inside(task.own_dir))
        with self._lock:
            task.exit_code = 128 - code if code < 0 else code  # as Docker reports signals
            task.last_status = "STOPPED"
            task.desired_status = "STOPPED"
            task.stopped_at = time.time()
            if task.stop_code is None:
                task.stop_code = "EssentialContainerExited"
                task.stopped_reason = "Essential container in task exited"

    def _find(self, arn_or_id: str) -> _Task:
        with self._lock:
            task = self._tasks.get(arn_or_id)
            if task is None:
                for candidate in self._tasks.values():
                    if candidate.arn.rsplit("/", 1)[-1] == arn_or_id:
                        task = candidate
        if task is None:
            raise EcsApiError("InvalidParameterException", "The referenced task was not found.")
        return task

    def stop_task(self, body: dict[str, Any]) -> dict[str, Any]:
        ref = body.get("task")
        if not isinstance(ref, str) or not ref:
            raise EcsApiError("ClientException", "task is required")
        task = self._find(ref)
        reason = body.get("reason") or "Task stopped by user"
        with self._lock:
            already = task.desired_status == "STOPPED"
            if not already:
                task.desired_status = "STOPPED"
                task.stopping_at = time.time()
                task.stop_code = "UserInitiated"
                task.stopped_reason = str(reason)
                if task.last_status == "RUNNING":
                    task.last_status = "DEACTIVATING"
        if not already and task.process is not None and task.process.poll() is None:
            self._signal(task, signal.SIGTERM, group=False)
            threading.Thread(
                target=self._kill_after, args=(task,), name="ecs-stop", daemon=True
            ).start()
        return {"task": task.as_json()}

    def _signal(self, task: _Task, sig: signal.Signals, *, group: bool) -> None:
        assert task.process is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if group:
                os.killpg(task.process.pid, sig)
            else:
                task.process.send_signal(sig)

    def _kill_after(self, task: _Task) -> None:
        assert task.process is not None
        try:
            task.process.wait(self.stop_timeout_s)
        except subprocess.TimeoutExpired:
            self._signal(task, signal.SIGKILL, group=True)

    def describe_tasks(self, body: dict[str, Any]) -> dict[str, Any]:
        refs = body.get("tasks")
        if not isinstance(refs, list) or not refs or len(refs) > 100:
            raise EcsApiError("InvalidParameterException", "tasks must list 1 to 100 tasks")
        found: list[dict[str, Any]] = []
        failures: list[dict[str, str]] = []
        for ref in refs:
            try:
                task = self._find(str(ref))
            except EcsApiError:
                failures.append({"arn": str(ref), "reason": "MISSING"})
                continue
            with self._lock:
                found.append(task.as_json())
        return {"tasks": found, "failures": failures}

    def list_tasks(self, body: dict[str, Any]) -> dict[str, Any]:
        cluster_arn = self._cluster_arn(body.get("cluster"))
        desired = body.get("desiredStatus") or "RUNNING"
        started_by = body.get("startedBy")
        family = body.get("family")
        with self._lock:
            arns = [
                t.arn
                for t in self._tasks.values()
                if t.cluster_arn == cluster_arn
                and t.desired_status == desired
                and (started_by is None or t.started_by == started_by)
                and (family is None or f"task-definition/{family}:" in t.definition_arn)
            ]
        return {"taskArns": arns}

    # --- lifecycle -------------------------------------------------------------------------
    def running_processes(self) -> list[int]:
        with self._lock:
            return [
                t.process.pid
                for t in self._tasks.values()
                if t.process is not None and t.process.poll() is None
            ]

    def close(self, timeout_s: float = 5.0) -> None:
        """SIGTERM every task, then SIGKILL what is left after `timeout_s`."""
        with self._lock:
            tasks = [t for t in self._tasks.values() if t.process is not None]
        for task in tasks:
            if task.process is not None and task.process.poll() is None:
                self._signal(task, signal.SIGTERM, group=False)
        deadline = time.monotonic() + timeout_s
        for task in tasks:
            assert task.process is not None
            try:
                task.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._signal(task, signal.SIGKILL, group=True)
                task.process.wait()
