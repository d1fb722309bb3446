"""The CDK app, synthesized once per session (jsii is slow to start), shared by the tests.

aws_cdk is imported lazily, after jsii has been pointed at the project's Node 24, so that
collecting these modules in a fast run (`-m "not infra"`) starts no Node process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from serverless_openclaw.infra.config import DeploymentConfig, StackKind

ROOT = Path(__file__).resolve().parents[2]

# Telegram on, so that every route and secret of the product is in the templates.
CONFIG = DeploymentConfig(telegram=True, alarm_email="owner@example.com")


@dataclass
class Synthesized:
    config: DeploymentConfig
    stacks: dict[StackKind, Any]
    """aws_cdk.Stack by kind."""
    templates: dict[StackKind, Any]
    """aws_cdk.assertions.Template by kind."""
    assembly_dir: Path
    bundle_dir: Path

    def template_json(self, kind: StackKind) -> dict[str, Any]:
        return dict(self.templates[kind].to_json())

    def resources(self, type_name: str) -> dict[str, dict[str, Any]]:
        """Every resource of this type in any stack, by '<stack>/<logical id>'."""
        found: dict[str, dict[str, Any]] = {}
        for kind in self.templates:
            for logical_id, resource in self.template_json(kind).get("Resources", {}).items():
                if resource["Type"] == type_name:
                    found[f"{kind}/{logical_id}"] = resource
        return found


@pytest.fixture(scope="session")
def lambda_bundle() -> Path:
    from serverless_openclaw.infra.bundle import build_lambda_bundle
    from serverless_openclaw.infra.node import use_project_node

    # Before any test imports aws_cdk: jsii starts its Node process on the first import.
    use_project_node()
    return build_lambda_bundle()


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory, lambda_bundle: Path) -> Synthesized:
    from serverless_openclaw.infra.node import use_project_node

    use_project_node()
    from aws_cdk import App
    from aws_cdk.assertions import Template

    from serverless_openclaw.infra.app import build_app

    outdir = tmp_path_factory.mktemp("cdk-out")
    app, stacks = build_app(CONFIG, code_dir=lambda_bundle, outdir=outdir, web_dist=None)
    assert isinstance(app, App)
    assembly = app.synth()
    templates = {kind: Template.from_stack(stack) for kind, stack in stacks.items()}
    return Synthesized(
        config=CONFIG,
        stacks=stacks,
        templates=templates,
        assembly_dir=Path(assembly.directory),
        bundle_dir=lambda_bundle,
    )


@dataclass(frozen=True)
class CliSynth:
    out: Path
    templates: list[Path]
    stdout: str


def offline_env(home: Path) -> dict[str, str]:
    """The environment of an operator with no AWS credentials and no AWS configuration."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and key not in {"JSII_NODE"}
    }
    env.update(
        {
            "AWS_CONFIG_FILE": str(home / "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    return env


@pytest.fixture(scope="session")
def cli_synth(tmp_path_factory: pytest.TempPathFactory, lambda_bundle: Path) -> CliSynth:
    """`serverless-openclaw synth --out DIR`, as an operator runs it, without credentials."""
    work = tmp_path_factory.mktemp("cli-synth")
    out = work / "templates"
    result = subprocess.run(
        [sys.executable, "-m", "serverless_openclaw", "synth", "--out", str(out), "--telegram"],
        capture_output=True,
        text=True,
        timeout=600,
        env=offline_env(work),
        cwd=work,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    templates = sorted(out.glob("*.template.json"))
    for path in templates:
        json.loads(path.read_text())
    return CliSynth(out=out, templates=templates, stdout=result.stdout)
