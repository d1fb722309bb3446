"""Persist the OpenClaw state dir to S3 so that nothing the agent learnt is lost (decision D4).

- `restore(named)` before the gateway starts: the manifest the task-state row names (the last
  backup a current launch committed), else the newest one; a manifest whose files do not all
  verify falls back to older versions, never to a newer one (a fenced task may have written
  it). Any failure other than "there is no backup yet" raises a `RestoreFailed` and leaves
  uploads disabled: a task that could not restore must never overwrite the last good backup
  with a fresh, empty state.
- `backup()` after every turn, every few minutes and on shutdown: only files whose hash
  changed are uploaded; SQLite databases are copied with SQLite's online-backup API (never raw
  while the gateway has them open); caches, locks and secrets are excluded (core/snapshot.py).
- Fencing (D12): before uploading, the fence checks that this task's launch is still current;
  after the manifest is written (the commit point) its version is recorded in the task-state
  row, conditioned on the launch. A task fenced on the way writes a manifest nobody names, so
  the next task does not restore it, and stops uploading.

Blocking work (hashing, SQLite copies, the blob store, the fence) runs in a worker thread; one
backup at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from serverless_openclaw.core.errors import (
    BackupCorrupt,
    BackupUnreachable,
    Fenced,
    NoUsableBackup,
    RestoreFailed,
    StateDirNotOurs,
    StorageUnavailable,
)
from serverless_openclaw.core.snapshot import (
    MAX_FILE_BYTES,
    FileEntry,
    LocalFile,
    Manifest,
    is_excluded,
    plan,
)
from serverless_openclaw.ports.blobs import StateBlobs as StateBucket

log = logging.getLogger(__name__)

SQLITE_HEADER = b"SQLite format 3\x00"
MANAGED_MARKER = ".soc-managed"


@dataclass(frozen=True)
class BackupResult:
    uploaded: int
    removed: int
    total_bytes: int
    at: datetime
    skipped: bool = False
    manifest_version: str | None = None


class BackupFence(Protocol):
    """This task's right to write the backup (D12); both raise `Fenced` once it is gone."""

    def check(self) -> None:
        """Before uploading: is this task's launch still the current one?"""
        ...

    def commit(self, result: BackupResult) -> None:
        """After the manifest is written: name it in the task-state row, if still current."""
        ...


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _is_sqlite(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(16) == SQLITE_HEADER
    except OSError:
        return False


def _sqlite_copy(source: Path, target: Path) -> None:
    """A consistent copy of a live database, WAL included, via the online-backup API."""
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=10)
    try:
        dst = sqlite3.connect(target)
        try:
            # A scratch copy that is uploaded and thrown away: no fsync, no journal.
            dst.execute("PRAGMA synchronous=OFF")
            dst.execute("PRAGMA journal_mode=OFF")
            src.backup(dst)
            # A standalone copy: rollback journal, no WAL side files needed to read it.
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
    finally:
        src.close()


