"""What OpenClaw may do and reach: the tool policy in openclaw.json, the gateway's environment,
and the plan that puts OpenClaw under a user of its own (agent/privileges.py)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from serverless_openclaw.agent.openclaw.config import ModelChoice, patch_config
from serverless_openclaw.agent.openclaw.gateway_process import (
    forbidden_keys,
    gateway_environment,
)
from serverless_openclaw.agent.privileges import (
    Account,
    Facts,
    GatewayLayout,
    PrivilegeEffects,
    PrivilegePlan,
    decide,
    dir_rules,
    reachable_by_others,
)

AGENT = Account("agent", 10001, 10001)
OPENCLAW = Account("openclaw", 10002, 10002)
ROOT_WITH_USERS = Facts(euid=0, supervisor=AGENT, gateway=OPENCLAW)

SUPERVISOR_ENV = {
    "PATH": "/usr/bin",
    "LANG": "C.UTF-8",
    "HOME": "/home/agent",
    "ANTHROPIC_API_KEY": "sk-ant-secret",
    "OPENAI_API_KEY": "sk-openai-secret",
    "SOC_MODEL_API_KEY": "custom-secret",
    "SOC_TELEGRAM_BOT_TOKEN": "123:bot-secret",
    "TELEGRAM_BOT_TOKEN": "123:bot-secret",
    "SOC_USER_ID": "u-1",
    "SOC_INBOX_QUEUE_URL": "https://queue/u-1",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/secret-uuid",
    "AWS_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "AKIA-secret",
    "AWS_SECRET_ACCESS_KEY": "aws-secret",
}


def _layout(root: Path) -> GatewayLayout:
    return GatewayLayout(root / "state", root / "home", root / "tmp", root / "logs")


def _tools(config: dict[str, Any]) -> dict[str, Any]:
    tools: dict[str, Any] = config["tools"]
    return tools


# --- the tool policy in openclaw.json ------------------------------------------------------
def test_safe_policy_takes_the_shell_away_twice_and_keeps_files_in_the_workspace() -> None:
    tools = _tools(patch_config(None, port=1, model=ModelChoice("anthropic"), tools="safe"))
    assert tools["exec"] == {"mode": "deny"}
    assert "group:runtime" in tools["deny"]
    assert {"browser", "canvas", "group:ui", "group:nodes"} <= set(tools["deny"])
    assert {"gateway", "plugins", "openclaw"} <= set(tools["deny"]), "no way to undo this policy"
    assert tools["fs"] == {"workspaceOnly": True}
    assert tools["elevated"] == {"enabled": False}


def test_shell_policy_lets_exec_run_without_approval_but_still_no_browser_or_nodes() -> None:
    tools = _tools(patch_config(None, port=1, model=ModelChoice("anthropic"), tools="shell"))
    assert tools["exec"] == {"mode": "full"}, "nobody can approve on a task: ask would deny"
    assert "group:runtime" not in tools["deny"]
    assert {"browser", "group:ui", "group:nodes", "file_fetch", "gateway", "plugins"} <= set(
        tools["deny"]
    )
    assert tools["elevated"] == {"enabled": False}


def test_going_back_to_safe_removes_the_shell_and_keeps_the_persons_other_tool_settings() -> None:
    shell = patch_config(None, port=1, model=ModelChoice("anthropic"), tools="shell")
    shell["tools"]["exec"]["timeoutSeconds"] = 60  # the person's own choice
    shell["tools"]["web"] = {"search": {"enabled": False}}
    safe = _tools(patch_config(shell, port=1, model=ModelChoice("anthropic"), tools="safe"))
    assert safe["exec"] == {"mode": "deny", "timeoutSeconds": 60}
    assert "group:runtime" in safe["deny"]
    assert safe["web"] == {"search": {"enabled": False}}


# --- the gateway's environment ---------------------------------------------------------------
def test_gateway_environment_holds_only_its_model_key_and_its_own_token(tmp_path: Path) -> None:
    env = gateway_environment(
        SUPERVISOR_ENV,
        state_dir=tmp_path / "state",
        home=tmp_path / "home",
        token="gw-token",
        custom_api_key="custom-secret",
        provider="anthropic",
        tmp_dir=tmp_path / "tmp",
    )
    assert env["ANTHROPIC_API_KEY"] == "sk-ant-secret"
    assert env["OPENCLAW_GATEWAY_TOKEN"] == "gw-token"
    assert env["TMPDIR"] == str(tmp_path / "tmp")
    leaked = {"sk-openai-secret", "123:bot-secret", "/v2/credentials/secret-uuid", "aws-secret"}
    assert leaked.isdisjoint(env.values())
    assert not [k for k in env if k.startswith(("SOC_USER", "SOC_TELEGRAM", "TELEGRAM", "AWS_"))]
    assert forbidden_keys(env) == []


def test_only_bedrock_gets_aws_credentials_and_only_a_custom_endpoint_its_key(
    tmp_path: Path,
) -> None:
    def env_for(
        provider: str, *, include_aws: bool = False, key: str | None = None
    ) -> dict[str, str]:
        return gateway_environment(
            SUPERVISOR_ENV,
            state_dir=tmp_path,
            home=tmp_path,
            token="t",
            provider=provider,
            include_aws=include_aws,
            custom_api_key=key,
        )

    bedrock = env_for("bedrock", include_aws=True)
    assert bedrock["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] == "/v2/credentials/secret-uuid"
    assert "ANTHROPIC_API_KEY" not in bedrock
    offline = env_for("offline")
    assert not [k for k in offline if k.endswith("_API_KEY")]
    custom = env_for("openai-compatible", key="custom-secret")
    assert custom["SOC_MODEL_API_KEY"] == "custom-secret"
    assert [k for k in custom if k.startswith("SOC_")] == ["SOC_MODEL_API_KEY"]


def test_forbidden_keys_names_what_must_never_reach_openclaw() -> None:
    assert forbidden_keys(SUPERVISOR_ENV) == [
        "AWS_ACCESS_KEY_ID",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_REGION",
        "AWS_SECRET_ACCESS_KEY",
        "SOC_INBOX_QUEUE_URL",
        "SOC_TELEGRAM_BOT_TOKEN",
        "SOC_USER_ID",
        "TELEGRAM_BOT_TOKEN",
    ]


# --- the plan ----------------------------------------------------------------------------------
def test_root_with_both_users_separates_and_allows_the_shell() -> None:
    plan = decide(ROOT_WITH_USERS, tools="shell", provider="anthropic")
    assert plan == PrivilegePlan(
        separate=True, tools="shell", reasons=(), supervisor=AGENT, gateway=OPENCLAW
    )
    assert "OpenClaw runs as openclaw (uid 10002)" in plan.describe()


@pytest.mark.parametrize(
    ("facts", "why"),
    [
        (Facts(euid=1000, supervisor=AGENT, gateway=OPENCLAW), "not started as root"),
        (Facts(euid=0, supervisor=AGENT, gateway=None), "no user openclaw"),
        (Facts(euid=0, supervisor=None, gateway=None), "no user agent or openclaw"),
        (
            Facts(euid=0, supervisor=AGENT, gateway=OPENCLAW, unreachable=("/root/.cache",)),
            "cannot reach /root/.cache",
        ),
        (Facts(euid=0, supervisor=AGENT, gateway=OPENCLAW, disabled="not set up"), "not set up"),
    ],
)
def test_without_separation_the_agent_gets_no_shell_and_the_log_says_why(
    facts: Facts, why: str
) -> None:
    plan = decide(facts, tools="shell", provider="anthropic")
    assert not plan.separate
    assert plan.tools == "safe"
    line = plan.describe()
    assert "uid separation is OFF" in line
    assert why in line
    assert "no shell" in line
    assert plan.gateway is None and plan.supervisor is None


def test_the_safe_policy_without_separation_still_runs_and_says_separation_is_off() -> None:
    plan = decide(Facts(euid=1000, supervisor=None, gateway=None), tools="safe", provider="offline")
    assert (plan.separate, plan.tools) == (False, "safe")
    assert "no shell" not in plan.describe()
    assert "uid separation is OFF" in plan.describe()


def test_on_the_local_stacks_embedded_store_the_supervisor_stays_root() -> None:
    plan = decide(ROOT_WITH_USERS, tools="shell", provider="offline", embedded_store=True)
    assert (plan.separate, plan.drop, plan.tools) == (True, False, "shell")
    assert "the supervisor stays root" in plan.describe()
    assert decide(ROOT_WITH_USERS, tools="shell", provider="offline").drop


def test_bedrock_keeps_separation_but_not_the_shell() -> None:
    plan = decide(ROOT_WITH_USERS, tools="shell", provider="bedrock")
    assert plan.separate
    assert plan.tools == "safe"
    assert "Bedrock" in plan.describe()


def test_directories_the_gateway_owns_and_the_one_it_cannot_enter(tmp_path: Path) -> None:
    layout = GatewayLayout(
        tmp_path / "state", tmp_path / "home", tmp_path / "tmp", tmp_path / "logs"
    )
    rules = {
        r.path: (r.uid, r.gid, r.mode)
        for r in dir_rules(decide(ROOT_WITH_USERS, tools="safe", provider="offline"), layout)
    }
    assert rules[layout.state_dir] == (10002, 10002, 0o770), "the supervisor reads it as group"
    assert rules[layout.home] == (10002, 10002, 0o700)
    assert rules[layout.tmp] == (10002, 10002, 0o700)
    assert rules[layout.private] == (10001, 10001, 0o700), "the device key: supervisor only"
    assert rules[layout.logs][0] == 10001
    unseparated = decide(Facts(1000, None, None), tools="safe", provider="offline")
    assert dir_rules(unseparated, layout) == []


def test_a_path_is_reachable_only_if_every_parent_lets_others_through() -> None:
    modes = {
        Path("/"): stat.S_IFDIR | 0o755,
        Path("/root"): stat.S_IFDIR | 0o700,
        Path("/root/.cache"): stat.S_IFDIR | 0o755,
        Path("/opt"): stat.S_IFDIR | 0o755,
        Path("/opt/openclaw"): stat.S_IFDIR | 0o755,
        Path("/opt/openclaw/node"): stat.S_IFREG | 0o755,
    }
    assert not reachable_by_others(Path("/root/.cache"), modes.get)
    assert reachable_by_others(Path("/opt/openclaw/node"), modes.get)
    assert reachable_by_others(Path("/opt/openclaw/not-yet"), modes.get)


def test_prepare_gives_restored_files_to_the_gateway_and_keeps_soc_private(
    tmp_path: Path,
) -> None:
    # Both "users" are the test's own: chown works unprivileged, and the modes are the point.
    me = Account("me", os.getuid(), os.getgid())
    plan = PrivilegePlan(separate=True, tools="shell", supervisor=me, gateway=me)
    layout = GatewayLayout(
        tmp_path / "state", tmp_path / "home", tmp_path / "tmp", tmp_path / "logs"
    )
    (layout.state_dir / "agents").mkdir(parents=True)
    restored = layout.state_dir / "agents" / "memory.sqlite"
    restored.write_text("x")
    restored.chmod(0o600)
    config = layout.state_dir / "openclaw.json"
    config.write_text("{}")
    config.chmod(0o666)
    layout.private.mkdir(mode=0o755)
    key = layout.private / "device-key.pem"
    key.write_text("key")
    key.chmod(0o644)
    PrivilegeEffects().prepare(plan, layout)
    assert stat.S_IMODE(restored.stat().st_mode) == 0o660, "the supervisor's group can back it up"
    assert stat.S_IMODE(config.stat().st_mode) == 0o640, "read-only to OpenClaw's group"
    assert stat.S_IMODE(layout.private.stat().st_mode) == 0o700
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(layout.home.stat().st_mode) == 0o700
    assert stat.S_IMODE(layout.logs.stat().st_mode) == 0o2770


def test_the_setting_travels_from_deployment_to_the_task_environment() -> None:
    from serverless_openclaw.infra.config import DeploymentConfig
    from serverless_openclaw.settings import AgentSettings

    assert DeploymentConfig().agent_tools == "safe"
    assert DeploymentConfig(agent_tools="shell").agent_tools == "shell"
    env = AgentSettings.given(agent_tools="shell").to_environment()
    assert env == {"SOC_AGENT_TOOLS": "shell"}
    assert AgentSettings.model_fields["agent_tools"].default == "safe"


async def test_each_backup_reads_the_state_inside_the_supervisors_file_access(
    tmp_path: Path,
) -> None:
    """The hook the supervisor uses to read OpenClaw's 0600 databases once it is `agent`:
    entered in the backup's own thread, around reading the files, and left afterwards."""
    import contextlib
    import threading
    from collections.abc import Iterator

    from serverless_openclaw.adapters.memory import MemoryPorts
    from serverless_openclaw.agent.state_sync import StateSync, prepare_state_dir

    seen: list[tuple[str, bool]] = []
    main = threading.get_ident()

    @contextlib.contextmanager
    def access() -> Iterator[None]:
        seen.append(("enter", threading.get_ident() != main))
        yield
        seen.append(("exit", threading.get_ident() != main))

    state = tmp_path / "state"
    prepare_state_dir(state)
    (state / "MEMORY.md").write_text("remember this\n")
    sync = StateSync(MemoryPorts().state_blobs("agents/u/"), state, file_access=access)
    await sync.restore(None)
    result = await sync.backup()
    assert result.uploaded >= 1
    assert seen == [("enter", True), ("exit", True)], "in the worker thread, once"
    with PrivilegeEffects().file_access():  # before any drop: changes nothing
        assert (state / "MEMORY.md").read_text() == "remember this\n"
