"""Every message that crosses a process boundary, as pydantic models.

One module per boundary: `frames` (browser <-> WebSocket API), `jobs` (Lambda -> agent via
the inbox queue), `records` (what the REST API returns), `agent` (task state as seen by
clients). `schema.export()` writes the JSON Schema the web client is typed from.
"""
