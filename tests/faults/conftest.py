"""Fault injection on the whole local stack: the accounting every fault test shares.

A fault test sends a known set of messages, breaks something on purpose (a process killed, a
socket dropped, S3 gone, a delivery repeated), and then settles the account from what a
person can see: the frames their browser received and the stored history the REST API lists.
Each test adds one line to the summary printed at the end of the run:

    <test>: sent N / answered A / lost L / duplicated D

What counts:
- answered: the reply to the message is stored exactly once (`<id>:r`) and, where a browser
  watched the whole time, that browser saw exactly one `stream_end` carrying the same text;
- lost: the person's message or its reply is missing from the history, or the stored reply
  is the bridge's "(no reply)" placeholder (the person got no answer);
- duplicated: a message or reply stored twice (same id twice, or the same text under another
  id), more than one `stream_end` for one message on one socket, or — checked by the tests
  that ask the agent "what did I say before?" — a message the agent remembers twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import psutil
import pytest
from tests.iam.dev_stack_calls import CALL_LOG_DIR_ENV, check_recorded_calls

Frame = dict[str, Any]


# --- the summary line ------------------------------------------------------------------------
@dataclass(frozen=True)
class Tally:
    test: str
    sent: int
    answered: int
    lost: int
    duplicated: int
    notes: str = ""

    def line(self) -> str:
        text = (
            f"sent {self.sent} / answered {self.answered} / lost {self.lost} / "
            f"duplicated {self.duplicated}"
        )
        return f"{text}   {self.notes}".rstrip()


TALLY_SECTION = "fault injection: sent / answered / lost / duplicated"
NO_ANSWER = {"(no reply)"}
"""What the bridge stores when a turn ended without any text."""


@pytest.fixture
def account(
    request: pytest.FixtureRequest,
    figure: Callable[[str, float], None],
    summary_line: Callable[[str, str], None],
) -> Account:
    """The ledger of this test: `account.sent(...)` while sending, `account.settle(...)` at
    the end (asserts nothing is lost or duplicated and prints the summary line)."""
    return Account(request.node.name, figure, summary_line)


@dataclass
class Account:
    test: str
    figure: Callable[[str, float], None]
    summary_line: Callable[[str, str], None]
    messages: dict[str, str] = field(default_factory=dict)
    """id -> text of every message sent, in sending order."""

    def sent(self, message_id: str, text: str) -> None:
        self.messages[message_id] = text

    def count(
        self,
        history: Sequence[Frame],
        sockets: Sequence[Sequence[Frame]] = (),
        *,
        remembered: str | None = None,
        notes: str = "",
    ) -> Tally:
        """`sockets`: frames of browsers that watched every reply from start to end.
        `remembered`: the agent's answer to "what did I say before?" (each sent text must
        appear in it exactly once)."""
        users = Counter(str(m["id"]) for m in history if m["role"] == "user")
        replies = Counter(str(m["id"]) for m in history if m["role"] == "assistant")
        reply_text = {str(m["id"]): str(m["text"]) for m in history if m["role"] == "assistant"}
        texts = Counter(str(m["text"]) for m in history if m["role"] == "user")
        answered = lost = duplicated = 0
        for message_id, text in self.messages.items():
            reply = f"{message_id}:r"
            if users[message_id] == 0 or replies[reply] == 0 or reply_text[reply] in NO_ANSWER:
                lost += 1
                continue
            dup = users[message_id] > 1 or replies[reply] > 1 or texts[text] > 1
            seen_ok = True
            for frames in sockets:
                ends = [
                    f for f in frames if f.get("type") == "stream_end" and f.get("id") == message_id
                ]
                dup = dup or len(ends) > 1
                seen_ok = seen_ok and len(ends) == 1 and ends[0]["text"] == reply_text[reply]
            if remembered is not None:
                times = remembered.count(text)
                dup = dup or times > 1
                seen_ok = seen_ok and times == 1
            if dup:
                duplicated += 1
            elif seen_ok:
                answered += 1
        return Tally(self.test, len(self.messages), answered, lost, duplicated, notes)

    def settle(
        self,
        history: Sequence[Frame],
        sockets: Sequence[Sequence[Frame]] = (),
        *,
        remembered: str | None = None,
        notes: str = "",
    ) -> Tally:
        tally = self.count(history, sockets, remembered=remembered, notes=notes)
        record(tally, self.figure, self.summary_line)
        assert (tally.lost, tally.duplicated) == (0, 0), (tally.line(), history)
        assert tally.answered == tally.sent, (tally.line(), history)
        return tally


def record(
    tally: Tally, figure: Callable[[str, float], None], summary_line: Callable[[str, str], None]
) -> None:
    summary_line(TALLY_SECTION, f"{tally.test}: {tally.line()}")
    print(f"{tally.test}: {tally.line()}", flush=True)
    for name in ("sent", "answered", "lost", "duplicated"):
        figure(f"faults_{name}", float(getattr(tally, name)))


# --- helpers shared by the fault tests --------------------------------------------------------
def new_id() -> str:
    return uuid.uuid4().hex


def token() -> str:
    """A word no other message contains (scripts match on it)."""
    return f"t{uuid.uuid4().hex[:10]}"


def is_end(message_id: str) -> Callable[[Frame], bool]:
    return lambda f: f.get("type") == "stream_end" and f.get("id") == message_id


def chunks_seen(frames: Sequence[Frame], message_id: str) -> int:
    return sum(1 for f in frames if f.get("type") == "stream_chunk" and f.get("id") == message_id)


async def wait_until(
    check: Callable[[], Any], timeout: float, what: str, interval: float = 0.5
) -> Any:
    """Poll a blocking `check` (run in a thread) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = await asyncio.to_thread(check)
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        await asyncio.sleep(interval)


