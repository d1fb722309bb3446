"""Fixtures shared by every test group.

- `moto_server`: one real moto server per session, in its own process, reached over HTTP,
  as strict as DynamoDB about concurrent conditional writes (`local/moto_server.py`).
- `aws`: environment for boto3 pointing at it, plus a unique resource prefix per test so that
  tests never see each other's tables, queues or buckets (no reset between tests).
- `offline_model`, `openclaw_runtime`: the offline model in this process, the pinned OpenClaw.
- `dev_stack`, `fresh_dev_stack`: `serverless-openclaw dev` in a child
  process, driven as a person would (the harness beside `tests/` and `bench/`: `harness/`);
  `person`: one person shared by the tests of a module.
- `summary_line`, `figure`: lines and measurements printed at the end of the run.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.iam.recording import RECORDED_SUITES, RECORDING_TEST

from harness import DevStackProcess, OfflineModel, SharedServers
from serverless_openclaw.loopback import free_port


@dataclass(frozen=True)
class MotoServer:
    url: str


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    env = {**os.environ, "MOTO_COGNITO_IDP_USER_POOL_ID_STRATEGY": "HASH"}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            # moto, with DynamoDB requests serialised as DynamoDB serialises writes to an
            # item (local/moto_server.py): races of conditional writes behave as on AWS.
            [sys.executable, "-m", "serverless_openclaw.local.moto_server", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{url}/moto-api/", timeout=1)
            break
        except httpx.HTTPError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto server did not start; see {log}") from None
            time.sleep(0.1)
    yield MotoServer(url)
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@dataclass(frozen=True)
class AwsEnv:
    endpoint: str
    prefix: str
    region: str = "us-east-1"

    @property
    def bucket(self) -> str:
        return f"{self.prefix}-state"


@pytest.fixture
def aws(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> AwsEnv:
    """boto3 (and our settings) pointed at moto, with a prefix of this test's own."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    env = AwsEnv(endpoint=moto_server.url, prefix=prefix)
    for key, value in {
        "AWS_ENDPOINT_URL": moto_server.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": env.region,
        "AWS_DEFAULT_REGION": env.region,
        "SOC_PREFIX": prefix,
        "SOC_STATE_BUCKET": env.bucket,
    }.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture(scope="session")
def shared_servers() -> Iterator[SharedServers]:
    """Loopback servers that stay up for the worker; each test mounts its own app on them."""
    servers = SharedServers()
    yield servers
    servers.close()


# --- OpenClaw and the offline model ---------------------------------------------------------
@pytest.fixture(scope="session")
def offline_model() -> Iterator[OfflineModel]:
    from serverless_openclaw.local.offline_model import create_app
    from serverless_openclaw.local.serve import serve_in_thread

    handle = serve_in_thread(create_app())
    yield OfflineModel(handle.url)
    handle.stop()


@pytest.fixture(scope="session")
def openclaw_runtime():  # type: ignore[no-untyped-def]
    """The pinned OpenClaw, installed on first use into the per-user cache (~30 s once).

    SOC_TEST_OPENCLAW_VERSION selects another version (installed beside the pinned one):
    `serverless-openclaw openclaw upgrade VERSION` runs the contract tests that way before it
    moves the pin."""
    from serverless_openclaw.runtime.installer import install
    from serverless_openclaw.runtime.upgrade_checks import VERSION_ENV

    return install(
        version=os.environ.get(VERSION_ENV) or None,
        progress=lambda line: print(f"[openclaw install] {line}", flush=True),
    )


# --- the whole local stack (`serverless-openclaw dev`, harness/stack.py) ---------------------
@pytest.fixture(scope="session")
def dev_stack(
    tmp_path_factory: pytest.TempPathFactory, openclaw_runtime
) -> Iterator[DevStackProcess]:  # type: ignore[no-untyped-def]
    """One dev stack for the e2e and browser tests that do not restart it (the fault suite has
    its own, on the aws backend: tests/faults/conftest.py)."""
    stack = DevStackProcess(tmp_path_factory.mktemp("dev-stack") / "state")
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def person(dev_stack: DevStackProcess) -> Iterator[Any]:
    """One person for the tests of a module (on the module's `dev_stack`), whose agent the
    first test wakes and the next ones find running: where a test's proof is what happens
    after the start, a cold start of its own costs ~17 CPU-s of a 2-core machine and proves
    nothing. Tests count launches from their start, and look for their own texts in the
    history and the agent's memory. Wake on open is off: a test's socket wakes nothing by
    itself. The agent stops when the module ends."""
    user = dev_stack.create_user(idle_minutes=30)
    user.settings(wakeOnConnect=False)
    yield user
    with user.http() as client:
        client.post("/api/agent/stop")


@pytest.fixture(scope="session")
def shared_person(dev_stack: DevStackProcess) -> Iterator[Any]:
    """One person per worker on the session's dev stack, shared by the e2e and browser tests
    whose proof comes after the agent's start (a conversation, attachments, a stream, the
    first of two people): the first of them wakes the agent and the rest, in any of those
    modules, find it running, instead of cold-starting an agent per module (~22 CPU-s each on
    a 2-core machine).
    Tests look for their own texts and conversations in what this person accumulates.

    Wake on open is on (the browser tests sign in and wait for the agent). Its idle timeout
    is a few minutes, so that the agent stops by itself once the worker has left these tests
    instead of idling to the session's end; a test that finds it asleep wakes it again."""
    user = dev_stack.create_user(email="sam@example.com", idle_minutes=5)
    yield user
    with contextlib.suppress(httpx.HTTPError), user.http() as client:
        client.post("/api/agent/stop")


