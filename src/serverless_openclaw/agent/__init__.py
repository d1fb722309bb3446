"""What runs in the agent task: supervisor, OpenClaw runtime and client, bridge, delivery,
state sync and the local health server."""
