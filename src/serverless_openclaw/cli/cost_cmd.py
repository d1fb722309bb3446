"""`serverless-openclaw cost`: the monthly estimate of the cost model, itemised."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from serverless_openclaw.core.cost import CostEstimate, UsageProfile, estimate, with_heartbeat


def build_profile(
    *,
    profile_file: Path | None,
    overrides: dict[str, Any],
) -> UsageProfile:
    """The profile file's values (if any), then the command-line options that were given."""
    base: dict[str, Any] = {}
    if profile_file is not None:
        try:
            base = json.loads(profile_file.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise typer.BadParameter(f"cannot read {profile_file}: {exc}") from exc
        if not isinstance(base, dict):
            raise typer.BadParameter(f"{profile_file} must hold a JSON object")
    base.update({key: value for key, value in overrides.items() if value is not None})
    try:
        return UsageProfile(**base)
    except ValidationError as exc:
        raise typer.BadParameter(str(exc)) from exc


def render(result: CostEstimate, console: Console) -> None:
    p = result.profile
    table = Table(
        title=(
            f"Monthly estimate: {p.users} user(s), {p.hours_per_day:g} h/day, "
            f"{p.messages_per_day:g} messages/day, {p.days_per_month} days"
        ),
        caption=(
            f"{result.prices.region} prices as of {result.prices.as_of}; free tiers "
            f"{'applied' if result.free_tier else 'not applied (--free-tier applies them)'}"
        ),
    )
    table.add_column("service")
    table.add_column("item")
    table.add_column("quantity", justify="right")
    table.add_column("USD", justify="right")
    for item in result.items:
        quantity = f"{item.quantity:,.4g} {item.unit}"
        if item.free_quantity:
            quantity += f" ({item.free_quantity:,.4g} free)"
        table.add_row(item.service, item.description, quantity, f"{item.usd:.4f}")
    table.add_section()
    table.add_row(
        "", "total_usd_per_month (AWS, before LLM tokens)", "", f"{result.total_usd_per_month:.2f}"
    )
    console.print(table)
    llm = result.llm
    tokens = (
        f"LLM tokens (paid to the provider, not in the total): {llm.input_tokens:,.0f} input + "
        f"{llm.output_tokens:,.0f} output a month"
    )
    if llm.usd is None:
        tokens += " - pass --llm-input-usd-per-mtok/--llm-output-usd-per-mtok for a price"
    else:
        tokens += f" = {llm.usd:.2f} USD"
    console.print(tokens)


def cost(
    hours_per_day: Annotated[
        float | None, typer.Option(help="Hours each user's agent task runs a day.")
    ] = None,
    messages_per_day: Annotated[
        float | None, typer.Option(help="Messages each user sends a day.")
    ] = None,
    users: Annotated[int | None, typer.Option(help="Number of users.")] = None,
    free_tier: Annotated[
        bool, typer.Option("--free-tier", help="Deduct AWS's always-free allowances.")
    ] = False,
    profile: Annotated[
        Path | None,
        typer.Option(help="JSON file with any field of the usage profile (see docs/cost.md)."),
    ] = None,
    llm_input_usd_per_mtok: Annotated[
        float | None, typer.Option(help="Your model's price per million input tokens.")
    ] = None,
    llm_output_usd_per_mtok: Annotated[
        float | None, typer.Option(help="Your model's price per million output tokens.")
    ] = None,
    heartbeat: Annotated[
        str,
        typer.Option(
            help="Heartbeat policy: off (default), active-hours or openclaw (every 30 min, "
            "waking the agent each time)."
        ),
    ] = "off",
    idle_timeout: Annotated[
        float, typer.Option(help="Idle timeout in minutes (for the heartbeat's cost).")
    ] = 15.0,
    task_cpu: Annotated[
        int | None,
        typer.Option(help="Task CPU units, as `deploy --task-cpu` (1024 = 1 vCPU)."),
    ] = None,
    task_memory: Annotated[
        int | None, typer.Option(help="Task memory in MiB, as `deploy --task-memory`.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Estimate the monthly AWS cost for a usage profile, item by item."""
    usage = build_profile(
        profile_file=profile,
        overrides={
            "hours_per_day": hours_per_day,
            "messages_per_day": messages_per_day,
            "users": users,
            "llm_input_usd_per_mtok": llm_input_usd_per_mtok,
            "llm_output_usd_per_mtok": llm_output_usd_per_mtok,
        },
    )
    if task_cpu is not None or task_memory is not None:
        cpu, memory = fargate_size(task_cpu, task_memory)
        usage = usage.model_copy(update={"task_vcpu": cpu / 1024, "task_memory_gb": memory / 1024})
    if heartbeat not in ("off", "active-hours", "openclaw"):
        raise typer.BadParameter("off, active-hours or openclaw", param_hint="--heartbeat")
    usage = with_heartbeat(usage, heartbeat, idle_timeout_minutes=idle_timeout)
    result = estimate(usage, free_tier=free_tier)
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
    else:
        render(result, Console())


def fargate_size(task_cpu: int | None, task_memory: int | None) -> tuple[int, int]:
    """The size `deploy` would accept with these options (same defaults, same check)."""
    from serverless_openclaw.infra.config import DeploymentConfig

    values = {"task_cpu": task_cpu, "task_memory_mib": task_memory}
    try:
        config = DeploymentConfig(**{k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        raise typer.BadParameter(
            str(exc.errors()[0].get("msg", "invalid")), param_hint="--task-cpu/--task-memory"
        ) from exc
    return config.task_cpu, config.task_memory_mib


def register(app: typer.Typer) -> None:
    app.command(name="cost")(cost)
