"""`serverless-openclaw synth|deploy|destroy|status|logs`: the deployment on AWS.

`synth` runs the CDK app in-process and needs nothing but this package (no credentials, no
CDK CLI). `deploy` and `destroy` drive the pinned AWS CDK CLI (installed from npm on first
use) on the assembly `synth` wrote. The settings of a deployment are kept in
`serverless-openclaw.json` next to where you run the command, so later commands reuse them.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from serverless_openclaw.adapters.aws.clients import AwsClients
from serverless_openclaw.adapters.aws.deployment import Deployment
from serverless_openclaw.core.errors import DeployError, OpenClawError
from serverless_openclaw.core.pins import CDK_CLI_VERSION
from serverless_openclaw.settings import environ_snapshot, runtime_cache_dir

if TYPE_CHECKING:
    from serverless_openclaw.adapters.aws.teardown import Teardown
    from serverless_openclaw.infra.app import SynthResult
    from serverless_openclaw.infra.config import DeploymentConfig, StackKind

CONFIG_FILE: Final = Path("serverless-openclaw.json")
WORK_DIR: Final = Path(".serverless-openclaw")
BOOTSTRAP_PARAM: Final = "/cdk-bootstrap/hnb659fds/version"
LOG_TARGETS: Final = (
    "agent",
    "ws_connect",
    "ws_message",
    "ws_disconnect",
    "http_api",
    "watchdog",
    "telegram_webhook",
    "http-access",
)

Progress = Callable[[str], None]
console = Console()
errors = Console(stderr=True)


# --- configuration -------------------------------------------------------------------------
def load_config(path: Path | None, overrides: dict[str, Any]) -> DeploymentConfig:
    """The saved settings (if any), then the options given on the command line."""
    from serverless_openclaw.infra.config import DeploymentConfig

    source = path or CONFIG_FILE
    values: dict[str, Any] = {}
    if source.exists():
        try:
            values = json.loads(source.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise DeployError(f"cannot read {source}: {exc}") from exc
    elif path is not None:
        raise DeployError(f"{path} does not exist")
    values.update({key: value for key, value in overrides.items() if value is not None})
    domain = values.pop("domain", None)
    certificate = values.pop("certificate_arn", None)
    if domain or certificate:
        if not (domain and certificate):
            raise DeployError("--domain needs --certificate-arn (an ACM certificate in us-east-1)")
        values["custom_domain"] = {"domain_name": domain, "certificate_arn": certificate}
    try:
        return DeploymentConfig(**values)
    except ValidationError as exc:
        raise DeployError(f"invalid deployment settings:\n{exc}") from exc


def save_config(config: DeploymentConfig, path: Path | None) -> Path:
    target = path or CONFIG_FILE
    target.write_text(json.dumps(config.model_dump(mode="json", exclude_defaults=True), indent=2))
    return target


# --- AWS (the operator's credentials: adapters/aws/deployment.py) ---------------------------
def caller_account(clients: AwsClients) -> str:
    return Deployment(clients).account()


def stack_outputs(clients: AwsClients, stack_name: str) -> dict[str, str] | None:
    """The outputs of a deployed stack, or None when it does not exist."""
    return Deployment(clients).stack_outputs(stack_name)


def user_pool_id(clients: AwsClients, prefix: str) -> str:
    outputs = stack_outputs(clients, f"{prefix}-auth")
    if not outputs or "UserPoolId" not in outputs:
        raise DeployError(
            f"stack {prefix}-auth is not deployed in {clients.region}: run "
            "`serverless-openclaw deploy` first, or pass --pool-id"
        )
    return outputs["UserPoolId"]


def parameter_exists(clients: AwsClients, name: str) -> bool:
    return Deployment(clients).parameter_exists(name)


# --- tools ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def check_prerequisites(
    config: DeploymentConfig, clients: AwsClients
) -> tuple[list[Check], str | None]:
    """Everything `deploy` needs, checked at once so the operator fixes all of it in one go.
    Returns the checks and the account id (None without credentials)."""
    from serverless_openclaw.infra.app import default_web_dist, repo_root
    from serverless_openclaw.runtime.installer import find_node

    checks: list[Check] = []
    account: str | None = None
    try:
        account = caller_account(clients)
        checks.append(Check("AWS credentials", True, f"account {account}, {clients.region}"))
    except DeployError as exc:
        checks.append(Check("AWS credentials", False, str(exc)))
    node = find_node()
    npm = shutil.which("npm")
    checks.append(
        Check(
            "Node.js >= 24.16",
            node is not None or npm is not None,
            str(node) if node else "will be installed from npm" if npm else "install Node.js",
        )
    )
    checks.append(Check("npm", npm is not None, npm or "install npm (it fetches the AWS CDK CLI)"))
    web = config.web_dist or default_web_dist(repo_root())
    built = web is not None and (web / "index.html").exists()
    missing = "build it first: cd web && npm ci && npm run build (else the site is empty)"
    checks.append(Check("web app built (web/dist)", built, str(web) if built else missing))
    if config.agent_image is None:
        docker = shutil.which("docker")
        running = False
        if docker:
            running = (
                subprocess.run(
                    [docker, "info"], capture_output=True, timeout=30, check=False
                ).returncode
                == 0
            )
        checks.append(
            Check(
                "Docker (builds the linux/arm64 agent image)",
                running,
                "running"
                if running
                else "start Docker (with arm64 emulation on x86), or pass --agent-image",
            )
        )
    return checks, account


def cdk_cli(progress: Progress) -> list[str]:
    """The pinned AWS CDK CLI, installed from npm into the cache on first use."""
    from serverless_openclaw.infra.node import find_or_install_node

    node = find_or_install_node(progress=progress)
    prefix = runtime_cache_dir() / f"aws-cdk-{CDK_CLI_VERSION}"
    entry = prefix / "node_modules" / "aws-cdk" / "bin" / "cdk"
    if not entry.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise DeployError("npm is needed to install the AWS CDK CLI: install Node.js + npm")
        prefix.mkdir(parents=True, exist_ok=True)
        (prefix / "package.json").write_text('{"name": "soc-cdk", "private": true}\n')
        progress(f"installing the AWS CDK CLI {CDK_CLI_VERSION} with npm...")
        env = environ_snapshot()
        env["PATH"] = f"{node.parent}:{env.get('PATH', '')}"
        result = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--loglevel=error",
             f"aws-cdk@{CDK_CLI_VERSION}"],
            cwd=prefix, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0 or not entry.exists():
            tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-10:])
            raise DeployError(f"could not install the AWS CDK CLI:\n{tail}")
    return [str(node), str(entry)]


def _cdk_env() -> dict[str, str]:
    env = environ_snapshot()
    env.setdefault("CDK_DISABLE_CLI_TELEMETRY", "true")
    return env


def _run_cdk(command: list[str], what: str) -> None:
    result = subprocess.run(command, env=_cdk_env(), check=False)
    if result.returncode != 0:
        raise DeployError(f"{what} failed (exit {result.returncode}); see the output above")


# --- run functions -------------------------------------------------------------------------
def run_synth(config: DeploymentConfig, out: Path, *, progress: Progress) -> SynthResult:
    from serverless_openclaw.infra.app import synth

    return synth(config, out, progress=progress)


@dataclass(frozen=True)
class DeployResult:
    outputs: dict[str, dict[str, str]]
    """Stack name -> outputs."""
    missing_parameters: list[str]


def run_deploy(
    config: DeploymentConfig, clients: AwsClients, *, progress: Progress, dry_run: bool = False
) -> DeployResult | None:
    checks, account = check_prerequisites(config, clients)
    failed = [check for check in checks if not check.ok]
    if failed:
        lines = "\n".join(f"  - {check.name}: {check.detail}" for check in failed)
        raise DeployError(f"cannot deploy yet:\n{lines}")
    assert account is not None
    assembly = WORK_DIR / "cdk.out"
    shutil.rmtree(assembly, ignore_errors=True)
    result = run_synth(config, assembly, progress=progress)
    cdk = cdk_cli(progress)
    bootstrap = [*cdk, "bootstrap", f"aws://{account}/{config.region}"]
    outputs_file = WORK_DIR / "outputs.json"
    deploy = [
        *cdk, "deploy", "--app", str(result.assembly_dir), "--all",
        "--require-approval", "never", "--progress", "events",
        "--outputs-file", str(outputs_file),
    ]  # fmt: skip
    if dry_run:
        progress("dry run: would run\n  " + " ".join(bootstrap) + "\n  " + " ".join(deploy))
        return None
    if not parameter_exists(clients, BOOTSTRAP_PARAM):
        progress(f"bootstrapping CDK in aws://{account}/{config.region} (once per region)")
        _run_cdk(bootstrap, "cdk bootstrap")
    progress("deploying (the first deployment takes 10-20 minutes: CloudFront is slow)")
    _run_cdk(deploy, "cdk deploy")
    outputs: dict[str, dict[str, str]] = json.loads(outputs_file.read_text())
    missing = [name for name in required_parameters(config) if not parameter_exists(clients, name)]
    return DeployResult(outputs=outputs, missing_parameters=missing)


def required_parameters(config: DeploymentConfig) -> list[str]:
    """SSM SecureStrings the owner creates; ECS cannot start a task while one is missing."""
    names = [config.llm_key_param] if config.llm_key_param else []
    if config.telegram:
        names += [config.telegram_bot_token_param, config.telegram_webhook_secret_param]
    return names


DESTROY_FIRST: Final[tuple[StackKind, ...]] = ("web", "api")
"""What can start an agent task (handlers, watchdog) and what points people at it."""
DESTROY_THEN: Final[tuple[StackKind, ...]] = ("monitoring", "compute", "auth", "storage", "network")
"""After every task has stopped: dependents before what they depend on."""


def run_destroy(
    config: DeploymentConfig,
    clients: AwsClients,
    *,
    progress: Progress,
    teardown: Teardown | None = None,
) -> list[str]:
    """Delete the deployment in an order AWS accepts (see `adapters/aws/teardown.py`);
    returns the stacks deleted. Without `retain_data`, the queues made at run time go too."""
    from serverless_openclaw.adapters.aws.teardown import Teardown

    caller_account(clients)
    down = teardown or Teardown(clients, progress=progress)
    try:
        deleted = down.delete_stacks([config.stack_name(kind) for kind in DESTROY_FIRST])
        down.stop_tasks(agent_cluster(config))
        deleted += down.delete_stacks([config.stack_name(kind) for kind in DESTROY_THEN])
        if not config.retain_data:
            down.delete_queues(config.prefix)
    except OpenClawError as exc:
        raise DeployError(f"destroy stopped: {exc}") from exc
    return deleted


def agent_cluster(config: DeploymentConfig) -> str:
    """The cluster's name (infra/components/agent.py names it so)."""
    return f"{config.prefix}-agents"


