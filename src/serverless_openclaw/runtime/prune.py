"""Make an installed runtime smaller: files a running agent never reads.

On Fargate the image is pulled at every cold start (there is no warm host to cache it on), so
every megabyte of the image is paid in start-up time, on every start. Node + OpenClaw install
to ~730 MB; most of it is code the gateway runs, but some is not:

Tier 1 (always safe):
- Node's C headers (`include/`): only needed to compile native addons, which nothing does at
  run time;
- TypeScript declarations (`*.d.ts`, `*.d.mts`, `*.d.cts`) and source maps (`*.map`)
  anywhere: read by editors and debuggers, never by `node`;
- OpenClaw's documentation (`docs/`), except `docs/reference/templates`, which OpenClaw reads
  at run time to seed a new workspace (AGENTS.md, SOUL.md, ...).

Tier 2 (only with the control UI off, which the agent's config always sets, see
`agent/openclaw/config.py`):
- the control UI's static assets (`dist/control-ui`): served by the gateway's web UI, which
  the task never exposes (no inbound rule, loopback only);
- the computer-use driver binaries (`@trycua/cua-driver-linux-*`), used by the desktop
  control feature of that UI.

The tiers are what docs/performance.md measured ("image" in bench/) and what the contract
tests run against when `SOC_PRUNED_RUNTIME` points at a pruned copy.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

Tier = Literal[0, 1, 2]

DROPPED_SUFFIXES: Final = (".d.ts", ".d.mts", ".d.cts", ".map")
KEPT_DOCS: Final = Path("reference") / "templates"
"""OpenClaw reads the workspace templates from its docs folder when it creates a workspace."""


@dataclass(frozen=True)
class PruneResult:
    tier: Tier
    files: int
    bytes: int


def _node_roots(prefix: Path) -> Iterator[Path]:
    """Each Node package installed by the installer (node-<version>/node_modules/node-*)."""
    for folder in sorted(prefix.glob("node-*/node_modules")):
        yield from sorted(p for p in folder.glob("node-*") if p.is_dir())


def _openclaw_modules(prefix: Path) -> Iterator[Path]:
    """Each `node_modules` folder holding an OpenClaw install (openclaw-<version>/...)."""
    for folder in sorted(prefix.glob("openclaw-*/node_modules")):
        if (folder / "openclaw").is_dir():
            yield folder


def _dropped_docs(folder: Path, keep: Path) -> Iterator[Path]:
    """Everything under `folder` except `keep` and the folders on the way down to it."""
    for entry in sorted(folder.iterdir()):
        if entry == keep:
            continue
        if entry.is_dir() and not entry.is_symlink() and keep.is_relative_to(entry):
            yield from _dropped_docs(entry, keep)
        else:
            yield entry


def _declaration_files(root: Path) -> Iterator[Path]:
    for folder, _, names in os.walk(root):
        for name in names:
            if name.endswith(DROPPED_SUFFIXES):
                yield Path(folder) / name


def plan(prefix: Path, tier: Tier) -> list[Path]:
    """The files and folders `prune` would remove (nothing for tier 0)."""
    if tier == 0:
        return []
    doomed: list[Path] = []
    for node in _node_roots(prefix):
        if (node / "include").is_dir():
            doomed.append(node / "include")
    for modules in _openclaw_modules(prefix):
        docs = modules / "openclaw" / "docs"
        if docs.is_dir():
            doomed.extend(_dropped_docs(docs, docs / KEPT_DOCS))
        doomed.extend(_declaration_files(modules))
        if tier >= 2:
            control_ui = modules / "openclaw" / "dist" / "control-ui"
            if control_ui.is_dir():
                doomed.append(control_ui)
            doomed.extend(sorted((modules / "@trycua").glob("cua-driver-linux-*")))
    return doomed


def size_of(path: Path) -> tuple[int, int]:
    """(files, bytes) of a file or a folder tree; symlinks count as themselves."""
    if path.is_symlink() or path.is_file():
        return 1, path.lstat().st_size
    files = total = 0
    for folder, _, names in os.walk(path):
        for name in names:
            files += 1
            total += (Path(folder) / name).lstat().st_size
    return files, total


def prune(prefix: Path, tier: Tier) -> PruneResult:
    """Remove what `plan` lists. Destructive: run it on an image's prefix or a copy, never on
    a runtime other processes are using (the shared per-user cache)."""
    files = total = 0
    for path in plan(prefix, tier):
        if not (path.exists() or path.is_symlink()):
            continue  # inside a folder removed a moment ago
        count, size = size_of(path)
        files += count
        total += size
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    return PruneResult(tier=tier, files=files, bytes=total)
