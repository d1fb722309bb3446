"""The ports: small Protocols for every kind of I/O the control plane and the agent need.

`stores` (connections, conversations, settings, counters, Telegram links, task state),
`inbox` (the per-user FIFO hand-off), `blobs` (the agent's state backup), `compute` (agent
tasks), `push` (frames to open WebSocket connections), `identity` (users and tokens).
Adapters live in `serverless_openclaw.adapters`; the wiring (`serverless_openclaw.wiring`)
chooses them per entry point.
"""