@dataclass(frozen=True)
class Status:
    stacks: dict[str, str]
    outputs: dict[str, str]
    running_tasks: int | None


def run_status(config: DeploymentConfig, clients: AwsClients) -> Status:
    from serverless_openclaw.infra.config import STACK_KINDS

    caller_account(clients)
    stacks: dict[str, str] = {}
    outputs: dict[str, str] = {}
    for kind in STACK_KINDS:
        name = config.stack_name(kind)
        found = stack_outputs(clients, name)
        stacks[name] = found.pop("StackStatus") if found else "not deployed"
        outputs.update(found or {})
    running: int | None = None
    if "ClusterName" in outputs:
        running = Deployment(clients).running_tasks(outputs["ClusterName"])
    return Status(stacks=stacks, outputs=outputs, running_tasks=running)


def log_group(config: DeploymentConfig, target: str) -> str:
    if target == "agent":
        return f"/{config.prefix}/agent"
    if target == "http-access":
        return f"/{config.prefix}/http-access"
    return f"/aws/lambda/{config.prefix}-{target.replace('_', '-')}"


def parse_since(text: str) -> timedelta:
    match = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if not match:
        raise DeployError(f"--since {text!r}: use e.g. 30s, 15m, 2h or 1d")
    amount, unit = int(match.group(1)), match.group(2)
    return timedelta(**{{"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[unit]: amount})


def run_logs(
    config: DeploymentConfig,
    clients: AwsClients,
    *,
    target: str,
    since: timedelta,
    pattern: str | None,
    follow: bool,
    sink: Callable[[str], None],
    poll_seconds: float = 2.0,
) -> None:
    deployment = Deployment(clients)
    group = log_group(config, target)
    start = int((datetime.now(UTC) - since).timestamp() * 1000)
    seen: set[str] = set()
    while True:
        for event in deployment.log_events(group, start_ms=start, pattern=pattern):
            if event.id in seen:
                continue
            seen.add(event.id)
            start = max(start, int(event.at.timestamp() * 1000))
            sink(f"{event.at:%H:%M:%S} {event.stream}  {event.message}")
        if not follow:
            return
        time.sleep(poll_seconds)


# --- command line --------------------------------------------------------------------------
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help=f"Settings file (default: ./{CONFIG_FILE}).")
]
PrefixOpt = Annotated[str | None, typer.Option(help="Resource name prefix.")]
RegionOpt = Annotated[str | None, typer.Option(help="AWS region.")]
TaskCpuOpt = Annotated[int | None, typer.Option(help="Task CPU units (1024 = 1 vCPU).")]
TaskMemoryOpt = Annotated[int | None, typer.Option(help="Task memory in MiB.")]
IdleOpt = Annotated[
    int | None, typer.Option("--idle-timeout", help="Minutes before an idle agent stops.")
]
ProviderOpt = Annotated[
    str | None,
    typer.Option(help="LLM provider: anthropic, openai, bedrock, openai-compatible, offline."),
]
ModelOpt = Annotated[str | None, typer.Option(help="Model id for the provider.")]
DomainOpt = Annotated[str | None, typer.Option(help="Custom domain of the web app.")]
CertOpt = Annotated[str | None, typer.Option(help="ACM certificate (us-east-1) for --domain.")]
TelegramOpt = Annotated[
    bool | None, typer.Option("--telegram/--no-telegram", help="Telegram webhook on/off.")
]
EmailOpt = Annotated[str | None, typer.Option(help="E-mail address for alarms.")]
AlarmsOpt = Annotated[
    bool | None, typer.Option("--alarms/--no-alarms", help="CloudWatch alarms ($0.10 each).")
]
ImageOpt = Annotated[
    str | None, typer.Option(help="Prebuilt agent image URI instead of building the Dockerfile.")
]
RetainOpt = Annotated[
    bool | None,
    typer.Option("--retain-data/--no-retain-data", help="Keep tables, bucket, users on destroy."),
]


def _overrides(**values: Any) -> dict[str, Any]:
    renamed = {
        "task_memory": "task_memory_mib",
        "idle_timeout": "idle_timeout_minutes",
        "llm_provider": "llm_provider",
    }
    return {renamed.get(key, key): value for key, value in values.items()}


def _fail(exc: OpenClawError) -> typer.Exit:
    errors.print(f"[red]error:[/red] {exc}")
    return typer.Exit(1)


def _say(line: str) -> None:
    console.print(f"[dim]>[/dim] {line}")


def synth_command(
    out: Annotated[Path, typer.Option(help="Directory for the templates.")] = Path("cdk.out"),
    config_file: ConfigOpt = None,
    prefix: PrefixOpt = None,
    region: RegionOpt = None,
    task_cpu: TaskCpuOpt = None,
    task_memory: TaskMemoryOpt = None,
    idle_timeout: IdleOpt = None,
    llm_provider: ProviderOpt = None,
    model_id: ModelOpt = None,
    domain: DomainOpt = None,
    certificate_arn: CertOpt = None,
    telegram: TelegramOpt = None,
    alarm_email: EmailOpt = None,
    alarms: AlarmsOpt = None,
    agent_image: ImageOpt = None,
    retain_data: RetainOpt = None,
) -> None:
    """Write every stack's CloudFormation template to --out (offline, no AWS credentials)."""
    try:
        config = load_config(config_file, _overrides(**{
            "prefix": prefix, "region": region, "task_cpu": task_cpu, "task_memory": task_memory,
            "idle_timeout": idle_timeout, "llm_provider": llm_provider, "model_id": model_id,
            "domain": domain, "certificate_arn": certificate_arn, "telegram": telegram,
            "alarm_email": alarm_email, "alarms": alarms, "agent_image": agent_image,
            "retain_data": retain_data,
        }))  # fmt: skip
        result = run_synth(config, out, progress=_say)
    except OpenClawError as exc:
        raise _fail(exc) from exc
    for name, path in result.templates.items():
        console.print(f"{name}: {path}")


def deploy_command(
    config_file: ConfigOpt = None,
    prefix: PrefixOpt = None,
    region: RegionOpt = None,
    task_cpu: TaskCpuOpt = None,
    task_memory: TaskMemoryOpt = None,
    idle_timeout: IdleOpt = None,
    llm_provider: ProviderOpt = None,
    model_id: ModelOpt = None,
    domain: DomainOpt = None,
    certificate_arn: CertOpt = None,
    telegram: TelegramOpt = None,
    alarm_email: EmailOpt = None,
    alarms: AlarmsOpt = None,
    agent_image: ImageOpt = None,
    retain_data: RetainOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and synthesize, print the CDK commands.")
    ] = False,
) -> None:
    """Check prerequisites, bootstrap CDK if needed, deploy every stack, print the URLs."""
    try:
        config = load_config(config_file, _overrides(**{
            "prefix": prefix, "region": region, "task_cpu": task_cpu, "task_memory": task_memory,
            "idle_timeout": idle_timeout, "llm_provider": llm_provider, "model_id": model_id,
            "domain": domain, "certificate_arn": certificate_arn, "telegram": telegram,
            "alarm_email": alarm_email, "alarms": alarms, "agent_image": agent_image,
            "retain_data": retain_data,
        }))  # fmt: skip
        clients = AwsClients(config.region)
        result = run_deploy(config, clients, progress=_say, dry_run=dry_run)
    except OpenClawError as exc:
        raise _fail(exc) from exc
    if result is None:
        return
    saved = save_config(config, config_file)
    _print_deployed(config, result, saved)


