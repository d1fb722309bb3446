"""The local stack on the `aws` backend with IAM enforced (`serverless-openclaw dev --backend
aws`, whose default is `--enforce-iam`): the production boto3 adapters against moto and the
ECS emulator, every component as its own principal with exactly its synthesized rights, each
person's agent as that person's role. This module is how CI proves the boto3 code and the
policies end to end.

It runs a chosen set of the e2e and fault scenarios on one such stack — together they make
every AWS call path of the product once: a first message and a turn (handlers: queue, wake,
RunTask passing the person's role; agent: inbox, replies, @connections), two people at once,
the watchdog's idle stop with a backup, a wake it makes for a due scheduled job and the
restore in that task, a Telegram pairing and reply (the webhook), and a dead letter answered
by the watchdog (tasks killed mid-reply and restarted by the watchdog are the fault suite's,
on a stack of the same kind whose calls are checked the same way). Every AWS
call of every component is recorded (`SOC_AWS_CALL_LOG_DIR`, adapters/aws/call_log.py), and
the last test evaluates each one against the role that makes it on AWS with the policy
evaluator (resources, conditions, `dynamodb:LeadingKeys` of the person's rows): what moto
does not check.

The fault suite's shared stack runs on this backend with IAM enforced too, its calls checked
when it stops (tests/faults/conftest.py); `SOC_TEST_BACKEND=aws` runs the rest of the suite
on it (not in CI: too slow).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.iam.dev_stack_calls import CALL_LOG_DIR_ENV, check_recorded_calls

from harness import DevStackProcess
from harness.diagnostics import log_record
from serverless_openclaw.contracts.jobs import ChatJob, WebReplyTo
from serverless_openclaw.contracts.records import UserSettings

from .test_local_stack import (  # noqa: F401 - collected here, on this module's stacks
    ask_what_i_said,
    cold_start_turns,
    first_turns,
    test_two_users_get_separate_agents_and_never_see_each_other,
)
from .test_telegram_flow import (  # noqa: F401
    test_pairing_then_a_streamed_reply_in_telegram_and_the_web_history,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

CALLS: dict[str, Path] = {}
"""Where each stack of this module records its calls (checked by the last test)."""


def _stack(path: Path) -> DevStackProcess:
    calls = path.parent / "aws-calls"
    stack = DevStackProcess(path, {CALL_LOG_DIR_ENV: str(calls)}, backend="aws")
    CALLS[str(path)] = calls
    return stack


@pytest.fixture(scope="module")
def dev_stack(
    tmp_path_factory: pytest.TempPathFactory, openclaw_runtime: object
) -> Iterator[DevStackProcess]:
    stack = _stack(tmp_path_factory.mktemp("aws-stack") / "state")
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture
def alice(dev_stack: DevStackProcess) -> Any:
    """The first of test_two_users_get_separate_agents_and_never_see_each_other's people."""
    return dev_stack.create_user(idle_minutes=1)


@pytest.fixture
def fresh_dev_stack(tmp_path: Path, openclaw_runtime: object) -> Iterator[DevStackProcess]:
    stack = _stack(tmp_path / "state")
    stack.start()
    yield stack
    stack.stop()


