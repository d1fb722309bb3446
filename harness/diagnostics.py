"""What a failed test on a dev stack prints, short enough to survive CI's cut output.

CI keeps only the head and the tail of a long failure, so the digest drops what never
explains a failure (the banner, metric lines, library warnings, INFO chatter), writes each
JSON log line as one short line, and ends with what matters most: each person's task row
and the lifecycle of their agent tasks.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

LINE_CHARS = 260
"""A digest line's length at most (a traceback's frame or a log message still fits)."""

_NOISE = ("PowertoolsUserWarning", "UserWarning", "self.provider.", "self.flush_metrics(")
"""Library warnings every Lambda invocation prints (and the source line after each)."""

_KEPT_INFO = frozenset({"watchdog action", "starting agent"})
"""INFO lines of the stack log that a failure may turn on: who was woken, and why."""

_KEPT_FIELDS = ("user_id", "action", "reason", "state", "error", "launch_id")
"""Fields of a handler's structured line worth showing beside its message."""


def log_record(line: str) -> dict[str, Any] | None:
    """A JSON log line as its record (None for any other line: banners, tracebacks)."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def compact(line: str) -> str:
    """One log line, short: time of day, level, logger and message (JSON lines), or the
    line itself cut to LINE_CHARS."""
    record = log_record(line)
    if record is None:
        return line.rstrip()[:LINE_CHARS]
    when = str(record.get("ts") or record.get("timestamp") or "")
    clock = when[11:23] if len(when) >= 23 else when
    level = str(record.get("level", "?"))[:4]
    source = str(record.get("logger") or record.get("function_name") or "").rsplit(".", 1)[-1]
    message = str(record.get("msg") or record.get("message") or "")
    extra = " ".join(f"{k}={record[k]}" for k in _KEPT_FIELDS if record.get(k) is not None)
    return f"{clock} {level} {source}: {message} {extra}".rstrip()[:LINE_CHARS]


def _is_said(line: str) -> bool:
    """A stack log line that may explain a failure."""
    stripped = line.strip()
    if not stripped or stripped[0] in "•│╭╰" or stripped.startswith('{"_aws"'):
        return False
    if any(noise in stripped for noise in _NOISE):
        return False
    record = log_record(stripped)
    if record is None:
        return True
    level = str(record.get("level", ""))
    return level not in ("INFO", "DEBUG") or record.get("message") in _KEPT_INFO


def stack_log_digest(path: Path, lines: int = 25) -> str:
    """The last `lines` lines of the stack's log that say something: warnings, errors,
    tracebacks, the agents started and the watchdog's actions."""
    if not path.exists():
        return f"--- {path.name}: missing"
    raw = path.read_text(errors="replace").splitlines()
    kept = [compact(line) for line in raw if _is_said(line)]
    title = f"--- {path.name} (warnings, errors, wakes, watchdog actions; last {lines})"
    return "\n".join([title, *kept[-lines:]])


def _is_lifecycle(line: str) -> bool:
    """An agent task's line about where it is: phases, stops, and all that is not INFO."""
    return '"level": "INFO"' not in line or "phase" in line or "stop" in line or "running" in line


def task_log_digest(path: Path, lines: int = 12) -> str:
    """An agent task's log: when it was written, its size, its lifecycle lines."""
    text = path.read_text(errors="replace")
    written = datetime.fromtimestamp(path.stat().st_mtime).strftime("%H:%M:%S")
    kept = [compact(line) for line in text.splitlines() if _is_lifecycle(line)]
    head = f"  task {path.stem[:12]}: {len(text)} bytes, last written {written}"
    return "\n".join([head, *("    " + line for line in kept[-lines:])])


def person_digest(
    email: str,
    user_id: str,
    row: Mapping[str, Any] | str,
    task_logs: Iterable[Path],
    lines: int = 12,
) -> str:
    """A person's task-state row (or why it could not be read) and their tasks' logs."""
    if isinstance(row, str):
        shown = row
    else:
        fields = ("state", "phase", "launchId", "taskArn", "wakePending", "lastError")
        shown = ", ".join(
            f"{k}={str(row[k]).rsplit('/', 1)[-1]}" for k in fields if row.get(k) is not None
        )
    logs = [task_log_digest(path, lines) for path in task_logs]
    return "\n".join(
        [
            f"--- person {user_id[:12]} ({email}): {shown or 'no task row (idle)'}",
            *(logs or ["  no agent task of theirs wrote a line"]),
        ]
    )
