"""The benchmarks still run. They are not part of the suite (docs/performance.md), so when the
product changes under them nothing else notices: they broke twice that way (IAM enforced by
default, then the handlers' wiring and bearer tokens). The handlers suite needs no agent, so
it runs here, small; the agent suites share the harness the e2e tests use."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def test_the_handlers_benchmark_runs_and_reports_every_handler() -> None:
    small = ["--import-runs", "1", "--warm-invocations", "3"]
    run = subprocess.run(
        [sys.executable, "-m", "bench", "handlers", "--json", *small],
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout)
    assert not report["meta"]["notes"].get("errors"), report["meta"]["notes"]
    for handler in ("ws_connect", "ws_message_send", "http_api_agent", "watchdog"):
        figure = report[f"handler_warm_{handler}_ms"]
        assert figure["n"] == 3 and figure["median"] > 0, (handler, figure)
    assert report["handler_import_ratio"]["value"] > 0
