"""Lambda entry points (thin): parse the event, call one operation of `services`, answer.

Each module exposes `handler(event, context)`; `handle(event, services)` is the same without
the powertools wrapping, for callers that already own a `Services` (the dev stack, tests).
"""
