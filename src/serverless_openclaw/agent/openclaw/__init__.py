"""Everything about the pinned OpenClaw: installing it, configuring it, running its gateway and
speaking its WebSocket protocol."""
