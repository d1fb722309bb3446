"""docs/iam.md lists exactly the rights the synthesized templates grant, each with a reason."""

from __future__ import annotations

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
