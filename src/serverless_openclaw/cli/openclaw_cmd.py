"""`serverless-openclaw openclaw ...`: the pinned OpenClaw runtime on this machine."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from serverless_openclaw.core.errors import RuntimeInstallError, UpgradeRefused
from serverless_openclaw.core.pins import NODE_VERSION, OPENCLAW_VERSION
from serverless_openclaw.runtime import installer as oc_runtime
from serverless_openclaw.runtime.upgrade import (
    PinFile,
    UpgradeReport,
    checkout_root,
    run_rollback,
    run_upgrade,
)
from serverless_openclaw.runtime.upgrade_checks import LocalChecks

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


def _checks(pins: PinFile, prefix: Path | None) -> LocalChecks:
    root = checkout_root(pins.path)
    if root is None:  # pragma: no cover - PinFile.of_checkout refused it already
        raise UpgradeRefused(f"{pins.path} is not in a checkout")
    return LocalChecks(root=root, prefix=prefix, progress=lambda line: console.print(f"  {line}"))


def _render(report: UpgradeReport, pins: PinFile) -> None:
    for name, result in report.steps:
        mark = "[green]ok[/]" if result.ok else "[red]FAILED[/]"
        console.print(f"{mark}  {name}: {result.summary}")
        if not result.ok and result.details:
            console.print(result.details, markup=False, highlight=False)
    if report.config_changes:
        console.print(
            f"What {report.target}'s doctor makes of our generated config, compared with "
            f"{report.pinned_before}'s (the migrations its gateway applies at start):"
        )
        for line in report.config_changes:
            console.print(f"  {line}", markup=False, highlight=False)


@app.command()
def upgrade(
    version: Annotated[str, typer.Argument(help="The exact OpenClaw version, e.g. 2026.9.13.")],
    prefix: PrefixOption = None,
    check_only: Annotated[
        bool, typer.Option("--check-only", help="Run every check but leave the pin.")
    ] = False,
) -> None:
    """Install VERSION beside the pinned one, check it, and only then pin it.

    Checks: our generated config validates with VERSION, what its doctor would migrate in it
    (shown), and the OpenClaw contract tests against it. Then core/pins.py pins VERSION (the
    old pin becomes the rollback target): commit it; `deploy` builds the image with it, and a
    running agent switches at its next start.
    """
    try:
        pins = PinFile.of_checkout()
        before = pins.read().current
        console.print(f"[bold]OpenClaw {before} -> {version}[/]")
        report = run_upgrade(
            version,
            pins=pins,
            checks=_checks(pins, prefix),
            progress=lambda line: console.print(f"[dim]>[/] {line}"),
            move_pin=not check_only,
        )
    except UpgradeRefused as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    _render(report, pins)
    failed = report.failed
    if failed is not None:
        console.print(f"[red]not upgraded[/]: {failed[0]} failed; {pins.path} still pins {before}")
        raise typer.Exit(1)
    if not report.moved:
        console.print(f"[green]{version} passed every check[/] (--check-only: pin unchanged)")
        return
    console.print(
        f"[green]pinned OpenClaw {version}[/] in {pins.path} (was {before}; "
        "`serverless-openclaw openclaw rollback` returns to it).\n"
        "Next: commit the file; `serverless-openclaw deploy` builds the agent image with the "
        "new version, and each agent switches at its next start (locally: the next wake)."
    )


@app.command()
def rollback(prefix: PrefixOption = None) -> None:
    """Pin the version before the last upgrade again (after validating our config with it)."""
    try:
        pins = PinFile.of_checkout()
        pin = pins.read()
        report = run_rollback(
            pins=pins,
            checks=_checks(pins, prefix),
            progress=lambda line: console.print(f"[dim]>[/] {line}"),
        )
    except UpgradeRefused as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    _render(report, pins)
    failed = report.failed
    if failed is not None:
        console.print(f"[red]not rolled back[/]: {failed[0]} failed; still {pin.current}")
        raise typer.Exit(1)
    console.print(
        f"[green]pinned OpenClaw {report.target}[/] again in {pins.path} (was {pin.current}). "
        "Commit it and deploy; agents switch at their next start."
    )
