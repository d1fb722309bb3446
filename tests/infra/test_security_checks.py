"""cdk-nag (AwsSolutions) and cfn-lint over the synthesized app."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.infra.conftest import ROOT, CliSynth, Synthesized

from serverless_openclaw.infra import nag

pytestmark = pytest.mark.infra

ACCEPTED_REASONS = {
    value for name, value in vars(nag).items() if name.isupper() and isinstance(value, str)
}


def suppressions(template: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for resource in template.get("Resources", {}).values():
        found += resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    found += template.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    return found


def test_no_unsuppressed_aws_solutions_error(synthesized: Synthesized) -> None:
    # The session's assembly (Annotations.from_stack would synthesize the app a second time).
    assembly = synthesized.stacks["network"].node.root.synth()
    for kind, stack in synthesized.stacks.items():
        messages = assembly.get_stack_artifact(stack.artifact_id).messages
        errors = [
            str(m.entry.data)
            for m in messages
            if str(m.level).lower().endswith("error") and "AwsSolutions-" in str(m.entry.data)
        ]
        assert errors == [], (kind, errors[:5])


def test_nag_report_has_rules_checked(synthesized: Synthesized) -> None:
    """The pack really ran: each stack's report lists rules it found compliant."""
    reports = sorted(synthesized.assembly_dir.glob("AwsSolutions-*-NagReport.csv"))
    assert len(reports) == 7
    for report in reports:
        text = report.read_text()
        assert ',"Compliant",' in text
        # Every finding is either fixed or suppressed with a reason, warnings included.
        assert ',"Non-Compliant",' not in text, report.name


def test_every_suppression_carries_a_documented_reason(synthesized: Synthesized) -> None:
    docs = (ROOT / "docs" / "deployment.md").read_text()
    seen: set[str] = set()
    for kind in synthesized.templates:
        for item in suppressions(synthesized.template_json(kind)):
            reason = item["reason"]
            assert reason in ACCEPTED_REASONS, f"{item['id']}: reason not from infra/nag.py"
            assert len(reason) >= 80
            seen.add(item["id"])
    assert "AwsSolutions-IAM5" in seen
    for rule in seen:
        assert rule in docs, f"{rule} is suppressed but not explained in docs/deployment.md"


def test_wildcard_suppressions_name_the_findings_they_cover(synthesized: Synthesized) -> None:
    """No blanket IAM5: each suppression lists the exact wildcard resources it accepts."""
    for kind in synthesized.templates:
        for item in suppressions(synthesized.template_json(kind)):
            if item["id"] in {"AwsSolutions-IAM4", "AwsSolutions-IAM5"}:
                assert item.get("applies_to"), item


def test_cfn_lint_finds_no_error(cli_synth: CliSynth, tmp_path: Path) -> None:
    assert len(cli_synth.templates) == 7
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run(
        [str(cfn_lint), "--format", "json", *[str(path) for path in cli_synth.templates]],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.stdout.strip().startswith("["), result.stderr
    findings = json.loads(result.stdout)
    errors = [f for f in findings if f["Level"] == "Error"]
    assert errors == [], errors[:5]
    assert result.returncode in (0, 4), result.stderr  # 4 = warnings only
