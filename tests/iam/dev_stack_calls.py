"""Every AWS call a dev stack on the aws backend recorded, evaluated against the synthesized
policy of the role that makes it on AWS (an agent's: resolved for its person), with the real
policy evaluator: what moto's own IAM check is too coarse for (resources, conditions).

A stack records when started with `SOC_AWS_CALL_LOG_DIR` (adapters/aws/call_log.py); the
e2e module on the aws backend and the fault suite's shared stack both check their calls here.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from serverless_openclaw.adapters.aws.agent_roles import PERSON_TAG
from serverless_openclaw.adapters.aws.call_log import read_calls
from serverless_openclaw.adapters.aws.clients import AwsCall
from serverless_openclaw.infra.iam_requests import Deployment, IamRequest, requests_for
from serverless_openclaw.infra.iam_simulator import IamSimulator
from serverless_openclaw.infra.local_iam import ACCOUNT, local_policies
from serverless_openclaw.infra.local_templates import load_or_synth
from serverless_openclaw.infra.node import find_or_install_node
from serverless_openclaw.infra.policies import resolve_variables
from serverless_openclaw.settings import HandlerSettings, env_name

CALL_LOG_DIR_ENV = env_name(HandlerSettings, "aws_call_log_dir")
"""`SOC_AWS_CALL_LOG_DIR`: where every component of a stack records its calls."""


@dataclass
class CheckedCalls:
    refused: list[str] = field(default_factory=list)
    """One line per distinct refused request: role, call, action, resource, why."""
    requests: Counter[str] = field(default_factory=Counter)
    """IAM requests checked, by role."""
    actions: set[tuple[str, str]] = field(default_factory=set)
    """(role, action) pairs seen."""


def _policies(stack_dir: Path) -> tuple[dict[str, Any], Deployment]:
    info = json.loads((stack_dir / "dev.json").read_text())
    prefix = str(info["prefix"])
    policies = local_policies(
        load_or_synth(), prefix=prefix, state_bucket=str(info["state_bucket"])
    )
    role = f"arn:aws:iam::{ACCOUNT}:role/{prefix}"
    deployment = Deployment(
        account=ACCOUNT,
        execution_role=f"{role}-agent-execution",
        default_task_role=f"{role}-agent-task-default",
    )
    return policies, deployment


def check_recorded_calls(stacks: Mapping[Path, Path]) -> CheckedCalls:
    """`stacks`: each stack's state dir -> the folder its calls were recorded in."""
    documents: dict[str, dict[str, Any]] = {}
    batch: list[tuple[str, IamRequest]] = []
    checked = CheckedCalls()
    for stack_dir, log in stacks.items():
        policies, deployment = _policies(stack_dir)
        for line in read_calls(log):
            role, person = str(line["role"]), line.get("person")
            policy = policies[role]
            key = f"{stack_dir}|{role}|{person or ''}"
            if key not in documents:
                if person:
                    policy = resolve_variables(policy, {f"aws:PrincipalTag/{PERSON_TAG}": person})
                documents[key] = policy.document()
            call = AwsCall(line["service"], line["operation"], line["params"], line["region"])
            for request in requests_for(call, deployment):
                batch.append((key, request))
                checked.requests[role] += 1
    if not batch:
        return checked
    evaluations = IamSimulator(find_or_install_node()).evaluate(documents, batch, account=ACCOUNT)
    checked.refused = sorted(
        {
            f"{e.role.split('|')[1]}: {e.request.call} -> {e.request.action} on "
            f"{e.request.resource} {dict(e.request.context)} [{e.decision}] {e.detail}"
            for e in evaluations
            if not e.allowed
        }
    )
    checked.actions = {(e.role.split("|")[1], e.request.action) for e in evaluations}
    return checked
