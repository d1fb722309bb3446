"""Assemble the CDK app from a `DeploymentConfig` and synthesize it in-process.

`synth` needs neither AWS credentials nor the CDK CLI: it runs the app with jsii (on the
project's Node 24) and writes one CloudFormation template per stack, plus the staged assets
(the Lambda bundle and the agent image's build context), into a cloud assembly directory
that `cdk deploy --app <dir>` accepts as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from serverless_openclaw.infra.bundle import build_lambda_bundle, package_dir
from serverless_openclaw.infra.config import DeploymentConfig, StackKind
from serverless_openclaw.infra.node import use_project_node

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def repo_root() -> Path:
    """The checkout this package runs from (where container/ and web/ live)."""
    return package_dir().parents[1]


def default_web_dist(root: Path) -> Path | None:
    dist = root / "web" / "dist"
    return dist if (dist / "index.html").exists() else None


@dataclass(frozen=True)
class SynthResult:
    assembly_dir: Path
    templates: dict[str, Path]
    """Stack name -> template file."""
    stack_names: dict[StackKind, str]


def build_app(
    config: DeploymentConfig,
    *,
    code_dir: Path,
    outdir: Path,
    web_dist: Path | None = None,
    checks: bool = True,
) -> tuple[object, dict[StackKind, object]]:
    """The app and its stacks (typed as `object` so callers need not import aws_cdk first)."""
    from aws_cdk import App, Aspects, Environment, Tags
    from cdk_nag import AwsSolutionsChecks

    from serverless_openclaw.infra import stacks
    from serverless_openclaw.infra.components.agent import agent_image
    from serverless_openclaw.infra.nag import Arm64Everywhere

    # Cross-stack references stay "strong" (exports protect producers), said explicitly.
    app = App(
        outdir=str(outdir),
        context={"@aws-cdk/core:defaultCrossStackReferences": "strong"},
    )
    # Region only: the account stays a CloudFormation pseudo parameter, so the templates need
    # no context lookups (AZs are Fn::GetAZs) and synth never talks to AWS.
    env = Environment(region=config.region)
    name = config.stack_name
    network = stacks.NetworkStack(
        app, "Network", stack_name=name("network"), env=env, config=config
    )
    storage = stacks.StorageStack(
        app, "Storage", stack_name=name("storage"), env=env, config=config
    )
    auth = stacks.AuthStack(app, "Auth", stack_name=name("auth"), env=env, config=config)
    compute = stacks.ComputeStack(
        app,
        "Compute",
        stack_name=name("compute"),
        env=env,
        config=config,
        network=network.network,
        storage=storage.storage,
        image=agent_image(config, repo_root()),
    )
    api = stacks.ApiStack(
        app,
        "Api",
        stack_name=name("api"),
        env=env,
        config=config,
        code_dir=code_dir,
        network=network.network,
        storage=storage.storage,
        auth=auth.auth,
        agent=compute.agent,
    )
    web = stacks.WebStack(
        app,
        "Web",
        stack_name=name("web"),
        env=env,
        config=config,
        auth=auth.auth,
        storage=storage.storage,
        control_plane=api.control_plane,
        dist_dir=web_dist,
    )
    monitoring = stacks.MonitoringStack(
        app,
        "Monitoring",
        stack_name=name("monitoring"),
        env=env,
        config=config,
        agent=compute.agent,
        storage=storage.storage,
    )
    Tags.of(app).add("project", "serverless-openclaw")
    Tags.of(app).add("deployment", config.prefix)
    Aspects.of(app).add(Arm64Everywhere())
    if checks:
        Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    all_stacks: dict[StackKind, object] = {
        "network": network,
        "storage": storage,
        "auth": auth,
        "compute": compute,
        "api": api,
        "web": web,
        "monitoring": monitoring,
    }
    return app, all_stacks


def synth(
    config: DeploymentConfig,
    outdir: Path,
    *,
    code_dir: Path | None = None,
    web_dist: Path | None = None,
    checks: bool = True,
    progress: Progress = _quiet,
) -> SynthResult:
    """Write every stack's template (and staged assets) into `outdir`."""
    use_project_node(progress=progress)
    code = code_dir or build_lambda_bundle(progress=progress)
    dist = web_dist or config.web_dist or default_web_dist(repo_root())
    outdir.mkdir(parents=True, exist_ok=True)
    progress("synthesizing the CDK app")
    app, all_stacks = build_app(config, code_dir=code, outdir=outdir, web_dist=dist, checks=checks)
    from aws_cdk import App, Stack

    assert isinstance(app, App)
    assembly = app.synth()
    templates: dict[str, Path] = {}
    names: dict[StackKind, str] = {}
    for kind, stack in all_stacks.items():
        assert isinstance(stack, Stack)
        artifact = assembly.get_stack_artifact(stack.artifact_id)
        templates[stack.stack_name] = Path(assembly.directory) / artifact.template_file
        names[kind] = stack.stack_name
    return SynthResult(
        assembly_dir=Path(assembly.directory), templates=templates, stack_names=names
    )