def _print_deployed(config: DeploymentConfig, result: DeployResult, saved: Path) -> None:
    flat: dict[str, str] = {}
    for outputs in result.outputs.values():
        flat.update(outputs)
    table = Table(title="serverless-openclaw is deployed", show_header=False)
    for key in ("WebUrl", "WebSocketUrl", "HttpApiUrl", "UserPoolId", "TelegramWebhookUrl"):
        if key in flat:
            table.add_row(key, flat[key])
    console.print(table)
    console.print(f"Settings saved to {saved} (later commands reuse them).")
    console.print("\n[bold]Next steps[/bold]")
    step = 1
    for name in result.missing_parameters:
        console.print(
            f"{step}. Store the secret: aws ssm put-parameter --region {config.region} "
            f"--type SecureString --name {name} --value '<value>'"
        )
        step += 1
    console.print(f"{step}. Add yourself: serverless-openclaw user add you@example.com")
    console.print(f"{step + 1}. Open {flat.get('WebUrl', 'the web app')} and sign in.")
    if config.telegram and "TelegramWebhookUrl" in flat:
        console.print(
            f"{step + 2}. Point your bot at {flat['TelegramWebhookUrl']} with the secret from "
            f"{config.telegram_webhook_secret_param} (setWebhook secret_token)."
        )


