"""turn_backup: what the per-turn state backup adds to a turn, with the real OpenClaw.

The real supervisor runs the pinned OpenClaw (offline model) on the memory adapters; with
`--moto` the state goes to a versioned bucket on a local moto server over HTTP instead, as
the aws adapter writes it; with `--embedded` everything is the local product's embedded
backend (SQLite, fsynced blob files). N turns are sent one after the other; each turn
records how long its answer waited for the backup (`/status` turns[].backup_s). Not a suite
of `python -m bench`: a one-off figure, `python -m bench.turn_backup [TURNS] [--moto | --embedded]`.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from serverless_openclaw.adapters.embedded import EmbeddedPorts
from serverless_openclaw.adapters.memory import MemoryPorts
from serverless_openclaw.agent.supervisor import Supervisor
from serverless_openclaw.contracts.jobs import ChatJob, WebReplyTo
from serverless_openclaw.core.task_state import Launched, Wake
from serverless_openclaw.local.offline_model import create_app
from serverless_openclaw.local.serve import serve_in_thread
from serverless_openclaw.loopback import free_port
from serverless_openclaw.runtime.installer import install
from serverless_openclaw.settings import AgentSettings, ModelSettings

USER = "u-bench-backup"


def _moto_blobs(ports: MemoryPorts) -> subprocess.Popen[bytes]:
    import boto3

    from serverless_openclaw.adapters.aws.provision import create_state_bucket
    from serverless_openclaw.adapters.aws.state_bucket import StateBucket

    port = free_port()
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(3)
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
    s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1")
    create_state_bucket(s3, "bench-state", "us-east-1")

    def bucket(prefix: str) -> StateBucket:
        return StateBucket(s3, "bench-state", prefix)

    ports.state_blobs = bucket  # type: ignore[method-assign,assignment]
    return moto


async def run(turns: int, blobs: str) -> dict[str, Any]:
    model = serve_in_thread(create_app())
    root = Path(tempfile.mkdtemp(prefix="soc-bench-backup-"))
    ports: Any = EmbeddedPorts(root / "db") if blobs == "embedded" else MemoryPorts()
    server = _moto_blobs(ports) if blobs == "moto S3" else None
    now = datetime.now(UTC)
    launch = uuid.uuid4().hex
    ports.task_state().transition(USER, Wake(launch, now))
    ports.task_state().transition(USER, Launched(launch, "arn:bench", now))
    settings = AgentSettings(
        user_id=USER,
        inbox_queue_url=ports.inbox().queue_url(USER),
        state_prefix=f"agents/{USER}/",
        work_dir=root / "work",
        agent_state_root=root / "agents",
        task_id=launch,
        health_port=0,
        gateway_port=0,
        prewarm_port=0,
        sync_interval_seconds=3600,
        model=ModelSettings(model_provider="offline", model_base_url=f"{model.url}/v1"),
    )
    supervisor = Supervisor(settings, ports, runtime=install())
    main = asyncio.create_task(supervisor.lifecycle())
    try:
        while not supervisor.status()["running"]:
            if main.done():
                raise SystemExit(f"the agent did not start: {supervisor.failure}")
            await asyncio.sleep(0.2)
        for n in range(turns):
            ports.inbox().send(
                ChatJob(
                    jobId=uuid.uuid4().hex,
                    userId=USER,
                    source="web",
                    conversationId="main",
                    text=f"note {n}: the cat is called Miso",
                    replyTo=WebReplyTo(),
                    receivedAt=datetime.now(UTC),
                )
            )
            for _ in range(6000):  # answered, or two minutes
                if not ports.inbox().depth(USER):
                    break
                await asyncio.sleep(0.02)
        assert supervisor.bridge is not None
        done = [t for t in supervisor.bridge.turns if t.outcome == "answered"]
        backups = [t.backup_s * 1000 for t in done if t.backup_s is not None]
        whole = [(t.ended - t.started) * 1000 for t in done if t.ended is not None]
        last = supervisor.sync.last_result
        return {
            "blobs": blobs,
            "turns": len(done),
            "turn_backup_ms_first": round(backups[0], 1),
            "turn_backup_ms_median": round(statistics.median(backups[1:]), 1),
            "turn_backup_ms_max": round(max(backups[1:]), 1),
            "turn_ms_median": round(statistics.median(whole), 1),
            "backed_up_bytes": last.total_bytes if last else None,
        }
    finally:
        supervisor.request_stop("bench done")
        await main
        model.stop()
        if server is not None:
            server.terminate()


def main() -> None:
    turns = int(next((a for a in sys.argv[1:] if a.isdigit()), "15"))
    blobs = (
        "moto S3" if "--moto" in sys.argv else "embedded" if "--embedded" in sys.argv else "memory"
    )
    print(json.dumps(asyncio.run(run(turns, blobs)), indent=1))
    os._exit(0)  # a long poll may still block a worker thread


if __name__ == "__main__":
    main()
