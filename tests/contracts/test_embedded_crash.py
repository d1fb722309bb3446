"""Crash-safety of the embedded family, tested the way it fails: processes killed with
SIGKILL in the middle of their writes, and a producer and a consumer on one inbox at once.

Every write a child printed was acknowledged to it (the call had returned), so after the
kill it must be there, and the database must be intact. Marked `faults` (kills): they start
processes and take a few seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from serverless_openclaw.adapters.embedded import BlobDirectory, EmbeddedPorts

pytestmark = pytest.mark.faults

CHILD = Path(__file__).with_name("_embedded_child.py")
SRC = Path(__file__).resolve().parents[2] / "src"


def _spawn(*args: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen(
        [sys.executable, str(CHILD), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _acks_then_kill(child: subprocess.Popen[str], count: int, timeout: float = 60) -> list[str]:
    """Read acknowledgements until `count`, then SIGKILL the child mid-write."""
    assert child.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while len(lines) < count and time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        lines.append(line.strip())
    child.send_signal(signal.SIGKILL)
    _, errors = child.communicate(timeout=10)  # reaps it and closes the pipes
    assert len(lines) >= count, errors
    return lines


def _drain(ports: EmbeddedPorts) -> list[str]:
    consumer = ports.inbox_consumer(ports.inbox().queue_url("u1"))
    job_ids: list[str] = []
    while received := consumer.receive(max_messages=10, wait_seconds=0):
        for delivery in received:
            assert delivery.job is not None
            job_ids.append(delivery.job.jobId)
            consumer.delete(delivery.receipt_handle)
    return job_ids


def test_every_acknowledged_write_survives_kill_9(tmp_path: Path) -> None:
    root = tmp_path / "state"
    acks: list[list[str]] = []
    for round_ in range(3):  # three kills at whatever point each child reached
        child = _spawn("writes", str(root), str(round_ * 100_000))
        acks.extend(line.split() for line in _acks_then_kill(child, 40 + 17 * round_))

    ports = EmbeddedPorts(root)
    try:
        assert ports.db.integrity_check() == "ok"
        conversations = ports.conversations()
        for kind, *rest in acks:
            if kind == "message":
                assert conversations.has_message("u1", "main", rest[0]), rest[0]
        queued = _drain(ports)
        sent = [rest[0] for kind, *rest in acks if kind == "job"]
        assert set(sent) <= set(queued)
        assert queued == sorted(queued)  # FIFO, whatever the kills
        assert len(set(queued)) == len(queued)
        assert len(queued) - len(sent) <= 3  # at most the write each kill interrupted
        blobs = ports.state_blobs("agents/u1/")
        for kind, *rest in acks:
            if kind == "blob":
                version, n = rest
                target = tmp_path / "restored"
                blobs.download(f"state-{n}.bin", target, version)
                assert target.read_bytes() == f"blob {n}\n".encode() * 2000
        for key_dir in (root / "blobs").glob("*/*"):  # acknowledged or not: never partial
            if not BlobDirectory.versions(key_dir):
                continue  # killed before its first version appeared
            n = (key_dir / "key").read_text().removeprefix("files/state-").removesuffix(".bin")
            target = tmp_path / "current"
            blobs.download(f"state-{n}.bin", target, None)
            assert target.read_bytes() == f"blob {n}\n".encode() * 2000
    finally:
        ports.close()
    leftovers = list((root / "blobs").rglob(".tmp-*"))
    assert len(leftovers) <= 3  # a kill mid-upload leaves its temp file until the next write


def test_a_producer_and_a_consumer_process_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    root = tmp_path / "state"
    EmbeddedPorts(root).close()  # the schema, before two processes race to make it
    count = 150
    consumer = _spawn("consume", str(root), str(count))
    assert consumer.stdout is not None
    assert consumer.stdout.readline().strip() == "ready"
    producer = _spawn("produce", str(root), str(count))
    produced, _ = producer.communicate(timeout=120)
    consumed, errors = consumer.communicate(timeout=120)
    assert producer.returncode == 0 and consumer.returncode == 0, errors
    sent = [line.split()[1] for line in produced.splitlines()]
    got = [line.split() for line in consumed.splitlines() if line.startswith("got")]
    assert [job_id for _, job_id, _ in got] == sent  # each once, in order
    assert {count for _, _, count in got} == {"1"}  # none delivered twice