def prepare_state_dir(state_dir: Path) -> None:
    """Make `state_dir` an empty directory we own, as in a fresh Fargate task.

    A leftover dir (a local restart) is cleared so that restore starts clean — stale `-wal`
    files next to a restored database would corrupt it. A non-empty dir without our marker is
    somebody else's (e.g. a real ~/.openclaw): we refuse to touch it.
    """
    if state_dir.exists() and any(state_dir.iterdir()):
        if not (state_dir / MANAGED_MARKER).exists():
            raise StateDirNotOurs(
                f"{state_dir} is not empty and was not created by serverless-openclaw; "
                "refusing to replace it (set SOC_OPENCLAW_STATE_DIR to an empty directory)"
            )
        shutil.rmtree(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    (state_dir / MANAGED_MARKER).write_text("state dir managed by serverless-openclaw\n")


class StateSync:
    def __init__(
        self,
        bucket: StateBucket,
        state_dir: Path,
        *,
        fence: BackupFence | None = None,
        on_backup: Callable[[BackupResult], None] | None = None,
    ) -> None:
        self.bucket = bucket
        self.state_dir = state_dir
        self._fence = fence
        self._manifest = Manifest()
        self._manifest_version: str | None = None
        self._uploads_allowed = False
        self._lock = asyncio.Lock()
        self._on_backup = on_backup
        self.last_result: BackupResult | None = None
        self.restored_from: str | None = None

    @property
    def uploads_allowed(self) -> bool:
        return self._uploads_allowed

    # --- restore ---------------------------------------------------------------------------
    async def restore(self, named: str | None = None) -> Manifest:
        """Restore the manifest version `named` (what the task-state row names) or, when the
        row names none, the newest that verifies."""
        return await asyncio.to_thread(self._restore, named)

    def _restore(self, named: str | None) -> Manifest:
        try:
            versions = self.bucket.manifest_versions()
            if not versions:
                if named is not None:
                    raise BackupCorrupt(f"the backup {named} the task state names is missing")
                if self.bucket.has_objects():
                    raise BackupCorrupt(
                        "the backup has files but no manifest; not starting from scratch"
                    )
                log.info("no backup yet: starting with a fresh OpenClaw state")
                self._manifest = Manifest()
                self._uploads_allowed = True
                return self._manifest
            errors: list[str] = []
            for version in _candidates(versions, named):
                try:
                    manifest = self.bucket.read_manifest(version)
                    self._download_all(manifest)
                except (BackupUnreachable, StorageUnavailable):
                    raise
                except RestoreFailed as exc:
                    errors.append(str(exc))
                    log.warning("backup version %s unusable: %s", version, exc)
                    continue
                self._manifest = manifest
                self._manifest_version = version
                self._uploads_allowed = True
                self.restored_from = version
                if errors:
                    log.warning("restored an older backup (%s); newer ones were corrupt", version)
                return manifest
            raise NoUsableBackup("no usable backup: " + "; ".join(errors))
        except StorageUnavailable as exc:
            raise BackupUnreachable(f"the backup could not be read: {exc}") from exc

    def _download_all(self, manifest: Manifest) -> None:
        staging = Path(tempfile.mkdtemp(prefix=".restore-", dir=self.state_dir))
        try:
            for relpath, entry in manifest.files.items():
                if relpath.startswith("/") or ".." in Path(relpath).parts:
                    raise BackupCorrupt(f"unsafe path in the manifest: {relpath!r}")
                target = staging / relpath
                self.bucket.download(relpath, target, entry.versionId)
                if _sha256(target) != entry.sha256:
                    raise BackupCorrupt(f"{relpath} does not match its recorded hash")
            for item in staging.iterdir():
                destination = self.state_dir / item.name
                if destination.exists():
                    shutil.rmtree(destination) if destination.is_dir() else destination.unlink()
                item.rename(destination)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    # --- backup ----------------------------------------------------------------------------
    async def backup(self, *, reason: str = "manual") -> BackupResult:
        """Upload what changed. `StorageUnavailable` leaves the last backup as it was (the
        next one retries); `Fenced` stops this task's uploads for good."""
        if not self._uploads_allowed:
            log.warning(
                "backup (%s) skipped: restore did not succeed or the task is fenced", reason
            )
            return BackupResult(0, 0, self._manifest.total_bytes, datetime.now(UTC), skipped=True)
        async with self._lock:
            try:
                result = await asyncio.to_thread(self._backup)
            except Fenced:
                self._uploads_allowed = False
                raise
        self.last_result = result
        log.info(
            "backup (%s): %d uploaded, %d removed, %d bytes",
            reason,
            result.uploaded,
            result.removed,
            result.total_bytes,
        )
        if self._on_backup is not None and not result.skipped:
            self._on_backup(result)
        return result

    def _backup(self) -> BackupResult:
        with tempfile.TemporaryDirectory(prefix="soc-backup-") as scratch:
            local, unreadable = self._collect(Path(scratch))
            changes = plan([item for item, _ in local], self._manifest)
            # A file we could not read this time keeps its last backed-up version.
            kept_anyway = tuple(p for p in changes.remove if p in unreadable)
            changes = replace(
                changes,
                keep=changes.keep + kept_anyway,
                remove=tuple(p for p in changes.remove if p not in unreadable),
            )
            if changes.empty:
                result = BackupResult(
                    0,
                    0,
                    self._manifest.total_bytes,
                    datetime.now(UTC),
                    manifest_version=self._manifest_version,
                )
                self._commit(result)  # records when it was last known good
                return result
            if self._fence is not None:
                self._fence.check()
            sources = {item.relpath: path for item, path in local}
            files = {path: self._manifest.files[path] for path in changes.keep}
            for item in changes.upload:
                version = self.bucket.upload(item.relpath, sources[item.relpath])
                files[item.relpath] = FileEntry(
                    sha256=item.sha256, size=item.size, versionId=version
                )
            manifest = Manifest(
                generation=self._manifest.generation + 1,
                createdAt=datetime.now(UTC),
                files=dict(sorted(files.items())),
            )
            written = self.bucket.write_manifest(manifest)  # the commit point
            result = BackupResult(
                len(changes.upload),
                len(changes.remove),
                manifest.total_bytes,
                datetime.now(UTC),
                manifest_version=written,
            )
            self._commit(result)
            self._manifest, self._manifest_version = manifest, written
            for relpath in changes.remove:
                with contextlib.suppress(StorageUnavailable):
                    self.bucket.delete(relpath)
            return result

    def _commit(self, result: BackupResult) -> None:
        if self._fence is not None:
            self._fence.commit(result)

    def _collect(self, scratch: Path) -> tuple[list[tuple[LocalFile, Path]], set[str]]:
        found: list[tuple[LocalFile, Path]] = []
        unreadable: set[str] = set()
        for root, dirs, names in os.walk(self.state_dir):
            base = Path(root)
            dirs[:] = [
                d
                for d in dirs
                if not is_excluded((base / d).relative_to(self.state_dir).as_posix() + "/x")
                and not d.startswith(".restore-")
            ]
            for name in names:
                path = base / name
                relpath = path.relative_to(self.state_dir).as_posix()
                if is_excluded(relpath) or path.is_symlink() or not path.is_file():
                    continue
                try:
                    source = path
                    if _is_sqlite(path):
                        source = scratch / relpath
                        _sqlite_copy(path, source)
                    size = source.stat().st_size
                    if size > MAX_FILE_BYTES:
                        log.warning("not backing up %s: %d bytes", relpath, size)
                        continue
                    found.append((LocalFile(relpath, _sha256(source), size), source))
                except (OSError, sqlite3.Error) as exc:
                    # A file that vanished or a database mid-migration: next backup takes it.
                    log.warning("skipping %s this time: %s", relpath, exc)
                    unreadable.add(relpath)
        return found, unreadable


def _candidates(versions: list[str | None], named: str | None) -> list[str | None]:
    """What a restore may use, best first: the named manifest and the older ones after it;
    with none named, every listed version, newest first."""
    if named is None:
        return list(versions)
    if named in versions:
        return versions[versions.index(named) :]
    return [named]
