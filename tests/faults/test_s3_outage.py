"""S3 (moto) unreachable for the agents — at restore and while they back up — on a dev stack
of this module's own. Agents reach S3 through a switchable forwarder; the control plane and
the test read moto directly, so they see exactly what was (and was not) written. One person
goes through both outages (`person`: tests/conftest.py; `awake`: tests/faults/conftest.py)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import (
    SwitchableProxy,
    ask_what_i_said,
    awake,
    history,
    is_end,
    kill_task,
    launches,
    send,
    token,
    wait_until,
)

pytestmark = [pytest.mark.faults, pytest.mark.timeout(900)]

SYNC_INTERVAL_S = 15
"""The agents' periodic backup (5 minutes in production): how soon a failed backup is retried."""


@pytest.fixture(scope="module")
def outage_stack(
    tmp_path_factory: pytest.TempPathFactory,
    openclaw_runtime: Any,
) -> Iterator[tuple[Any, SwitchableProxy]]:
    from harness import DevStackProcess

    state = tmp_path_factory.mktemp("s3-outage") / "state"
    stack = DevStackProcess(state, backend="aws")  # S3 is moto's, reached through a proxy
    proxy = SwitchableProxy(stack.moto_port)
    proxy.up()
    stack.env["SOC_DEV_AGENT_ENV"] = json.dumps({"AWS_ENDPOINT_URL_S3": proxy.url})
    stack.env["SOC_DEV_AGENT_SYNC_INTERVAL_SECONDS"] = str(SYNC_INTERVAL_S)
    stack.start()
    try:
        yield stack, proxy
    finally:
        stack.stop()
        proxy.close()


@pytest.fixture(scope="module")
def dev_stack(outage_stack: tuple[Any, SwitchableProxy]) -> Any:
    """This module's stack, for `person` (tests/conftest.py)."""
    return outage_stack[0]


@pytest.fixture
def s3(outage_stack: tuple[Any, SwitchableProxy]) -> Iterator[SwitchableProxy]:
    """S3 as the agents see it; back up after each test whatever happened."""
    _, proxy = outage_stack
    yield proxy
    proxy.up()


def backup_objects(stack: Any, user: Any) -> list[tuple[str, str, str, bool]]:
    """Every stored version (and delete marker) of the user's backup."""
    answer = stack.aws("s3").list_object_versions(
        Bucket=str(stack.info["state_bucket"]), Prefix=f"agents/{user.user_id}/"
    )
    found = [
        (v["Key"], v["VersionId"], v["ETag"], v["IsLatest"]) for v in answer.get("Versions", [])
    ]
    found += [
        (m["Key"], m["VersionId"], "delete-marker", m["IsLatest"])
        for m in answer.get("DeleteMarkers", [])
    ]
    return sorted(found)


def _epoch(value: str | None) -> float:
    from datetime import datetime

    return datetime.fromisoformat(value).timestamp() if value else 0.0


async def test_restore_with_s3_unreachable_keeps_the_backup_and_the_messages(
    dev_stack, person, s3, account, figure
) -> None:  # type: ignore[no-untyped-def]
    stack, user = dev_stack, person
    before_test = await awake(stack, user)
    learnt = f"the spare key is under the blue pot {token()}"
    waiting = [f"first while S3 is down {token()}", f"second while S3 is down {token()}"]
    async with user.ws() as ws:
        m0 = await send(ws, account, learnt)
        await ws.reply_to(m0)
        with user.http() as http:
            http.post("/api/agent/stop").raise_for_status()
        stopped = await user.wait_state("idle", 120)
        assert stopped["lastBackupAt"], "the agent backed up on its way out"
        before = backup_objects(stack, user)
        assert any(key.endswith("manifest.json") for key, *_ in before)

        s3.down()
        down_at = time.monotonic()
        ids = [await send(ws, account, text) for text in waiting]
        failed = await wait_until(
            lambda: (a := user.agent())["state"] == "idle" and a.get("lastError") and a,
            240,
            "the start to fail",
            1.0,
        )
        figure("restore_outage_to_failed_s", time.monotonic() - down_at)
        assert "backup could not be read" in failed["lastError"], failed
        assert "messages wait" in failed["lastError"], "the person is told nothing is lost"
        assert backup_objects(stack, user) == before, "no upload may replace the last backup"
        assert not [f for f in ws.frames if f.get("type") == "stream_end" and f["id"] in ids]

        s3.up()
        with user.http() as http:  # the person presses Start
            http.post("/api/agent/start").raise_for_status()
        ends = [await ws.wait_for(is_end(i), 300) for i in ids]
        assert [e["text"] for e in ends] == [f"[offline model] You said: {t}" for t in waiting]
        order = [f["id"] for f in ws.frames if f.get("type") == "stream_end"]
        assert order == [m0, *ids]
        remembered = await ask_what_i_said(ws)
    assert learnt in remembered, (remembered, stack.task_log(user))
    assert len(launches(stack, user)[before_test:]) == 2, "the refused start, the good start"
    account.settle(history(user), [ws.frames], remembered=remembered)


async def test_backups_during_an_s3_outage_are_retried_and_nothing_is_lost(
    dev_stack, person, s3, account, figure
) -> None:  # type: ignore[no-untyped-def]
    stack, user = dev_stack, person
    before_test = await awake(stack, user)
    before_outage = f"my train leaves at 7:42 {token()}"
    during_outage = f"and the platform is 9 {token()}"
    async with user.ws() as ws:
        m1 = await send(ws, account, before_outage)
        await ws.reply_to(m1)
        answered = time.time()
        first_backup = await wait_until(
            lambda: (at := _epoch(user.agent().get("lastBackupAt"))) >= answered - 1 and at,
            60,
            "the backup after the first turn",
        )

        s3.down()
        m2 = await send(ws, account, during_outage)
        await ws.reply_to(m2)
        await asyncio.sleep(4)  # past the debounce: the after-turn backup was tried, and failed
        assert _epoch(user.agent().get("lastBackupAt")) == first_backup, "S3 was really down"

        s3.up()
        back = time.monotonic()
        await wait_until(
            lambda: _epoch(user.agent().get("lastBackupAt")) > first_backup,
            SYNC_INTERVAL_S * 3,
            "a backup once S3 is back",
        )
        figure("backup_after_outage_s", time.monotonic() - back)

        # Now lose the task without any chance to back up: what it learnt must be in S3.
        kill_task(int(stack.agent_process(user)["pid"]))
        remembered = await ask_what_i_said(ws, timeout=300)
    assert before_outage in remembered and during_outage in remembered, remembered
    assert len(launches(stack, user)[before_test:]) == 1, "one restart after the kill"
    account.settle(history(user), [ws.frames], remembered=remembered)
