"""The pinned Node + OpenClaw runtime: one installer used by the CLI, the container image,
the local stack and the tests (one way to get OpenClaw, one pinned version)."""