async def wait_chunks(ws: Any, message_id: str, count: int, timeout: float = 240) -> None:
    """Until the browser has seen `count` chunks of the reply (the fault goes in mid-reply)."""
    await wait_until(
        lambda: chunks_seen(ws.frames, message_id) >= count, timeout, f"{count} chunks", 0.05
    )


async def send(ws: Any, account: Account, text: str, message_id: str | None = None) -> str:
    """Send a message and wait for its ack (the job is durably queued)."""
    message_id = message_id or new_id()
    account.sent(message_id, text)
    await ws.send({"action": "send", "id": message_id, "text": text})
    await ws.wait_for(lambda f: f.get("type") == "ack" and f.get("id") == message_id, 60)
    return message_id


async def ask_what_i_said(ws: Any, timeout: float = 240) -> str:
    """The agent's memory, as the offline model reads it from OpenClaw's session history.
    Not part of the account: it is the probe."""
    probe = new_id()
    await ws.send({"action": "send", "id": probe, "text": "what did I say before?"})
    end = await ws.reply_to(probe, timeout)
    return str(end["text"])


def history(user: Any) -> list[Frame]:
    """The REST history minus the probes."""
    items = user.messages()
    probes = {m["id"] for m in items if m["role"] == "user" and m["text"] == PROBE}
    return [m for m in items if m["id"] not in probes and m["id"].removesuffix(":r") not in probes]


async def awake(stack: Any, user: Any) -> int:
    """The person's agent running (woken when asleep); returns the launches so far."""
    if user.agent().get("state") != "running":
        with user.http() as client:
            client.post("/api/agent/start").raise_for_status()
        await user.wait_state("running", 240)
    return len(launches(stack, user))


PROBE = "what did I say before?"


def launches(stack: Any, user: Any) -> list[dict[str, Any]]:
    """Every task (running or stopped) the control plane started for this user."""
    if stack.backend == "embedded":
        import json as _json

        records = [
            _json.loads(path.read_text())
            for path in (stack.state_dir / "tasks").glob("*/task.json")
        ]
        mine = [r for r in records if r["userId"] == user.user_id]
        return sorted(mine, key=lambda r: r["createdAt"])
    ecs = ecs_client(stack)
    cluster = f"{stack.info['prefix']}-agents"  # a deployment's name for it
    arns: list[str] = []
    for status in ("RUNNING", "STOPPED"):
        arns += ecs.list_tasks(cluster=cluster, desiredStatus=status)["taskArns"]
    if not arns:
        return []
    tasks = ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"]
    mine = []
    for task in tasks:
        env = task.get("overrides", {}).get("containerOverrides", [{}])[0].get("environment", [])
        if {e["name"]: e["value"] for e in env}.get("SOC_USER_ID") == user.user_id:
            mine.append(task)
    return sorted(mine, key=lambda t: t["createdAt"])


def telegram_say(stack: Any, chat_id: int, text: str) -> dict[str, Any]:
    """A person writes to the bot; the fake Bot API builds the update and delivers it."""
    base = str(stack.info["telegram_api_base"])
    update = httpx.post(f"{base}/_fake/updates", json={"chatId": chat_id, "text": text})
    update.raise_for_status()
    statuses = httpx.post(f"{base}/_fake/deliver", timeout=60).json()["statuses"]
    assert statuses == [200], statuses
    return dict(update.json())


def bot_messages(stack: Any, chat_id: int) -> list[dict[str, Any]]:
    """What the bot sent to `chat_id` (text, message id, edits), oldest first."""
    base = str(stack.info["telegram_api_base"])
    answer = httpx.get(f"{base}/_fake/messages", params={"chatId": chat_id}, timeout=10)
    return list(answer.json())


