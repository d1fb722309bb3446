"""A powertools idempotency store in a dict (the Telegram webhook's "update handled once").

The put is conditional exactly like powertools' DynamoDB layer: it succeeds when there is no
record, when the record expired, or when an in-progress record's lock expired (the Lambda
that took it ran out of time). Powertools stamps expiries with the real clock, so this layer
compares against the real clock too (`epoch_clock`, injectable).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from serverless_openclaw.adapters.store_rules import copy_record, may_take


class MemoryIdempotency(BasePersistenceLayer):
    def __init__(self, *, epoch_clock: Callable[[], float] = time.time) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._now = epoch_clock
        self._lock = threading.Lock()
        self._records: dict[str, DataRecord] = {}

    def _get_record(self, idempotency_key: str) -> DataRecord:
        with self._lock:
            record = self._records.get(idempotency_key)
        if record is None:
            raise IdempotencyItemNotFoundError
        return copy_record(record)

    def _put_record(self, data_record: DataRecord) -> None:
        with self._lock:
            existing = self._records.get(data_record.idempotency_key)
            if not may_take(existing, self._now()):
                assert existing is not None
                old = copy_record(existing)
                self._validate_payload(data_payload=data_record, stored_data_record=old)
                raise IdempotencyItemAlreadyExistsError(old_data_record=old)
            self._records[data_record.idempotency_key] = copy_record(data_record)

    def _update_record(self, data_record: DataRecord) -> None:
        with self._lock:
            self._records[data_record.idempotency_key] = copy_record(data_record)

    def _delete_record(self, data_record: DataRecord) -> None:
        with self._lock:
            self._records.pop(data_record.idempotency_key, None)
