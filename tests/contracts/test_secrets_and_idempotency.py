"""Secrets (NotFound for an unknown name) and the powertools idempotency store (a function
runs once per key)."""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function

from serverless_openclaw.core.errors import NotFound

from .conftest import Family


def test_a_secret_is_read_back_and_an_unknown_one_is_not_found(family: Family) -> None:
    family.put_secret("/soc/test/bot-token", "123:abc")
    assert family.ports.secrets().get("/soc/test/bot-token").get_secret_value() == "123:abc"
    with pytest.raises(NotFound):
        family.ports.secrets().get("/soc/test/nothing")


class _LambdaContext:
    """What powertools reads of a Lambda context: the time left (the in-progress lock)."""

    function_name = "contract"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def test_an_idempotent_function_runs_once_per_key(family: Family) -> None:
    calls: list[int] = []

    def handle(update: dict[str, Any]) -> dict[str, Any]:
        calls.append(update["update_id"])
        return {"handled": update["update_id"], "run": len(calls)}

    config = IdempotencyConfig(
        event_key_jmespath="update_id",
        raise_on_no_idempotency_key=True,
        lambda_context=_LambdaContext(),
    )
    process = idempotent_function(
        data_keyword_argument="update",
        persistence_store=family.ports.idempotency(),
        config=config,
        key_prefix="contract",
    )(handle)
    assert process(update={"update_id": 1}) == {"handled": 1, "run": 1}
    assert process(update={"update_id": 1}) == {"handled": 1, "run": 1}  # the stored result
    assert process(update={"update_id": 2}) == {"handled": 2, "run": 2}
    assert calls == [1, 2]
