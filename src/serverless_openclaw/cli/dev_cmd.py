"""`serverless-openclaw dev`: the whole product on this machine, no AWS account needed."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.panel import Panel

from serverless_openclaw.core.errors import OpenClawError
from serverless_openclaw.runtime import installer as oc_runtime
from serverless_openclaw.settings import DevSettings

console = Console()


def _progress(line: str) -> None:
    console.print(f"[dim]•[/] {line}")


async def run_dev(settings: DevSettings) -> None:
    from serverless_openclaw.local.stack import DevStack

    stack = DevStack(settings, progress=_progress)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        endpoints = await stack.start()
        lines = [f"[bold]Open[/] {endpoints.url}"]
        if not endpoints.web_built:
            lines.append("[yellow]The web app is not built: run scripts/bootstrap.[/]")
        if endpoints.first_user:
            lines.append(
                f"[bold]Sign in[/] as [cyan]{endpoints.first_user['username']}[/] with password "
                f"[cyan]{endpoints.first_user['password']}[/]  (shown once; keep it)"
            )
        else:
            lines.append("Sign in with the user created on the first start.")
        lines.append(
            f"Model: {endpoints.model_provider}"
            + (
                " (offline, labelled; set ANTHROPIC_API_KEY or OPENAI_API_KEY in .env for a"
                " real model)"
                if endpoints.model_provider == "offline"
                else ""
            )
        )
        lines.append("Stop with Ctrl+C — state is kept in " + str(settings.state_dir))
        console.print(Panel("\n".join(lines), title="serverless-openclaw dev", expand=False))
        await stop.wait()
    finally:
        console.print("stopping...")
        await stack.stop()


def dev(
    port: Annotated[int | None, typer.Option(help="Port of the web app and APIs.")] = None,
    state_dir: Annotated[
        Path | None, typer.Option(help="Where local state is kept between runs.")
    ] = None,
    watchdog_interval: Annotated[
        float | None, typer.Option(help="Seconds between watchdog ticks (AWS: 60).")
    ] = None,
) -> None:
    """Run everything locally: AWS services, API Gateway, agents, web app, offline model."""
    overrides: dict[str, Any] = {}
    if port is not None:
        overrides["port"] = port
    if state_dir is not None:
        overrides["state_dir"] = state_dir
    if watchdog_interval is not None:
        overrides["watchdog_interval_seconds"] = watchdog_interval
    settings = DevSettings(**overrides)
    if oc_runtime.locate() is None:
        console.print("[bold]First run:[/] installing the pinned OpenClaw runtime...")
        try:
            oc_runtime.install(progress=_progress)
        except OpenClawError as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(1) from exc
    try:
        asyncio.run(run_dev(settings))
    except OSError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