def destroy_command(
    config_file: ConfigOpt = None,
    prefix: PrefixOpt = None,
    region: RegionOpt = None,
    retain_data: RetainOpt = None,
) -> None:
    """Stop every agent task, then delete every stack. Tables, the state bucket and the user
    pool are kept unless the deployment was made with --no-retain-data (which also deletes
    the inbox queues made at run time)."""
    try:
        config = load_config(
            config_file, {"prefix": prefix, "region": region, "retain_data": retain_data}
        )
        run_destroy(config, AwsClients(config.region), progress=_say)
    except OpenClawError as exc:
        raise _fail(exc) from exc
    if config.retain_data:
        console.print(
            f"Kept (delete them by hand to start over): the {config.prefix}-* DynamoDB tables, "
            "the state bucket and the Cognito user pool."
        )


def status_command(
    config_file: ConfigOpt = None,
    prefix: PrefixOpt = None,
    region: RegionOpt = None,
) -> None:
    """Stacks, URLs and running agent tasks of the deployment."""
    try:
        config = load_config(config_file, {"prefix": prefix, "region": region})
        status = run_status(config, AwsClients(config.region))
    except OpenClawError as exc:
        raise _fail(exc) from exc
    table = Table(title=f"{config.prefix} in {config.region}")
    table.add_column("stack")
    table.add_column("status")
    for name, state in status.stacks.items():
        table.add_row(name, state)
    console.print(table)
    for key in ("WebUrl", "WebSocketUrl", "HttpApiUrl", "UserPoolId"):
        if key in status.outputs:
            console.print(f"{key}: {status.outputs[key]}")
    if status.running_tasks is not None:
        console.print(f"running agent tasks: {status.running_tasks}")


