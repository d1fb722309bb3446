"""`serverless-openclaw user add|remove|list`: who may use the deployment (self sign-up is off).

Which users: the deployed pool (from `serverless-openclaw.json` or the flags), or the local
stack's. The local stack is chosen with `--local` (its state dir: `--state-dir`, else
`SOC_DEV_STATE_DIR`/`.env`, else `.dev-state`), and by default when the current folder has a
local state dir but no deployment settings file — running `serverless-openclaw dev` and then
`serverless-openclaw user add ...` in the same folder needs nothing else. Locally nothing is
e-mailed: `user add` prints the temporary password, which the person replaces at first
sign-in.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from serverless_openclaw.adapters.aws.clients import AwsClients
from serverless_openclaw.adapters.aws.users import UserAdmin
from serverless_openclaw.cli.deploy_cmd import (
    CONFIG_FILE,
    load_config,
    user_pool_id,
)
from serverless_openclaw.core.errors import DeployError, OpenClawError
from serverless_openclaw.ports.identity import UserDirectory
from serverless_openclaw.settings import DevSettings

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
LocalOpt = Annotated[
    bool | None,
    typer.Option(
        "--local/--deployed",
        help="The local stack's users, or the deployed pool's (default: local when this "
        "folder has a local state dir and no deployment settings file).",
    ),
]
StateDirOpt = Annotated[
    Path | None, typer.Option(help="The local stack's state dir (implies --local).")
]


def local_state_dir(
    local: bool | None, state_dir: Path | None, config_file: Path | None
) -> Path | None:
    """Where the local stack's users are, or None for the deployed pool."""
    if local is False:
        return None
    if state_dir is not None:
        return state_dir
    default = DevSettings().state_dir
    if local:
        return default
    deployed = (config_file or CONFIG_FILE).exists()
    return default if (default / "dev.json").exists() and not deployed else None


def admin(
    *,
    pool_id: str | None,
    config_file: Path | None,
    prefix: str | None,
    region: str | None,
    local: bool | None = None,
    state_dir: Path | None = None,
) -> UserDirectory:
    if (where := local_state_dir(local, state_dir, config_file)) is not None:
        from serverless_openclaw.local.wiring import wire_local_users

        errors.print(f"[dim]local stack in {where}[/]", highlight=False)
        return wire_local_users(where)
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
    local: LocalOpt = None,
    state_dir: StateDirOpt = None,
) -> None:
    """Add a user; they choose their own password at first sign-in."""
    try:
        where = local_state_dir(local, state_dir, config_file)
        if where is not None and temporary_password is None:
            from serverless_openclaw.adapters.embedded.identity import generate_password

            temporary_password, invite = generate_password(), False
        if not invite and temporary_password is None:
            raise DeployError("--no-invite needs --temporary-password (to hand over yourself)")
        users = admin(
            pool_id=pool_id,
            config_file=config_file,
            prefix=prefix,
            region=region,
            local=local,
            state_dir=state_dir,
        )
        user = users.add(
            email, temporary_password=temporary_password, send_invite=invite and where is None
        )
    except OpenClawError as exc:
        raise _fail(exc) from exc
    if where is not None:
        console.print(
            f"added {user.email or user.username} ({user.status}) with the temporary password "
            f"[cyan]{temporary_password}[/]: they choose their own at first sign-in",
            highlight=False,
            soft_wrap=True,
        )
        return
    how = "an invitation e-mail is on its way" if invite else "hand over the temporary password"
    console.print(f"added {user.email or user.username} ({user.status}): {how}")


@app.command("remove")
def remove(
    email: Annotated[str, typer.Argument(help="The user's e-mail address.")],
    pool_id: PoolOpt = None,
    config_file: ConfigOpt = None,
    prefix: PrefixOpt = None,
    region: RegionOpt = None,
    local: LocalOpt = None,
    state_dir: StateDirOpt = None,
) -> None:
    """Remove a user: they can no longer sign in (their conversations stay in the tables)."""
    try:
        admin(
            pool_id=pool_id,
            config_file=config_file,
            prefix=prefix,
            region=region,
            local=local,
            state_dir=state_dir,
        ).remove(email)
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
    local: LocalOpt = None,
    state_dir: StateDirOpt = None,
) -> None:
    """List the users of the deployment."""
    try:
        users = admin(
            pool_id=pool_id,
            config_file=config_file,
            prefix=prefix,
            region=region,
            local=local,
            state_dir=state_dir,
        ).list()
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
