"""Every AWS call the handlers and the watchdog make in the control-plane tests is allowed by
their role's synthesized policy, evaluated with a real IAM policy evaluator (resources,
conditions, the resource types each action accepts) — what moto cannot check.

The control-plane tests run in a child pytest with the call recorder on
(tests/iam/recording.py): in a run that collects this test that is their only run, and a
failure of any of them fails this test with the child's summary (tests/conftest.py). Each
call is translated into IAM requests (`infra/iam_requests.py`) and evaluated against the
policy of the role that makes it on AWS (`infra/iam_simulator.py`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pytest
from tests.infra.conftest import Synthesized

from serverless_openclaw.adapters.aws.clients import AwsCall
from serverless_openclaw.infra.iam_requests import Deployment, IamRequest, requests_for
from serverless_openclaw.infra.iam_simulator import IamSimulator
from serverless_openclaw.infra.local_iam import ACCOUNT
from serverless_openclaw.infra.policies import Names, RolePolicy, role_policies

from .conftest import templates_of
from .recording import CALL_LOG_ENV, RECORDED_SUITES, read

pytestmark = [pytest.mark.infra, pytest.mark.iam]

ROOT = Path(__file__).resolve().parents[2]


def _policies(synth: Synthesized, prefix: str) -> dict[str, RolePolicy]:
    names = Names(account=ACCOUNT, prefix=prefix, state_bucket=f"{prefix}-state")
    return role_policies(templates_of(synth), names)


def _deployment(policies: dict[str, RolePolicy], prefix: str) -> Deployment:
    role = f"arn:aws:iam::{ACCOUNT}:role/{prefix}"
    return Deployment(
        account=ACCOUNT,
        execution_role=f"{role}-agent-execution",
        default_task_role=f"{role}-agent-task-default",
    )


def _server_errors(logs: Iterable[Path]) -> str:
    """The tracebacks in the inner run's moto log: a 500 from moto says only "Internal Server
    Error", and the log is gone with the inner run's temporary folder."""
    found = []
    for log in logs:
        text = log.read_text(errors="replace")
        found += [f"\nmoto: {tb[:3000]}" for tb in text.split("Traceback")[1:]]
    return "".join(found[-2:])


def test_the_evaluator_refuses_what_a_policy_does_not_grant(
    simulator: IamSimulator, synthesized: Synthesized
) -> None:
    """The evaluator is no rubber stamp: out-of-scope resources, missing actions and wrong
    resource types are refused."""
    policies = _policies(synthesized, "p")
    documents = {name: policies[name].document() for name in ("handlers", "watchdog")}
    table = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table"
    cases = [
        ("watchdog", IamRequest("dynamodb:Scan", f"{table}/p-task-state"), "Allowed"),
        ("handlers", IamRequest("dynamodb:Scan", f"{table}/p-task-state"), "ImplicitlyDenied"),
        ("watchdog", IamRequest("dynamodb:Scan", f"{table}/other-task-state"), "ImplicitlyDenied"),
        (
            "watchdog",
            IamRequest(
                "ecs:ListTasks",
                "*",
                {"ecs:cluster": f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/other-agents"},
            ),
            "ImplicitlyDenied",
        ),
        ("handlers", IamRequest("sqs:ListQueues", f"arn:aws:sqs:us-east-1:{ACCOUNT}:q"), "Invalid"),
    ]
    got = simulator.evaluate(
        documents, [(role, request) for role, request, _ in cases], account=ACCOUNT
    )
    assert [e.decision for e in got] == [expected for *_, expected in cases]


def test_every_recorded_call_of_the_control_plane_is_allowed_by_its_role(
    simulator: IamSimulator, synthesized: Synthesized, tmp_path: Path
) -> None:
    log = tmp_path / "calls.jsonl"
    env = {**os.environ, CALL_LOG_ENV: str(log)}
    inner = tmp_path / "inner"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", *RECORDED_SUITES, "-q", "-rf", "-p", "no:cacheprovider",
         "-o", "addopts=--strict-markers --import-mode=importlib",
         f"--basetemp={inner}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500, check=False,
    )  # fmt: skip
    assert run.returncode == 0, (
        run.stdout[-4000:] + run.stderr[-2000:] + _server_errors(inner.glob("moto*/moto.log"))
    )

    calls = [c for c in read(log) if c["role"] is not None]
    assert calls, "the recorder saw no handler or watchdog call"
    policies_by_prefix: dict[str, dict[str, RolePolicy]] = {}
    documents: dict[str, dict[str, object]] = {}
    batch: list[tuple[str, IamRequest]] = []
    for recorded in calls:
        prefix = recorded["prefix"]
        if prefix not in policies_by_prefix:
            policies_by_prefix[prefix] = _policies(synthesized, prefix)
        policies = policies_by_prefix[prefix]
        key = f"{prefix}/{recorded['role']}"
        documents[key] = policies[recorded["role"]].document()
        call = AwsCall(
            recorded["service"], recorded["operation"], recorded["params"], recorded["region"]
        )
        for request in requests_for(call, _deployment(policies, prefix)):
            batch.append((key, request))
    evaluations = simulator.evaluate(documents, batch, account=ACCOUNT)
    refused = sorted(
        {
            f"{e.role.split('/')[1]}: {e.request.call} -> {e.request.action} on "
            f"{e.request.resource} {dict(e.request.context)} [{e.decision}] {e.detail}"
            for e in evaluations
            if not e.allowed
        }
    )
    assert not refused, "refused on AWS:\n" + "\n".join(refused)
    used = Counter((e.role.split("/")[1], e.request.action) for e in evaluations)
    print(f"{len(evaluations)} requests checked; per role and action: {dict(used)}")
