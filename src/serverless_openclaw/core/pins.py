"""Versions of the third-party runtimes we ship. The only place they are written down.

The OpenClaw gateway's protocol and config schema change between releases (see
docs/deployment.md, "Updating OpenClaw"), so the version is pinned, the contract tests run
against exactly this version, and the container image installs it through the same installer.
"""

from typing import Final

OPENCLAW_VERSION: Final = "2026.9.6"
"""The npm version of `openclaw` every agent runs."""

NODE_VERSION: Final = "24.21.0"
"""Node.js installed from the npm registry when no suitable Node is on PATH."""

NODE_MIN: Final = (24, 16)
"""OpenClaw's engines field: >=24.16 <25 or >=26.1."""

GATEWAY_PROTOCOL_MIN: Final = 3
GATEWAY_PROTOCOL_MAX: Final = 4

CDK_CLI_VERSION: Final = "2.1148.1"
"""The AWS CDK CLI (npm `aws-cdk`) that `deploy`/`destroy` install; synth does not need it."""

IAM_SIMULATE_VERSION: Final = "0.1.173"
"""npm `@cloud-copilot/iam-simulate`: the IAM policy evaluator the IAM conformance tests run
(a test tool, never shipped)."""
