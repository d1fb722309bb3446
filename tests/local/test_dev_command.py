"""`serverless-openclaw dev` as a person runs it: ports it was told to use, a clear refusal
when one is taken, and signals that always stop it within seconds."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from serverless_openclaw.loopback import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
BACKENDS = ["embedded", "aws"]


def dev(state_dir: Path, port: int, *extra: str, backend: str = "aws") -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SOC_DEV_WATCHDOG_INTERVAL_SECONDS": "60",
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    for key in ("AWS_ENDPOINT_URL", "SOC_DEV_BACKEND", "SOC_DEV_MOTO_PORT", "ANTHROPIC_API_KEY"):
        env.pop(key, None)
    return subprocess.Popen(
        [sys.executable, "-m", "serverless_openclaw", "dev", "--port", str(port),
         "--state-dir", str(state_dir), "--backend", backend, *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT,
    )  # fmt: skip


def wait_ready(process: subprocess.Popen[bytes], port: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/config.json", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("the dev stack did not start")


def stopped_within(process: subprocess.Popen[bytes], seconds: float) -> tuple[int, str, str]:
    started = time.monotonic()
    out, err = process.communicate(timeout=seconds)
    assert time.monotonic() - started <= seconds
    return process.returncode, out.decode(errors="replace"), err.decode(errors="replace")


@pytest.fixture
def port() -> int:
    """The stack takes this port and, on the aws backend, the next one."""
    from harness import free_port_pair

    return free_port_pair()


@pytest.fixture
def running(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_stack_within_seconds(
    tmp_path: Path, port: int, running: list[subprocess.Popen[bytes]], sig: int, backend: str
) -> None:
    process = dev(tmp_path / "state", port, backend=backend)
    running.append(process)
    wait_ready(process, port)
    config = httpx.get(f"http://127.0.0.1:{port}/config.json").json()
    assert config["httpUrl"] == f"http://127.0.0.1:{port}"
    if backend == "aws":
        assert config["cognitoEndpoint"] == f"http://127.0.0.1:{port + 1}"
    process.send_signal(sig)
    code, out, _ = stopped_within(process, 30)  # ~3 s here; bounds for a loaded machine
    assert code == 0, out
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/config.json", timeout=1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_signal_during_start_up_stops_it(
    tmp_path: Path, port: int, running: list[subprocess.Popen[bytes]], backend: str
) -> None:
    process = dev(tmp_path / "state", port, backend=backend)
    running.append(process)
    deadline = time.monotonic() + 60
    while not (tmp_path / "state").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    code, _, err = stopped_within(process, 30)
    assert code in (0, 1), err  # stopped, whether or not it had finished starting


@pytest.mark.parametrize("taken", ["the web port", "the local AWS port"])
def test_a_port_in_use_is_one_line_and_exit_code_2(
    tmp_path: Path, port: int, running: list[subprocess.Popen[bytes]], taken: str
) -> None:
    blocked = port if taken == "the web port" else port + 1
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", blocked))
        squatter.listen()
        process = dev(tmp_path / "state", port, backend="aws")
        running.append(process)
        code, out, err = stopped_within(process, 30)
    assert code == 2, (out, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines == [lines[0]]
    assert lines[0].startswith(f"error: port {blocked} is in use ("), lines


def test_a_second_stack_on_the_same_state_dir_is_refused(
    tmp_path: Path, port: int, running: list[subprocess.Popen[bytes]]
) -> None:
    first = dev(tmp_path / "state", port)
    running.append(first)
    wait_ready(first, port)
    other = free_port()
    second = dev(tmp_path / "state", other)
    running.append(second)
    code, _, err = stopped_within(second, 30)
    assert code == 2
    assert "another `serverless-openclaw dev` is using" in err
    first.send_signal(signal.SIGTERM)
    assert stopped_within(first, 20)[0] == 0
