"""docs/iam.md lists exactly the rights the synthesized templates grant, each with a reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.infra.conftest import Synthesized

from serverless_openclaw.infra.iam_doc import parse, rows
from serverless_openclaw.infra.policies import PLACEHOLDERS, role_policies

from .conftest import templates_of

pytestmark = [pytest.mark.infra, pytest.mark.iam]

DOC = Path(__file__).resolve().parents[2] / "docs" / "iam.md"


def test_the_iam_page_lists_every_synthesized_right_and_nothing_else(
    synthesized: Synthesized,
) -> None:
    granted = rows(role_policies(templates_of(synthesized), PLACEHOLDERS).values())
    documented, reasons = parse(DOC.read_text())
    missing = sorted(set(granted) - set(documented))
    extra = sorted(set(documented) - set(granted))
    assert not missing, "granted but not in docs/iam.md:\n" + "\n".join(map(str, missing))
    assert not extra, "in docs/iam.md but not granted:\n" + "\n".join(map(str, extra))
    assert all(len(why) > 10 for why in reasons.values()), "every right says why"


def test_the_watchdog_may_scan_task_state_and_nobody_else_scans(
    synthesized: Synthesized,
) -> None:
    policies = role_policies(templates_of(synthesized), PLACEHOLDERS)
    scanning = {name for name, policy in policies.items() if "dynamodb:Scan" in policy.actions()}
    assert scanning == {"watchdog"}
    (scan,) = [r for r in rows([policies["watchdog"]]) if r.action == "dynamodb:Scan"]
    assert scan.resources == ("arn:aws:dynamodb:{region}:{account}:table/{prefix}-task-state",)


PERSON = "${aws:PrincipalTag/serverless-openclaw-user}"
UNSCOPED = {
    # The row's key is a random connection id; see docs/security.md for what limits it.
    ("dynamodb:DeleteItem", "arn:aws:dynamodb:{region}:{account}:table/{prefix}-connections"),
    (
        "execute-api:ManageConnections",
        "arn:aws:execute-api:{region}:{account}:{websocket-api}/prod/*/@connections/*",
    ),
}


def test_an_agent_task_reaches_no_other_persons_data_without_a_condition_naming_its_person(
    synthesized: Synthesized,
) -> None:
    """Decision D13: every right of the agent task's policy names its person — in the
    resource (objects, queue) or in a condition (`dynamodb:LeadingKeys`, `s3:prefix`) — but
    the two listed in docs/security.md; and the task definition's own role has no right."""
    policies = role_policies(templates_of(synthesized), PLACEHOLDERS)
    assert policies["agent-task-default"].statements == ()
    agent = policies["agent-task"]
    assert {s.effect for s in agent.statements} == {"Allow"}
    unscoped: set[tuple[str, str]] = set()
    for statement in agent.statements:
        condition = json.dumps(statement.condition)
        for action in statement.actions:
            for resource in statement.resources:
                if PERSON in resource:
                    continue
                if action.startswith("dynamodb:"):
                    keys = statement.condition.get("ForAllValues:StringLike", {})
                    values = keys.get("dynamodb:LeadingKeys", [])
                    if values and all(v in (PERSON, f"{PERSON}#*") for v in values):
                        continue
                if action.startswith("s3:List") and f'"agents/{PERSON}/' in condition:
                    continue
                unscoped.add((action, resource))
    assert unscoped == UNSCOPED
