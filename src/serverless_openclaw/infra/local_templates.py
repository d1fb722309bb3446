"""The synthesized templates a local stack enforces IAM from, synthesized once per version of
the code that writes them.

Synth starts jsii on Node and takes tens of seconds; the dev stack (`--backend aws`, IAM
enforced) and every test stack need the same templates. They are cached in the runtime cache
under a key that is a hash of everything that decides the policies: the infra sources, the
adapters whose names and tables the policies name, the settings, the pins, and the version
of aws-cdk-lib. A miss synthesizes in a child process (jsii's Node stays out of the stack's
process) with a stand-in Lambda code folder and image (the policies do not depend on them),
then writes the file atomically, so concurrent stacks at worst synthesize twice.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Final

from serverless_openclaw.infra.policies import Template
from serverless_openclaw.settings import environ_snapshot, runtime_cache_dir

PACKAGE: Final = Path(__file__).resolve().parents[1]
SOURCES: Final = (
    "infra",
    "adapters/aws",
    "settings.py",
    "ports/compute.py",
    "core/pins.py",
    "contracts/records.py",
)
"""What the synthesized policies depend on (relative to the package)."""
STAND_IN_IMAGE: Final = "public.ecr.aws/docker/library/busybox:latest"
SYNTH_TIMEOUT_S: Final = 600.0


class SynthFailed(RuntimeError):
    """The templates could not be synthesized."""


def source_hash() -> str:
    digest = hashlib.sha256()
    for entry in SOURCES:
        root = PACKAGE / entry
        files = sorted(root.rglob("*.py")) if root.is_dir() else [root]
        for path in files:
            digest.update(str(path.relative_to(PACKAGE)).encode())
            digest.update(path.read_bytes())
    for package in ("aws-cdk-lib", "cdk-nag"):
        try:
            digest.update(metadata.version(package).encode())
        except metadata.PackageNotFoundError:
            digest.update(b"-")
    return digest.hexdigest()[:20]


def cache_path() -> Path:
    return runtime_cache_dir() / "iam-templates" / f"templates-{source_hash()}.json"


def load_or_synth(*, timeout_s: float = SYNTH_TIMEOUT_S) -> dict[str, Template]:
    """The templates (stack name -> template) of a default deployment with Telegram on."""
    path = cache_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".synth-", suffix=".json")
        os.close(fd)
        try:
            result = subprocess.run(
                [sys.executable, "-m", "serverless_openclaw.infra.local_templates", "--out", tmp],
                capture_output=True,
                text=True,
                timeout=timeout_s,
                env=environ_snapshot(),
                check=False,
            )
            if result.returncode != 0:
                raise SynthFailed(
                    "synthesizing the templates for IAM failed:\n" + result.stderr[-3000:]
                )
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)
    templates: dict[str, Template] = json.loads(path.read_text())
    return templates


def synth_templates() -> dict[str, Template]:
    """Synthesize in this process (what the child process of `load_or_synth` runs)."""
    from serverless_openclaw.infra.app import synth
    from serverless_openclaw.infra.config import DeploymentConfig
    from serverless_openclaw.infra.policies import load_templates

    config = DeploymentConfig(telegram=True, agent_image=STAND_IN_IMAGE)
    with tempfile.TemporaryDirectory(prefix="soc-synth-") as work:
        code = Path(work) / "code"
        code.mkdir()
        (code / "index.py").write_text("# stand-in: the policies do not depend on the code\n")
        result = synth(config, Path(work) / "out", code_dir=code, checks=False)
        return load_templates(result.templates)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Synthesize the templates IAM is enforced from")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    args.out.write_text(json.dumps(synth_templates()))


if __name__ == "__main__":
    main()