def logs_command(
    target: Annotated[str, typer.Argument(help=f"One of: {', '.join(LOG_TARGETS)}.")] = "agent",
    since: Annotated[str, typer.Option(help="How far back, e.g. 15m, 2h, 1d.")] = "15m",
    pattern: Annotated[
        str | None, typer.Option("--filter", help="CloudWatch Logs filter pattern.")
    ] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing.")] = False,
    config_file: ConfigOpt = None,
    prefix: PrefixOpt = None,
    region: RegionOpt = None,
) -> None:
    """Print the agent's or a handler's CloudWatch logs."""
    if target not in LOG_TARGETS:
        raise typer.BadParameter(f"choose one of {', '.join(LOG_TARGETS)}", param_hint="TARGET")
    try:
        config = load_config(config_file, {"prefix": prefix, "region": region})
        run_logs(
            config,
            AwsClients(config.region),
            target=target,
            since=parse_since(since),
            pattern=pattern,
            follow=follow,
            sink=lambda line: console.print(line, markup=False, highlight=False),
        )
    except KeyboardInterrupt:
        return
    except OpenClawError as exc:
        raise _fail(exc) from exc


def register(app: typer.Typer) -> None:
    app.command(name="synth")(synth_command)
    app.command(name="deploy")(deploy_command)
    app.command(name="destroy")(destroy_command)
    app.command(name="status")(status_command)
    app.command(name="logs")(logs_command)
