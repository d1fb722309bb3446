"""Which Node runs jsii (the engine under aws-cdk-lib): the project's Node 24.

aws-cdk-lib warns on Node 20 and older and supports 22/24. The OpenClaw runtime installer
already provides a Node >= 24.16 (on PATH or in the cache), so synth uses that one. It must be
chosen before `aws_cdk` is first imported: jsii starts its Node process on import.
"""

from __future__ import annotations

import os
from pathlib import Path

from serverless_openclaw.runtime import installer as runtime
from serverless_openclaw.settings import environ_snapshot

JSII_NODE_ENV = "JSII_NODE"


def _quiet(_: str) -> None:
    return None


def find_or_install_node(*, progress: runtime.Progress = _quiet) -> Path:
    """A Node that OpenClaw (and so jsii) accepts, installing the pinned one when none is found."""
    node = runtime.find_node()
    if node is not None:
        return node
    installed = runtime.install(progress=progress)
    return installed.node


def use_project_node(*, progress: runtime.Progress = _quiet) -> Path:
    """Point jsii at the project's Node unless the caller already chose one with JSII_NODE.

    Raises `RuntimeInstallError` when no Node can be found or installed.
    """
    chosen = environ_snapshot().get(JSII_NODE_ENV)
    if chosen:
        return Path(chosen)
    node = find_or_install_node(progress=progress)
    os.environ[JSII_NODE_ENV] = str(node)
    return node
