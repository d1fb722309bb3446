"""The application layer: the use cases every entry point calls (submit a chat job, wake,
stop, pair a chat, sweep), written against the ports, never against an SDK."""
