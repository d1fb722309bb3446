"""The digest a failed dev-stack test prints (harness/diagnostics.py): CI keeps only the head
and tail of a long failure, so what explains one must survive in a few short lines."""

from __future__ import annotations

import json
from pathlib import Path

from harness.diagnostics import person_digest, stack_log_digest, task_log_digest


def _line(**record: object) -> str:
    return json.dumps(record)


def test_the_stack_log_digest_keeps_what_explains_a_failure_and_drops_the_chatter(
    tmp_path: Path,
) -> None:
    log = tmp_path / "dev-1.log"
    log.write_text(
        "\n".join(
            [
                "• state in /tmp/x (backend: aws)",
                "│ Sign in as me@example.com with password secret │",
                '{"_aws": {"Timestamp": 1}, "Invocations": [1.0]}',
                "/venv/metrics.py:129: PowertoolsUserWarning: Dimension 'handler' added.",
                "  self.provider.add_dimension(name=name, value=value)",
                _line(level="INFO", message="watchdog done", timestamp="2026-12-01 04:52:00,1"),
                _line(
                    level="INFO",
                    message="watchdog action",
                    timestamp="2026-12-01 04:52:47,123+0000",
                    function_name="watchdog",
                    user_id="u-1",
                    action="stop",
                    reason="idle",
                ),
                _line(
                    level="INFO",
                    message="starting agent",
                    timestamp="2026-12-01 04:52:05,000+0000",
                    user_id="u-2",
                    reason="telegram message",
                ),
                _line(level="ERROR", message="unhandled error", timestamp="2026-12-01 04:53:00,5"),
                "Traceback (most recent call last):",
                "KeyError: 'taskArn'",
            ]
        )
    )
    digest = stack_log_digest(log)
    assert "04:52:47,123 INFO watchdog: watchdog action user_id=u-1 action=stop reason=idle" in (
        digest
    )
    assert "starting agent user_id=u-2 reason=telegram message" in digest
    assert "unhandled error" in digest and "KeyError: 'taskArn'" in digest
    for chatter in ("password", "_aws", "PowertoolsUserWarning", "add_dimension", "done"):
        assert chatter not in digest


def test_a_person_digest_shows_their_row_and_the_phases_of_their_tasks(tmp_path: Path) -> None:
    task = tmp_path / "0123456789abcdef.log"
    lines = [
        _line(ts="2026-12-01T04:52:06.100+00:00", level="INFO", logger="a.reporter", msg=msg)
        for msg in (
            "phase: restoring memory",
            "backup (after turn): 4 uploaded",
            "phase: starting OpenClaw",
        )
    ]
    task.write_text("\n".join([*lines, "node: out of memory"]) + "\n")
    digest = person_digest(
        "a@example.com",
        "da4ff20f-2c6e-4b1a",
        {"state": "starting", "phase": "starting OpenClaw", "taskArn": "arn:aws:ecs:t/c/0123"},
        [task],
    )
    assert digest.startswith("--- person da4ff20f-2c6 (a@example.com): state=starting")
    assert "taskArn=0123" in digest
    assert "04:52:06.100 INFO reporter: phase: starting OpenClaw" in digest
    assert "node: out of memory" in digest, "lines that are not INFO are lifecycle too"
    assert "backup" not in digest
    assert "task 0123456789ab" in task_log_digest(task)


def test_a_person_without_tasks_or_a_readable_row_is_said_so(tmp_path: Path) -> None:
    digest = person_digest("b@example.com", "b-1", "task row unreadable (OSError)", [])
    assert "task row unreadable" in digest
    assert "no agent task of theirs wrote a line" in digest
