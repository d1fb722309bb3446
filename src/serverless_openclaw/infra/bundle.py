"""The Lambda code: our package (minus what only runs elsewhere) and its core dependencies,
built for python3.12 on ARM64 (Graviton) without Docker.

pip downloads manylinux aarch64 wheels (`--platform ... --only-binary=:all:`), so compiled
dependencies (pydantic_core, cryptography) are the Linux ARM builds whatever machine runs
this. The dependencies are installed once per pinned set into a cache; the package files are
copied on top each time, into a directory named by the hash of everything in it, so CDK's
asset hash changes exactly when the code does.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Final

import serverless_openclaw
from serverless_openclaw.core.errors import OpenClawError
from serverless_openclaw.settings import runtime_cache_dir

PYTHON_VERSION: Final = "3.12"
PLATFORMS: Final = (
    "manylinux2014_aarch64",
    "manylinux_2_28_aarch64",
    "manylinux_2_34_aarch64",
)
"""Lambda's python3.12 runs on Amazon Linux 2023 (glibc 2.34): any of these wheels loads."""

EXCLUDED_SUBPACKAGES: Final = frozenset(
    {"local", "infra", "cli", "agent", "runtime", "adapters/embedded", "adapters/memory"}
)
"""Dev stack, CDK app, operator CLI, the container's code, the OpenClaw installer and upgrade
checks, and the adapter families of the local product and of the tests: never imported by a
handler (tests/infra/test_bundle.py checks)."""
EXCLUDED_MODULES: Final = frozenset({"__main__.py"})
"""`python -m serverless_openclaw` starts the CLI, which is not in the bundle."""
PACKAGE_NAME: Final = "serverless_openclaw"

Progress = Callable[[str], None]


class BundleError(OpenClawError):
    """The Lambda bundle could not be built; the message says why."""


def _quiet(_: str) -> None:
    return None


def package_dir() -> Path:
    return Path(serverless_openclaw.__file__).resolve().parent


def core_dependencies() -> list[str]:
    """`[project].dependencies`: from pyproject.toml in a checkout, else the installed metadata."""
    pyproject = package_dir().parents[1] / "pyproject.toml"
    if pyproject.exists():
        data = tomllib.loads(pyproject.read_text())
        return [str(dep) for dep in data["project"]["dependencies"]]
    requires = metadata.requires("serverless-openclaw") or []
    return [line for line in requires if "extra ==" not in line]


def pip_command(target: Path, requirements: Sequence[str]) -> list[str]:
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    command += ["--no-compile", "--target", str(target), "--only-binary=:all:"]
    command += ["--implementation", "cp", "--python-version", PYTHON_VERSION]
    for platform in PLATFORMS:
        command += ["--platform", platform]
    return [*command, *requirements]


def _digest(parts: Iterable[bytes]) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()[:16]


def _package_files() -> list[tuple[Path, Path]]:
    """(source, path inside the bundle) for each file of our package that Lambdas may use."""
    root = package_dir()
    files: list[tuple[Path, Path]] = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if not path.is_file() or "__pycache__" in rel.parts or path.suffix == ".pyc":
            continue
        if str(rel) in EXCLUDED_MODULES or any(
            rel.is_relative_to(excluded) for excluded in EXCLUDED_SUBPACKAGES
        ):
            continue
        files.append((path, Path(PACKAGE_NAME) / rel))
    return files


def _publish(partial: Path, target: Path) -> None:
    """Move a finished build into place. Builds of the same key are identical, so when another
    process (a parallel test worker, a second deploy) got there first, keep its copy."""
    if (target / ".complete").exists():
        shutil.rmtree(partial, ignore_errors=True)
        return
    shutil.rmtree(target, ignore_errors=True)
    try:
        partial.rename(target)
    except OSError:
        if not (target / ".complete").exists():
            raise
        shutil.rmtree(partial, ignore_errors=True)


def install_dependencies(
    requirements: Sequence[str], cache: Path, *, progress: Progress = _quiet
) -> Path:
    """The aarch64 site-packages for `requirements`, built once per pinned set."""
    key = _digest([json.dumps([sorted(requirements), PLATFORMS, PYTHON_VERSION]).encode()])
    target = cache / f"deps-{key}"
    if (target / ".complete").exists():
        return target
    partial = cache / f"deps-{key}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    progress(f"installing {len(requirements)} Lambda dependencies for python{PYTHON_VERSION}/arm64")
    result = subprocess.run(
        pip_command(partial, requirements), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
        raise BundleError(f"pip could not fetch the Lambda dependencies:\n{tail}")
    # Console scripts point at this machine's interpreter and are useless in Lambda.
    shutil.rmtree(partial / "bin", ignore_errors=True)
    (partial / ".complete").write_text("ok\n")
    _publish(partial, target)
    return target


def build_lambda_bundle(cache: Path | None = None, *, progress: Progress = _quiet) -> Path:
    """A directory ready for `lambda.Code.from_asset`, reused while nothing in it changes."""
    cache = (cache or runtime_cache_dir()) / "lambda-bundle"
    deps = install_dependencies(core_dependencies(), cache, progress=progress)
    files = _package_files()
    key = _digest(
        [deps.name.encode()] + [f"{rel}\0".encode() + src.read_bytes() for src, rel in files]
    )
    bundle = cache / f"bundle-{key}"
    if (bundle / ".complete").exists():
        return bundle
    partial = cache / f"bundle-{key}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(deps, partial, ignore=shutil.ignore_patterns(".complete", "__pycache__"))
    for src, rel in files:
        dest = partial / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)
    (partial / ".complete").write_text("ok\n")
    _publish(partial, bundle)
    progress(f"Lambda bundle ready: {bundle}")
    return bundle
