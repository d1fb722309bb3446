"""A powertools idempotency store on the embedded database (the Telegram webhook's "update
handled once"), with the put condition of powertools' DynamoDB layer, in one transaction.
Powertools stamps expiries with the real clock, so this layer compares against it too."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from serverless_openclaw.adapters.embedded.database import Database
from serverless_openclaw.adapters.store_rules import may_take

_COLUMNS = "id, status, expiration, in_progress_expiration, data, validation"


def _record(row: tuple[object, ...]) -> DataRecord:
    key, status, expiration, in_progress, data, validation = row
    return DataRecord(
        idempotency_key=str(key),
        status=str(status),
        expiry_timestamp=int(str(expiration)) if expiration is not None else None,
        in_progress_expiry_timestamp=int(str(in_progress)) if in_progress is not None else None,
        response_data=str(data),
        payload_hash=str(validation),
    )


class EmbeddedIdempotency(BasePersistenceLayer):
    def __init__(self, db: Database, *, epoch_clock: Callable[[], float] = time.time) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._db = db
        self._now = epoch_clock

    def _get_record(self, idempotency_key: str) -> DataRecord:
        row = self._db.query_one(
            f"SELECT {_COLUMNS} FROM idempotency WHERE id = ?",  # noqa: S608
            (idempotency_key,),
        )
        if row is None:
            raise IdempotencyItemNotFoundError
        return _record(row)

    def _put_record(self, data_record: DataRecord) -> None:
        with self._db.write() as db:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM idempotency WHERE id = ?",  # noqa: S608
                (data_record.idempotency_key,),
            ).fetchone()
            existing = _record(row) if row else None
            if not may_take(existing, self._now()):
                assert existing is not None
                self._validate_payload(data_payload=data_record, stored_data_record=existing)
                raise IdempotencyItemAlreadyExistsError(old_data_record=existing)
            self._write(db, data_record)

    def _update_record(self, data_record: DataRecord) -> None:
        with self._db.write() as db:
            self._write(db, data_record)

    def _delete_record(self, data_record: DataRecord) -> None:
        with self._db.write() as db:
            db.execute("DELETE FROM idempotency WHERE id = ?", (data_record.idempotency_key,))

    @staticmethod
    def _write(db: sqlite3.Connection, record: DataRecord) -> None:
        db.execute(
            f"INSERT OR REPLACE INTO idempotency ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",  # noqa: S608
            (
                record.idempotency_key,
                record._status,
                record.expiry_timestamp,
                record.in_progress_expiry_timestamp,
                record.response_data or "",
                record.payload_hash or "",
            ),
        )
