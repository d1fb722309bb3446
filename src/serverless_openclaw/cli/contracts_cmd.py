"""`serverless-openclaw contracts ...`: the JSON Schema the web client is typed from."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from serverless_openclaw.contracts.schema import export_text

app = typer.Typer(help="Export the contracts (pydantic models) as JSON Schema for the web client.")

_REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_OUT = _REPO_ROOT / "web" / "src" / "generated" / "contracts.schema.json"
"""Where the web build reads it; only meaningful in a source checkout (editable install)."""


def run_export(out: Path) -> bool:
    """Write the schema to `out`; return whether the file changed."""
    text = export_text()
    if out.exists() and out.read_text(encoding="utf-8") == text:
        return False
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return True


@app.command("export")
def export_cmd(
    out: Annotated[
        Path | None,
        typer.Option("--out", help="File to write (default: the web client's copy)."),
    ] = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="Write nothing; exit 1 when the file is out of date."),
    ] = False,
) -> None:
    """Write web/src/generated/contracts.schema.json from the pydantic models."""
    console = Console()
    target = out or DEFAULT_OUT
    if out is None and not target.parent.parent.parent.is_dir():
        console.print("[red]No web/ next to this package; pass --out PATH.[/red]")
        raise typer.Exit(2)
    if check:
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current != export_text():
            console.print(
                f"[red]{target} is out of date[/red]: run `serverless-openclaw contracts export`"
            )
            raise typer.Exit(1)
        console.print(f"{target} is up to date")
        return
    changed = run_export(target)
    console.print(f"{'wrote' if changed else 'unchanged'} {target}")
