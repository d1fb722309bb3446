"""A redeploy after a code change must update in place: nothing that changes with code may
cross a stack boundary (CloudFormation refuses to change an export another stack imports),
and no resource that holds data may be replaced.

Two syntheses differ only in the agent image (its tag follows `src/`) and the Lambda code.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from serverless_openclaw.infra.config import DeploymentConfig

from .conftest import CONFIG

pytestmark = pytest.mark.infra

STATEFUL_TYPES = {
    "AWS::DynamoDB::Table",
    "AWS::S3::Bucket",
    "AWS::SQS::Queue",
    "AWS::Cognito::UserPool",
    "AWS::Cognito::UserPoolClient",
}
STATEFUL = json.loads((Path(__file__).parent / "stateful_resources.json").read_text())


def _synth(config: DeploymentConfig, code_dir: Path, outdir: Path) -> dict[str, dict[str, Any]]:
    from aws_cdk import App, Stack
    from aws_cdk.assertions import Template

    from serverless_openclaw.infra.app import build_app

    app, stacks = build_app(config, code_dir=code_dir, outdir=outdir, web_dist=None, checks=False)
    assert isinstance(app, App)
    app.synth()
    found: dict[str, dict[str, Any]] = {}
    for kind, stack in stacks.items():
        assert isinstance(stack, Stack)
        found[kind] = dict(Template.from_stack(stack).to_json())
    return found


@pytest.fixture(scope="module")
def before_and_after(
    tmp_path_factory: pytest.TempPathFactory, lambda_bundle: Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    changed = tmp_path_factory.mktemp("changed-code") / "bundle"
    shutil.copytree(lambda_bundle, changed)
    (changed / "serverless_openclaw" / "release.txt").write_text("a code change\n")
    before = _synth(
        CONFIG.model_copy(update={"agent_image": "registry.invalid/agent:1"}),
        lambda_bundle,
        tmp_path_factory.mktemp("before"),
    )
    after = _synth(
        CONFIG.model_copy(update={"agent_image": "registry.invalid/agent:2"}),
        changed,
        tmp_path_factory.mktemp("after"),
    )
    return before, after


def _imports(template: Any) -> set[str]:
    text = json.dumps(template)
    return set(__import__("re").findall(r'"Fn::ImportValue": "([^"]+)"', text))


def _exports(templates: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    """Export name -> (stack kind, value)."""
    found: dict[str, tuple[str, Any]] = {}
    for kind, template in templates.items():
        for output in template.get("Outputs", {}).values():
            name = output.get("Export", {}).get("Name")
            if name:
                found[name] = (kind, output["Value"])
    return found


def _referenced(value: Any) -> set[str]:
    """Logical ids a value's `Ref`s and `Fn::GetAtt`s name."""
    if isinstance(value, dict):
        found: set[str] = set()
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str) and not inner.startswith("AWS::"):
                found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else str(inner).split(".")[0])
            else:
                found |= _referenced(inner)
        return found
    if isinstance(value, list):
        return set().union(*(_referenced(v) for v in value)) if value else set()
    return set()


def test_the_change_is_real(before_and_after: tuple[dict[str, Any], dict[str, Any]]) -> None:
    before, after = before_and_after
    assert json.dumps(before["compute"]) != json.dumps(after["compute"])  # new image
    assert json.dumps(before["api"]) != json.dumps(after["api"])  # new Lambda code


def test_no_value_that_another_stack_imports_changes_with_code(
    before_and_after: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    before, after = before_and_after
    imported = set().union(*(_imports(t) for t in before.values()))
    assert imported == set().union(*(_imports(t) for t in after.values()))
    old, new = _exports(before), _exports(after)
    changed = sorted(name for name in imported if old.get(name) != new.get(name))
    assert not changed, f"exports another stack imports changed with code: {changed}"
    # An export's value is resolved at deploy time: the resource it names must not change
    # either (a changed task definition is a new revision, a new ARN).
    moving = sorted(
        f"{name} -> {kind}/{logical_id}"
        for name in imported
        for kind, value in [old[name]]
        for logical_id in _referenced(value)
        if before[kind]["Resources"][logical_id] != after[kind]["Resources"][logical_id]
    )
    assert not moving, f"imported values that change with code: {moving}"
    # The task definition (a new revision per image) is named by its family, never imported.
    assert not [name for name in imported if "TaskDefinition" in name and "Role" not in name]


def test_no_resource_that_holds_data_is_replaced_or_unlisted(
    before_and_after: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    before, after = before_and_after
    for kind in before:
        listed = set(STATEFUL.get(kind, []))
        for templates in (before, after):
            present = {
                logical_id
                for logical_id, resource in templates[kind]["Resources"].items()
                if resource["Type"] in STATEFUL_TYPES
            }
            assert present == listed, f"{kind}: stateful resources differ from the list"
        for logical_id in listed:
            old = before[kind]["Resources"][logical_id]
            new = after[kind]["Resources"][logical_id]
            assert old == new, f"{kind}/{logical_id} would change (and may be replaced)"
