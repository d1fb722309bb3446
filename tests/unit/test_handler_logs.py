"""What an operator reads in CloudWatch: the use cases below the handlers log with the
standard library, and their records must come out as the handlers' own JSON lines (in Lambda
the runtime's root handler would print them as plain text, and drop INFO)."""

from __future__ import annotations

import io
import json
import logging

from serverless_openclaw.gateway import observability


def test_a_wake_logged_by_the_application_layer_is_a_json_line_with_the_person() -> None:
    handler = observability.logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        logging.getLogger("serverless_openclaw.app.services").info(
            "starting agent", extra={"user_id": "u-1", "launch_id": "l-1"}
        )
        logging.getLogger("serverless_openclaw.telegram.secrets").warning("no bot token")
    finally:
        handler.setStream(previous)
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert [(r["level"], r["message"]) for r in lines] == [
        ("INFO", "starting agent"),
        ("WARNING", "no bot token"),
    ]
    assert lines[0]["user_id"] == "u-1" and lines[0]["launch_id"] == "l-1"
    assert lines[0]["service"] == observability.SERVICE
