"""`serverless-openclaw user add|remove|list`: who may use the deployment (self sign-up is off)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from serverless_openclaw.adapters.aws.clients import AwsClients
from serverless_openclaw.adapters.aws.users import UserAdmin
from serverless_openclaw.cli.deploy_cmd import DeployError, load_config, user_pool_id
from serverless_openclaw.core.errors import OpenClawError

app = typer.Typer(help="Add, remove and list the people who may use your agent.")
console = Console()
errors = Console(stderr=True)

PoolOpt = Annotated[
    str | None,
    typer.Option(help="User pool id (default: read from the deployed <prefix>-auth stack)."),
]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="Deployment settings file.")]
PrefixOpt = Annotated[str | None, typer.Option(help="Resource name prefix.")]
RegionOpt = Annotated[str | None, typer.Option(help="AWS region.")]


def admin(
    *, pool_id: str | None, config_file: Path | None, prefix: str | None, region: str | None
) -> UserAdmin:
    config = load_config(config_file, {"prefix": prefix, "region": region})
    clients = AwsClients(config.region)
    pool = pool_id or user_pool_id(clients, config.prefix)
    return UserAdmin(clients.cognito_idp(), pool)


def _fail(exc: OpenClawError) -> typer.Exit:
    errors.print(f"[red]error:[/red] {exc}")
    return typer.Exit(1)


@app.command("add")
def add(
    email: Annotated[str, typer.Argument(help="E-mail address the person signs in with.")],
    invite: Annotated[
        bool,
        typer.Option("--invite/--no-invite", help="Let Cognito e-mail a temporary password."),
    ] = True,
    temporary_password: Annotated[
        str | None, typer.Option(help="Set the temporary password yourself.")
    ] = None,
    pool_id: PoolOpt = None,
    config_file: ConfigOpt = None,
    prefix: PrefixOpt = None,
    region: RegionOpt = None,
) -> None:
    """Add a user; they choose their own password at first sign-in."""
    try:
        if not invite and temporary_password is None:
            raise DeployError("--no-invite needs --temporary-password (to hand over yourself)")
        users = admin(pool_id=pool_id, config_file=config_file, prefix=prefix, region=region)
        user = users.add(email, temporary_password=temporary_password, send_invite=invite)
    except OpenClawError as exc:
        raise _fail(exc) from exc
    how = "an invitation e-mail is on its way" if invite else "hand over the temporary password"
    console.print(f"added {user.email or user.username} ({user.status}): {how}")


@app.command("remove")
def remove(
    email: Annotated[str, typer.Argument(help="The user's e-mail address.")],
    pool_id: PoolOpt = None,
    config_file: ConfigOpt = None,
    prefix: PrefixOpt = None,
    region: RegionOpt = None,
) -> None:
    """Remove a user: they can no longer sign in (their conversations stay in the tables)."""
    try:
        admin(pool_id=pool_id, config_file=config_file, prefix=prefix, region=region).remove(email)
    except OpenClawError as exc:
        raise _fail(exc) from exc
    console.print(f"removed {email}")


@app.command("list")
def list_users(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    pool_id: PoolOpt = None,
    config_file: ConfigOpt = None,
    prefix: PrefixOpt = None,
    region: RegionOpt = None,
) -> None:
    """List the users of the deployment."""
    try:
        users = admin(pool_id=pool_id, config_file=config_file, prefix=prefix, region=region).list()
    except OpenClawError as exc:
        raise _fail(exc) from exc
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "username": user.username,
                        "email": user.email,
                        "status": user.status,
                        "enabled": user.enabled,
                        "createdAt": user.created_at.isoformat() if user.created_at else None,
                    }
                    for user in users
                ],
                indent=2,
            )
        )
        return
    table = Table(title=f"{len(users)} user(s)")
    for column in ("e-mail", "status", "enabled", "created"):
        table.add_column(column)
    for user in users:
        created = f"{user.created_at:%Y-%m-%d}" if user.created_at else ""
        table.add_row(user.email or user.username, user.status, str(user.enabled), created)
    console.print(table)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="user")
