"""The agent's S3 backup: incremental, consistent SQLite copies, safe restore, no secrets."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from serverless_openclaw.adapters.aws.provision import create_state_bucket
from serverless_openclaw.adapters.aws.state_bucket import StateBucket
from serverless_openclaw.agent.state_sync import StateSync, prepare_state_dir
from serverless_openclaw.core.errors import RestoreFailed


def s3(endpoint: str | None = None):  # type: ignore[no-untyped-def]
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=Config(connect_timeout=1, read_timeout=2, retries={"max_attempts": 1}),
    )


@pytest.fixture
def bucket(aws):  # type: ignore[no-untyped-def]
    client = s3()
    create_state_bucket(client, aws.bucket, "us-east-1")
    return StateBucket(client, aws.bucket, "agents/u1/")


def fill(state: Path) -> None:
    (state / "workspace").mkdir(parents=True)
    (state / "workspace" / "MEMORY.md").write_text("- the cat is called Miso\n")
    (state / "openclaw.json").write_text('{"gateway": {"auth": {"token": "${T}"}}}')
    (state / "cache").mkdir()
    (state / "cache" / "big.bin").write_bytes(b"x" * 1000)
    (state / "soc").mkdir()
    (state / "soc" / "device-key.pem").write_text("PRIVATE KEY")
    (state / "config-journal-fingerprint.key").write_bytes(b"\x01\x02")
    (state / "tmp").mkdir()
    (state / "tmp" / "gateway.lock.sqlite").write_bytes(b"lock")


def versions(bucket: StateBucket) -> list[tuple[str, str]]:
    answer = bucket._s3.list_object_versions(Bucket=bucket.bucket, Prefix=bucket.prefix)
    return sorted((v["Key"], v["VersionId"]) for v in answer.get("Versions", []))


async def test_round_trip_restores_state_and_leaves_out_caches_and_secrets(
    bucket: StateBucket, tmp_path: Path
) -> None:
    source = tmp_path / "a"
    prepare_state_dir(source)
    fill(source)
    sync = StateSync(bucket, source)
    await sync.restore()  # no backup yet: a fresh start, uploads allowed
    result = await sync.backup()
    assert result.uploaded == 2

    target = tmp_path / "b"
    prepare_state_dir(target)
    await StateSync(bucket, target).restore()
    assert (target / "workspace" / "MEMORY.md").read_text() == "- the cat is called Miso\n"
    assert (target / "openclaw.json").exists()
    for left_out in (
        "cache/big.bin",
        "soc/device-key.pem",
        "config-journal-fingerprint.key",
        "tmp/gateway.lock.sqlite",
    ):
        assert not (target / left_out).exists(), left_out


async def test_only_changed_files_are_uploaded(bucket: StateBucket, tmp_path: Path) -> None:
    state = tmp_path / "s"
    prepare_state_dir(state)
    fill(state)
    sync = StateSync(bucket, state)
    await sync.restore()
    await sync.backup()
    assert (await sync.backup()).uploaded == 0
    (state / "workspace" / "MEMORY.md").write_text("- the cat is called Miso\n- likes tea\n")
    (state / "workspace" / "new.md").write_text("new")
    again = await sync.backup()
    assert (again.uploaded, again.removed) == (2, 0)
    (state / "workspace" / "new.md").unlink()
    assert (await sync.backup()).removed == 1


async def test_live_sqlite_is_copied_consistently_with_its_wal(
    bucket: StateBucket, tmp_path: Path
) -> None:
    state = tmp_path / "s"
    prepare_state_dir(state)
    db = state / "agents" / "main" / "agent" / "openclaw-agent.sqlite"
    db.parent.mkdir(parents=True)
    writer = sqlite3.connect(db)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE turns (text TEXT)")
    writer.executemany("INSERT INTO turns VALUES (?)", [(f"turn {i}",) for i in range(500)])
    writer.commit()  # committed rows live in the -wal file while the writer stays open
    assert Path(str(db) + "-wal").exists()
    sync = StateSync(bucket, state)
    await sync.restore()
    await sync.backup()
    writer.close()

    target = tmp_path / "t"
    prepare_state_dir(target)
    await StateSync(bucket, target).restore()
    restored = sqlite3.connect(target / "agents" / "main" / "agent" / "openclaw-agent.sqlite")
    assert restored.execute("SELECT count(*) FROM turns").fetchone() == (500,)
    assert not Path(str(target / "agents/main/agent/openclaw-agent.sqlite") + "-wal").exists()


async def test_restore_with_s3_unreachable_never_overwrites_the_backup(
    aws, bucket: StateBucket, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "s"
    prepare_state_dir(state)
    fill(state)
    good = StateSync(bucket, state)
    await good.restore()
    await good.backup()
    before = versions(bucket)

    unreachable = StateBucket(s3("http://127.0.0.1:9"), aws.bucket, "agents/u1/")
    fresh = tmp_path / "fresh"
    prepare_state_dir(fresh)
    (fresh / "openclaw.json").write_text("{}")  # what a fresh onboarding would write
    broken = StateSync(unreachable, fresh)
    with pytest.raises(RestoreFailed, match="could not be read"):
        await broken.restore()
    assert not broken.uploads_allowed
    skipped = await broken.backup(reason="shutdown")
    assert skipped.skipped
    assert versions(bucket) == before, "the last good backup is untouched"


async def test_corrupt_newest_backup_falls_back_to_the_previous_one(
    bucket: StateBucket, tmp_path: Path
) -> None:
    state = tmp_path / "s"
    prepare_state_dir(state)
    fill(state)
    sync = StateSync(bucket, state)
    await sync.restore()
    await sync.backup()
    bucket._s3.put_object(Bucket=bucket.bucket, Key=bucket.manifest_key, Body=b"{not json")

    target = tmp_path / "t"
    prepare_state_dir(target)
    restorer = StateSync(bucket, target)
    await restorer.restore()
    assert restorer.uploads_allowed
    assert (target / "workspace" / "MEMORY.md").exists()


async def test_files_without_a_manifest_are_not_mistaken_for_no_backup(
    bucket: StateBucket, tmp_path: Path
) -> None:
    bucket._s3.put_object(Bucket=bucket.bucket, Key=f"{bucket.prefix}files/x", Body=b"x")
    state = tmp_path / "s"
    prepare_state_dir(state)
    sync = StateSync(bucket, state)
    with pytest.raises(RestoreFailed, match="no manifest"):
        await sync.restore()
    assert not sync.uploads_allowed


def test_a_state_dir_we_do_not_own_is_never_cleared(tmp_path: Path) -> None:
    foreign = tmp_path / ".openclaw"
    foreign.mkdir()
    (foreign / "openclaw.json").write_text("{}")
    with pytest.raises(RestoreFailed, match="refusing"):
        prepare_state_dir(foreign)
    assert (foreign / "openclaw.json").exists()
