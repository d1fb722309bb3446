"""What the cold-start levers rely on, against gateways of their own (the pre-warm turn,
which runs on the session's gateway, is in test_gateway_contract.py):
- a bad config is refused by the gateway itself (exit 78) and explained by `validate`, so
  nothing needs validating before a start;
- a pruned runtime (tier 2, the image's) still answers, on fresh state and on the state the
  last start left; the second start skips OpenClaw's start-up migrations when only the token
  changed (it is in the environment, not the file): one scenario, two starts;
- the compile cache handed over as NODE_COMPILE_CACHE is the one the gateway's processes use.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from serverless_openclaw.agent.openclaw.client import GatewayClient
from serverless_openclaw.agent.openclaw.config import (
    EXIT_CONFIG_INVALID,
    ConfigInvalid,
    ModelChoice,
    patch_config,
    write_config,
)
from serverless_openclaw.agent.openclaw.device import DeviceIdentity
from serverless_openclaw.agent.openclaw.gateway_process import GatewayProcess, gateway_environment
from serverless_openclaw.local.offline_model import OFFLINE_LABEL
from serverless_openclaw.loopback import free_port
from serverless_openclaw.runtime.installer import (
    OpenClawRuntime,
    locate,
    packaged_compile_cache,
    prune_install,
)
from serverless_openclaw.settings import environ_snapshot

pytestmark = pytest.mark.openclaw


def _process(
    runtime: OpenClawRuntime,
    root: Path,
    config: dict[str, object],
    *,
    token: str = "t" * 32,
    log: str = "gateway.out",
    trace: bool = False,
) -> GatewayProcess:
    state, home = root / "state", root / "home"
    state.mkdir(parents=True, exist_ok=True)
    home.mkdir(parents=True, exist_ok=True)
    write_config(state / "openclaw.json", config)
    env = gateway_environment(environ_snapshot(), state_dir=state, home=home, token=token)
    if trace:
        env["OPENCLAW_GATEWAY_STARTUP_TRACE"] = "1"  # one line per start-up step
    port = int(config["gateway"]["port"])  # type: ignore[index]
    return GatewayProcess(runtime, state, port, env, root / "logs" / log)


async def test_a_bad_key_stops_the_gateway_with_78_and_the_issue_is_named(
    openclaw_runtime: OpenClawRuntime, offline_model, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    config = patch_config(
        None, port=free_port(), model=ModelChoice("offline", base_url=offline_model.base_url)
    )
    config["gateway"]["listenEverywhere"] = True
    process = _process(openclaw_runtime, tmp_path, config)
    await process.start()
    try:
        with pytest.raises(ConfigInvalid) as caught:
            await process.wait_ready(timeout=240)
    finally:
        await process.stop()
    assert process.returncode == EXIT_CONFIG_INVALID
    assert "listenEverywhere" in str(caught.value)
    assert any(issue.get("path") == "gateway" for issue in caught.value.issues)


def _copy_runtime(source: OpenClawRuntime, target: Path) -> OpenClawRuntime:
    """A copy of the installed runtime (mtimes kept) with installed.json pointing at it."""
    for folder in (source.node.parents[3], source.entry.parents[2]):
        if folder.is_relative_to(source.prefix):
            shutil.copytree(folder, target / folder.name, symlinks=True)
    marker = target / source.entry.parents[2].name / "installed.json"
    info = json.loads(marker.read_text())
    if source.node.is_relative_to(source.prefix):
        info["node"] = str(target / source.node.relative_to(source.prefix))
    marker.write_text(json.dumps(info))
    copied = locate(target)
    assert copied is not None
    return copied


async def _one_turn(process: GatewayProcess, token: str, state: Path) -> str:
    async with GatewayClient(
        process.url, token, identity=DeviceIdentity.load_or_create(state)
    ) as connected:
        run = await connected.chat_send("agent:main:main", "hello after pruning")
        return (await run.result()).text


MIGRATIONS_STEP = "legacy-state-migrations"
"""The start-up step OpenClaw skips once its checkpoint matches the config it runs with."""


@pytest.mark.timeout(900)  # a 700 MB copy and two starts, the first with an empty compile cache
async def test_a_pruned_runtime_answers_on_fresh_state_then_again_without_its_migrations(
    openclaw_runtime: OpenClawRuntime, offline_model, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """The image's runtime (tier 2) on a fresh state, then a second start on the state the
    first left, at the same paths and port as a Fargate task's restore, with a new token.

    OpenClaw fingerprints the resolved config to decide whether its start-up migrations
    already ran on this state (~1 s and ~1 CPU-s of every start). The token changes at every
    start of ours; with it in the environment only, the second start skips them (a token in
    the file, even as `${OPENCLAW_GATEWAY_TOKEN}`, made every start run them again)."""
    offline_model.reset()
    runtime = _copy_runtime(openclaw_runtime, tmp_path / "runtime")
    prune_install(runtime.prefix, 2)
    assert not (runtime.entry.parent / "dist" / "control-ui").exists()
    runtime = replace(runtime, compile_cache=tmp_path / "compile-cache")
    agent = tmp_path / "agent"
    config = patch_config(
        None, port=free_port(), model=ModelChoice("offline", base_url=offline_model.base_url)
    )

    logs = []
    for n, token in enumerate(("a" * 32, "b" * 32)):
        process = _process(runtime, agent, config, token=token, log=f"start{n}.out", trace=True)
        await process.start()
        try:
            await process.wait_ready(timeout=240)
            if n == 0:
                # The compile cache is the one handed over, in the gateway's own environment.
                environ = Path(f"/proc/{process.pid}/environ").read_bytes().split(b"\0")
                cache = packaged_compile_cache(tmp_path / "compile-cache", runtime.entry)
                assert f"NODE_COMPILE_CACHE={cache}".encode() in environ
                # ...already the folder openclaw.mjs wants: it does not respawn itself into
                # it (a respawned grandchild would outlive a killed agent).
                assert b"OPENCLAW_PACKAGED_COMPILE_CACHE_RESPAWNED=1" in environ
            answer = await _one_turn(process, token, agent / "state")
        finally:
            await process.stop()
        assert answer.startswith(OFFLINE_LABEL), "the token in force is the environment's"
        logs.append((agent / "logs" / f"start{n}.out").read_text(errors="replace"))
        if n == 0:
            assert any((tmp_path / "compile-cache").rglob("*")), "the gateway filled the cache"
            workspace = agent / "state" / "workspace"
            assert (workspace / "AGENTS.md").is_file(), "the kept templates seeded the workspace"
    assert MIGRATIONS_STEP in logs[0], "the first start on a new state runs them"
    assert MIGRATIONS_STEP not in logs[1], "the next start, with a new token, does not"
