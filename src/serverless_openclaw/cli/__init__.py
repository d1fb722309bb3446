"""`serverless-openclaw`: the operator's command line.

A thin shell: each command builds settings and calls a `run_*` function that tests and the dev
stack reuse. Rich output lives here and in the modules of this package, nowhere else.
Each group of commands is its own module; register it below.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="serverless-openclaw",
    help="Your own OpenClaw agent on AWS: cents while idle, awake in seconds.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)


def _register() -> None:
    from serverless_openclaw.cli import contracts_cmd, openclaw_cmd

    app.add_typer(openclaw_cmd.app, name="openclaw")
    app.add_typer(contracts_cmd.app, name="contracts")
    from serverless_openclaw.cli import cost_cmd

    cost_cmd.register(app)
    from serverless_openclaw.cli import deploy_cmd, users_cmd

    deploy_cmd.register(app)
    users_cmd.register(app)
    from serverless_openclaw.cli import dev_cmd

    app.command("dev")(dev_cmd.dev)
    from serverless_openclaw.cli import telegram_cmd

    app.add_typer(telegram_cmd.app, name="telegram")


def main() -> None:
    _register()
    app()
