"""`serverless-openclaw dev`: the whole product on this machine, no AWS account needed.

Signals, as uvicorn handles them: the handler only records the signal. The first SIGINT or
SIGTERM stops the stack in order — agents get SIGTERM and a bounded time to finish their turn
and back up (`stop_timeout_seconds`), then the servers stop; a second one stops at once
(agents are killed; everything they acknowledged is on disk already). A signal during start-up
stops the start. A port in use is one line and exit code 2, never a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.panel import Panel

from serverless_openclaw.core.errors import Conflict, OpenClawError, PortInUse
from serverless_openclaw.runtime import installer as oc_runtime
from serverless_openclaw.settings import DevSettings

console = Console()
errors = Console(stderr=True)

EXIT_USAGE = 2
"""A port in use or a state dir in use by another stack: the person must choose."""


def _progress(line: str) -> None:
    console.print(f"[dim]•[/] {line}", highlight=False)


def banner(endpoints: Any, settings: DevSettings) -> Panel:
    lines = [f"[bold]Open[/] {endpoints.url}"]
    if not endpoints.web_built:
        lines.append("[yellow]The web app is not built: run scripts/bootstrap.[/]")
    user = endpoints.first_user
    if user and user.get("temporary"):
        lines.append(
            f"[bold]Sign in[/] as [cyan]{user['username']}[/] with the temporary password "
            f"[cyan]{user['password']}[/] (shown once): you choose your own at first sign-in."
        )
    elif user:
        lines.append(
            f"[bold]Sign in[/] as [cyan]{user['username']}[/] with password "
            f"[cyan]{user['password']}[/]  (shown once; keep it)"
        )
    else:
        lines.append("Sign in with your account (`serverless-openclaw user add EMAIL` adds one).")
    lines.append(
        f"Model: {endpoints.model_provider}"
        + (
            " (offline, labelled; set ANTHROPIC_API_KEY or OPENAI_API_KEY in .env for a real model)"
            if endpoints.model_provider == "offline"
            else ""
        )
    )
    lines.append(
        f"Stop with Ctrl+C (twice: at once) — state is kept in {settings.state_dir}"
        f" ({endpoints.backend} backend)"
    )
    return Panel("\n".join(lines), title="serverless-openclaw dev", expand=False)


async def run_dev(settings: DevSettings) -> None:
    """Start the stack, print the banner, run until a signal, stop."""
    from serverless_openclaw.local.stack import DevStack

    stack = DevStack(settings, progress=_progress)
    stopping = asyncio.Event()
    received = 0

    def on_signal() -> None:
        nonlocal received
        received += 1
        if received == 1:
            stopping.set()
        else:  # the kill itself runs in a worker thread: a handler only records
            stack.force.set()
            loop.run_in_executor(None, stack.kill_now)

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    try:
        starting = asyncio.create_task(stack.start(), name="start")
        waiting = asyncio.create_task(stopping.wait(), name="signal")
        await asyncio.wait({starting, waiting}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            endpoints = await starting
            console.print(banner(endpoints, settings))
            await waiting
        waiting.cancel()
    finally:
        if stack.endpoints is not None:
            console.print("stopping...")
        await stack.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def dev(
    port: Annotated[
        int | None,
        typer.Option(help="Port of the web app and APIs (backend aws: moto on the next one)."),
    ] = None,
    state_dir: Annotated[
        Path | None, typer.Option(help="Where local state is kept between runs.")
    ] = None,
    backend: Annotated[
        str | None,
        typer.Option(
            help="embedded (default: SQLite, crash-safe) or aws (boto3 against moto, as CI)."
        ),
    ] = None,
    watchdog_interval: Annotated[
        float | None, typer.Option(help="Seconds between watchdog ticks (AWS: 60).")
    ] = None,
) -> None:
    """Run everything locally: storage, identity, API Gateway, agents, web app, offline model."""
    overrides: dict[str, Any] = {}
    if port is not None:
        overrides["port"] = port
    if state_dir is not None:
        overrides["state_dir"] = state_dir
    if backend is not None:
        if backend not in ("embedded", "aws"):
            errors.print(f"[red]error:[/] --backend is embedded or aws, not {backend!r}")
            raise typer.Exit(EXIT_USAGE)
        chosen: Literal["embedded", "aws"] = "aws" if backend == "aws" else "embedded"
        overrides["backend"] = chosen
    if watchdog_interval is not None:
        overrides["watchdog_interval_seconds"] = watchdog_interval
    settings = DevSettings(**overrides)
    if oc_runtime.locate() is None:
        console.print("[bold]First run:[/] installing the pinned OpenClaw runtime...")
        try:
            oc_runtime.install(progress=_progress)
        except OpenClawError as exc:
            errors.print(f"[red]error:[/] {exc}")
            raise typer.Exit(1) from exc
    try:
        asyncio.run(run_dev(settings))
    except (PortInUse, Conflict) as exc:
        errors.print(f"error: {exc}", highlight=False, markup=False)
        raise typer.Exit(EXIT_USAGE) from exc
    except (OSError, OpenClawError) as exc:
        errors.print(f"error: {exc}", highlight=False, markup=False)
        raise typer.Exit(1) from exc