def ecs_client(stack: Any) -> Any:
    import boto3

    return boto3.client(
        "ecs",
        endpoint_url=str(stack.info["ecs_url"]),
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def agent_status(agent: dict[str, Any]) -> dict[str, Any]:
    """The running agent's own /status (supervisor phase, gateway pid and restarts, turns)."""
    response = httpx.get(f"http://127.0.0.1:{agent['healthPort']}/status", timeout=5)
    response.raise_for_status()
    return dict(response.json())


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def processes_in(directory: Any) -> list[psutil.Process]:
    """Processes whose working directory is inside `directory` (a task's work dir): what a
    container would have held. Used to check that nothing outlives its task."""
    found = []
    root = str(directory)
    for process in psutil.process_iter(["cwd"]):
        cwd = process.info.get("cwd") or ""
        if cwd == root or cwd.startswith(root + os.sep):
            found.append(process)
    return found


def kill_task(pid: int) -> None:
    """The container dies at once (Spot reclaim without notice, out of memory): SIGKILL to
    the agent's process group, as the kernel would to every process in the container."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


FAULTS_BACKEND_ENV = "SOC_TEST_FAULTS_BACKEND"
SHORT_DRAIN = {"SOC_DRAIN_SECONDS": "25"}
"""How long a SIGTERM'd agent waits for its turn (`AgentSettings.drain_seconds`; 60 s
deployed, inside ECS's 120 s stopTimeout). The fault suite's replies stream for ~10 s, so 25 s
still lets them finish, and a stalled turn is handed back 35 s sooner."""


@pytest.fixture(scope="package")
def dev_stack(tmp_path_factory: pytest.TempPathFactory, openclaw_runtime: Any) -> Iterator[Any]:
    """The fault suite's shared stack (one per worker: it stops, and its calls are checked,
    when the worker leaves the fault suite) runs the production adapters: boto3 against moto and
    the ECS emulator, with IAM enforced (each component, and each person's agent, calls as its
    own principal with exactly the rights the synthesized templates give it).

    Faults are where the code takes the paths a good day never does (jobs handed back and
    delivered again, tasks restarted by the watchdog, turns recovered): where a call missing
    from a policy would first be refused on AWS. The inbox, store and compute semantics these
    tests rely on are the same on every backend (tests/contracts); the product's default
    embedded backend has its own crash test (test_stack_crash.py) and the e2e suite.
    Every AWS call is recorded and, when the stack stops, evaluated against its role's
    synthesized policy (tests/iam/dev_stack_calls.py): a refused one fails the run.
    `SOC_TEST_FAULTS_BACKEND=embedded` runs the fault suite on the embedded backend instead.
    """
    from harness import DevStackProcess

    backend = os.environ.get(FAULTS_BACKEND_ENV, "aws")
    root = tmp_path_factory.mktemp("fault-stack")
    calls = root / "aws-calls"
    env = {CALL_LOG_DIR_ENV: str(calls)} if backend == "aws" else {}
    stack = DevStackProcess(root / "state", env, backend=backend, agent_env=SHORT_DRAIN)
    stack.start()
    yield stack
    stack.stop()
    if backend == "aws":
        # moto checks actions, not resources or conditions: the policy evaluator does.
        checked = check_recorded_calls({stack.state_dir: calls})
        print(f"fault stack: {dict(checked.requests)} IAM requests checked", flush=True)
        assert not checked.refused, "refused on AWS:\n" + "\n".join(checked.refused)


@pytest.fixture
def model(dev_stack: Any) -> Iterator[Any]:
    """The shared stack's offline model; its script is cleared after the test."""
    offline = dev_stack.offline_model()
    yield offline
    offline.reset()


# --- a network path that can fail --------------------------------------------------------------
class SwitchableProxy:
    """A TCP forwarder to `127.0.0.1:<target>` that can go dark: while down, new connections
    are refused and open ones are cut, as when a service or the route to it is gone. Agents
    reach S3 through it (`AWS_ENDPOINT_URL_S3`) while everything else talks to moto directly."""

    def __init__(self, target_port: int) -> None:
        from serverless_openclaw.loopback import free_port

        self.target_port = target_port
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    def up(self) -> None:
        self._call(self._start())

    def down(self) -> None:
        self._call(self._stop())

    def close(self) -> None:
        """Stop forwarding and close the loop (a loop left for the garbage collector warns,
        and under `-W error` that surfaces as an error in whichever test runs next)."""
        self.down()
        self._call(self._cancel_pipes())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    @staticmethod
    async def _cancel_pipes() -> None:
        pipes = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for pipe in pipes:
            pipe.cancel()
        await asyncio.gather(*pipes, return_exceptions=True)

    async def _start(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._handle, "127.0.0.1", self.port, reuse_address=True
            )

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", self.target_port
            )
        except OSError:
            writer.transport.abort()
            return
        self._open |= {writer, upstream_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            with contextlib.suppress(OSError):
                sink.close()

        try:
            await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))
        finally:
            self._open -= {writer, upstream_writer}
