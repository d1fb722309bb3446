"""Persist the OpenClaw state dir to S3 so that nothing the agent learnt is lost (decision D4).

- `restore()` before the gateway starts: the newest manifest whose files all verify; if the
  newest is corrupt, older manifest versions are tried. Any failure other than "there is no
  backup yet" raises RestoreFailed and leaves uploads disabled: a task that could not restore
  must never overwrite the last good backup with a fresh, empty state.
- `backup()` after turns (debounced), every few minutes and on shutdown: only files whose hash
  changed are uploaded; SQLite databases are copied with SQLite's online-backup API (never raw
  while the gateway has them open); caches, locks and secrets are excluded (core/snapshot.py).

Blocking work (hashing, SQLite copies, boto3) runs in a worker thread; one backup at a time.
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

from serverless_openclaw.core.errors import RestoreFailed, StorageUnavailable
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
            raise RestoreFailed(
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
        on_backup: Callable[[BackupResult], None] | None = None,
    ) -> None:
        self.bucket = bucket
        self.state_dir = state_dir
        self._manifest = Manifest()
        self._uploads_allowed = False
        self._lock = asyncio.Lock()
        self._on_backup = on_backup
        self.last_result: BackupResult | None = None
        self.restored_from: str | None = None

    @property
    def uploads_allowed(self) -> bool:
        return self._uploads_allowed

    # --- restore ---------------------------------------------------------------------------
    async def restore(self) -> Manifest:
        return await asyncio.to_thread(self._restore)

    def _restore(self) -> Manifest:
        try:
            versions = self.bucket.manifest_versions()
            if not versions:
                if self.bucket.has_objects():
                    raise RestoreFailed(
                        "the backup has files but no manifest; not starting from scratch"
                    )
                log.info("no backup yet: starting with a fresh OpenClaw state")
                self._manifest = Manifest()
                self._uploads_allowed = True
                return self._manifest
            errors: list[str] = []
            for version in versions:
                try:
                    manifest = self.bucket.read_manifest(version)
                    self._download_all(manifest)
                except RestoreFailed as exc:
                    errors.append(str(exc))
                    log.warning("backup version %s unusable: %s", version, exc)
                    continue
                self._manifest = manifest
                self._uploads_allowed = True
                self.restored_from = version
                if errors:
                    log.warning("restored an older backup (%s); newer ones were corrupt", version)
                return manifest
            raise RestoreFailed("no usable backup: " + "; ".join(errors))
        except StorageUnavailable as exc:
            raise RestoreFailed(f"the backup could not be read: {exc}") from exc

    def _download_all(self, manifest: Manifest) -> None:
        staging = Path(tempfile.mkdtemp(prefix=".restore-", dir=self.state_dir))
        try:
            for relpath, entry in manifest.files.items():
                if relpath.startswith("/") or ".." in Path(relpath).parts:
                    raise RestoreFailed(f"unsafe path in the manifest: {relpath!r}")
                target = staging / relpath
                self.bucket.download(relpath, target, entry.versionId)
                if _sha256(target) != entry.sha256:
                    raise RestoreFailed(f"{relpath} does not match its recorded hash")
            for item in staging.iterdir():
                destination = self.state_dir / item.name
                if destination.exists():
                    shutil.rmtree(destination) if destination.is_dir() else destination.unlink()
                item.rename(destination)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    # --- backup ----------------------------------------------------------------------------
    async def backup(self, *, reason: str = "manual") -> BackupResult:
        if not self._uploads_allowed:
            log.warning("backup (%s) skipped: restore did not succeed", reason)
            return BackupResult(0, 0, self._manifest.total_bytes, datetime.now(UTC), skipped=True)
        async with self._lock:
            result = await asyncio.to_thread(self._backup)
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
                return BackupResult(0, 0, self._manifest.total_bytes, datetime.now(UTC))
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
            self.bucket.write_manifest(manifest)  # the commit point
            for relpath in changes.remove:
                with contextlib.suppress(StorageUnavailable):
                    self.bucket.delete(relpath)
            self._manifest = manifest
            return BackupResult(
                len(changes.upload), len(changes.remove), manifest.total_bytes, datetime.now(UTC)
            )

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
