"""`serverless-openclaw openclaw ...`: the pinned OpenClaw runtime on this machine."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from serverless_openclaw.core.errors import RuntimeInstallError
from serverless_openclaw.core.pins import NODE_VERSION, OPENCLAW_VERSION
from serverless_openclaw.runtime import installer as oc_runtime

app = typer.Typer(
    help="Install and inspect the pinned OpenClaw runtime (Node 24 + openclaw).",
    no_args_is_help=True,
)
console = Console(stderr=True)

PrefixOption = Annotated[
    Path | None,
    typer.Option(help="Install here instead of the per-user cache (~/.cache/serverless-openclaw)."),
]


@app.command()
def install(prefix: PrefixOption = None) -> None:
    """Install Node 24 (only if no Node >= 24.16 is on PATH) and openclaw@<pinned version>."""
    console.print(f"[bold]OpenClaw {OPENCLAW_VERSION}[/] (Node {NODE_VERSION} if needed)")
    try:
        with console.status("installing...") as status:

            def progress(line: str) -> None:
                console.print(f"  {line}")
                status.update(line)

            found = oc_runtime.install(prefix, progress=progress)
    except RuntimeInstallError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"[green]ready[/]: node {found.node}\n       openclaw {found.entry}")


@app.command()
def where(prefix: PrefixOption = None) -> None:
    """Print where the runtime is installed (exit 1 when it is not)."""
    found = oc_runtime.locate(prefix)
    if found is None:
        console.print("OpenClaw is not installed: run `serverless-openclaw openclaw install`.")
        raise typer.Exit(1)
    typer.echo(f"node={found.node}\nopenclaw={found.entry}\nversion={found.version}")