@pytest.fixture
def fresh_dev_stack(tmp_path: Path, openclaw_runtime) -> Iterator[DevStackProcess]:  # type: ignore[no-untyped-def]
    """A dev stack of this test's own (tests that restart or break it)."""
    stack = DevStackProcess(tmp_path / "state")
    stack.start()
    yield stack
    stack.stop()


# --- figures measured by tests (printed in the summary; targets live in bench/) -------------
_SUMMARY: dict[str, list[str]] = {}
"""Section -> lines for the end of the run. Tests add lines through their report's
`user_properties`, which pytest-xdist carries from its workers to the process that prints."""
FIGURES_SECTION = "figures measured by tests"


@pytest.fixture
def summary_line(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """`summary_line(section, text)`: a line printed under `section` at the end of the run."""

    def add(section: str, text: str) -> None:
        request.node.user_properties.append(("summary", [section, text]))

    return add


@pytest.fixture
def figure(request: pytest.FixtureRequest, summary_line):  # type: ignore[no-untyped-def]
    """`figure("name", value)`: a measurement shown at the end of the run, never asserted."""

    def record(name: str, value: float) -> None:
        summary_line(FIGURES_SECTION, f"{name} = {value:.3f}   ({request.node.nodeid})")

    return record


@pytest.fixture(autouse=True)
def _agents_stop_with_their_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """The agents of the people a test made stop when it ends (those of module and session
    fixtures stay): an idle OpenClaw gateway and its supervisor burn ~1.9 CPU-s a minute
    until their idle timeout, and on a shared stack that timeout outlasts the test by up to
    15 minutes, competing with the next tests' starts (docs/development.md)."""
    started = time.monotonic()
    yield
    for stack in _stacks_of(getattr(request.node, "funcargs", {})):
        stack.stop_agents(made_since=started)


LONGEST_FIRST = ("waits", "faults", "e2e", "browser", "openclaw", "infra")
"""The slow groups, longest tests first (see pytest_collection_modifyitems); `waits` (a test
that mostly waits on a clock) goes before them all."""


@pytest.hookimpl(trylast=True)  # after -m and -k have chosen: only what will run counts
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Each test runs once, and the slow groups run first.

    Once: the IAM conformance test runs tests/control_plane again in a pytest of its own,
    with every AWS call recorded (tests/iam/test_conformance.py; its failure lists theirs).
    A run that collects it leaves those tests to it instead of running them twice (~95 s of
    a worker in the full suite); the fast group, which has no conformance test, runs them
    itself.

    The slow groups run first and the fast tests last, each group in file order: pytest-xdist
    hands whole files to whichever worker is free, so many short files at the end even the
    workers out, where one long scenario last would leave the other core idle for minutes.
    A test that mostly waits on a clock (`waits`) goes first, beside the CPU-bound fault
    suite and the type check scripts/test runs meanwhile: later, next to another waiting
    test, it left both cores idle for a minute. pytest-xdist keeps this order only with
    `--no-loadscope-reorder` (scripts/test); by default it sends the files with the most
    tests first."""

    if any(item.nodeid == RECORDING_TEST for item in items):
        suites = tuple(f"{suite}/" for suite in RECORDED_SUITES)
        inside = [item for item in items if item.nodeid.startswith(suites)]
        if inside:
            config.hook.pytest_deselected(items=inside)
            items[:] = [item for item in items if not item.nodeid.startswith(suites)]

    def rank(item: pytest.Item) -> int:
        marks = [i for i, name in enumerate(LONGEST_FIRST) if item.get_closest_marker(name)]
        return min(marks, default=len(LONGEST_FIRST))

    items.sort(key=rank)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """A failed test on a dev stack shows that stack's logs: in CI they are gone with the
    clone, and a flaky failure may not come back when run alone."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.passed or report.skipped:
        return
    for stack in _stacks_of(getattr(item, "funcargs", {})):
        try:
            title = f"dev stack logs ({stack.state_dir.parent.name})"
            report.sections.append((title, stack.diagnostics()))
        except OSError as exc:
            report.sections.append(("dev stack logs", f"could not be read: {exc}"))


def _stacks_of(funcargs: dict[str, object]) -> list[DevStackProcess]:
    found: list[DevStackProcess] = []
    for value in funcargs.values():
        for candidate in value if isinstance(value, tuple) else (value,):
            if isinstance(candidate, DevStackProcess) and candidate not in found:
                found.append(candidate)
    return found


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "teardown":
        return
    for key, value in report.user_properties:
        if key == "summary":
            section, text = value
            _SUMMARY.setdefault(str(section), []).append(str(text))


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    for section in sorted(_SUMMARY, key=lambda name: name == FIGURES_SECTION):
        terminalreporter.section(section)
        for text in _SUMMARY[section]:
            terminalreporter.write_line(text)