def test_this_module_runs_on_moto_with_iam_enforced(dev_stack: DevStackProcess) -> None:
    assert dev_stack.info["backend"] == "aws"
    assert dev_stack.info["enforce_iam"] is True
    assert dev_stack.aws("dynamodb").list_tables()["TableNames"]  # the administrator may
    import boto3

    anyone = boto3.client(
        "dynamodb",
        endpoint_url=f"http://127.0.0.1:{dev_stack.moto_port}",
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    with pytest.raises(anyone.exceptions.ClientError):  # nobody else
        anyone.list_tables()


async def test_idle_stop_then_restore_then_a_restart_of_the_dev_command(
    fresh_dev_stack: DevStackProcess, figure: Any
) -> None:
    """A cold start and a second turn; a minute of silence later the watchdog, as its own
    role, stops the agent, which backs up on its way down. A scheduled job then falls due
    (the row is written as the agent writes it; tests/scheduled waits for a real one): the
    watchdog wakes the sleeping agent with no message, and the new task restores that backup
    and remembers. Then the dev command is restarted:
    moto's state is pickled at a clean stop and loaded at the next start, so the history and
    the settings are still there (moto's S3 objects are not, so attachments and the agent's
    memory across a restart are the embedded backend's test: test_local_stack.py, a strict
    xfail on this backend)."""
    stack = fresh_dev_stack
    user = stack.create_user(idle_minutes=1)
    await cold_start_turns(user, figure, "my cat is called Miso")
    stopped = await user.wait_state("idle", timeout=240)
    assert stopped["lastBackupAt"], "the agent backed its state up before stopping"
    # Due just after the person's lead time (wakeLeadSeconds, 120 s by default) from now: a
    # job due sooner would count as covered by the run that just ended.
    lead = UserSettings().wakeLeadSeconds + 5
    due = (datetime.now(UTC) + timedelta(seconds=lead)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    stack.aws("dynamodb").update_item(
        TableName=f"{stack.info['prefix']}-task-state",
        Key={"userId": {"S": user.user_id}},
        UpdateExpression="SET nextWakeAt = :at, nextWakeJob = :job",
        ExpressionAttributeValues={":at": {"S": due}, ":job": {"S": "Reminder: stretch"}},
    )
    await user.wait_state("running", timeout=120)
    assert _wake_reasons(stack, user)[-1] == "scheduled: Reminder: stretch"
    answer = await ask_what_i_said(user)
    assert "Miso" in answer, stack.task_log(user)

    await asyncio.to_thread(stack.restart)
    # Same email and password, a new sign-in against the restored Cognito pool.
    texts = [(m["role"], m["text"]) for m in user.messages()]
    assert texts == [
        *first_turns("my cat is called Miso"),
        ("user", "what did I say before?"),
        ("assistant", answer),
    ]
    assert user.settings()["wakeOnConnect"] is False, "settings came back too"


def _wake_reasons(stack: DevStackProcess, user: Any) -> list[str]:
    """Why each of the person's agents was started, from the stack's log, oldest first."""
    records = [log_record(line) for line in stack.log.read_text().splitlines()]
    return [
        str(r.get("reason"))
        for r in records
        if r and r.get("message") == "starting agent" and r.get("user_id") == user.user_id
    ]


async def test_a_dead_letter_is_answered_by_the_watchdog(dev_stack: DevStackProcess) -> None:
    """A job that failed its deliveries lands in the shared dead-letter queue (put there
    directly); the watchdog, as its own role, tells the person and drops it."""
    user = dev_stack.create_user(idle_minutes=1)
    job = ChatJob(
        jobId=f"dead-{uuid.uuid4().hex[:12]}",
        userId=user.user_id,
        source="web",
        conversationId="main",
        text="a message nobody could answer",
        replyTo=WebReplyTo(),
        receivedAt=datetime.now(UTC),
    )
    sqs = dev_stack.aws("sqs")
    url = sqs.get_queue_url(QueueName=f"{dev_stack.info['prefix']}-dead-letters.fifo")["QueueUrl"]
    sqs.send_message(
        QueueUrl=url,
        MessageBody=job.model_dump_json(),
        MessageGroupId=user.user_id,
        MessageDeduplicationId=job.jobId,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        texts = [str(m["text"]) for m in user.messages() if m["role"] == "assistant"]
        if any("could not answer" in text for text in texts):
            return
        await asyncio.sleep(1)
    raise AssertionError(f"no notice; history: {user.messages()}")


def test_every_recorded_call_is_allowed_by_the_role_that_makes_it(figure: Any) -> None:
    """Last of the module: every call every component made above, evaluated against the
    synthesized policy of its role (an agent's: resolved for its person)."""
    assert CALLS, "no stack of this module ran"
    checked = check_recorded_calls({Path(state): log for state, log in CALLS.items()})
    roles, actions = checked.requests, checked.actions
    assert {"handlers", "watchdog", "agent-task"} <= set(roles), roles
    assert not checked.refused, "refused on AWS:\n" + "\n".join(checked.refused)
    for expected in (
        ("handlers", "ecs:RunTask"), ("handlers", "iam:PassRole"), ("handlers", "sqs:SendMessage"),
        ("watchdog", "dynamodb:Scan"), ("watchdog", "ecs:StopTask"), ("watchdog", "ecs:RunTask"),
        ("watchdog", "sqs:ReceiveMessage"),
        ("agent-task", "sqs:ReceiveMessage"), ("agent-task", "s3:PutObject"),
        ("agent-task", "s3:GetObjectVersion"), ("agent-task", "dynamodb:PutItem"),
        ("agent-task", "execute-api:ManageConnections"),
    ):  # fmt: skip
        # (the watchdog's restart of a killed task, sqs:GetQueueAttributes on the jobs it
        # left, is the fault suite's: its stack's calls are checked the same way)
        assert expected in actions, f"no {expected} in this run: the scenarios changed"
    for role, count in roles.items():
        figure(f"iam_requests_checked_{role.replace('-', '_')}", count)
