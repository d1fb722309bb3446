"""The agent's state backup as a directory of versioned files: `<root>/blobs/`.

Layout: one folder per prefix (`agents%2F<user>%2F`), in it one folder per key (the SHA-256
of the key; the key itself in `key`, for people), holding numbered versions `v000000000001`,
`v000000000002`, ... and delete markers `v000000000003.deleted`. The newest name is the
current object; a version id is the file name.

A write is atomic and durable before it returns its version id: the bytes go to a temp file
in the key's folder, which is fsynced, hard-linked to its version name (a name appears only
with all its bytes), and the folder is fsynced. Writers of one key take a `flock` on its
`.lock` (the local stack and an agent task are separate processes); readers take no lock.
Each key keeps its last `keep` versions (old manifests pin file versions; the restore tries
the newest manifests first, so ten is plenty), like the bucket's noncurrent-version expiry.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Final
from urllib.parse import quote

from pydantic import ValidationError

from serverless_openclaw.core.errors import RestoreFailed, StorageUnavailable
from serverless_openclaw.core.snapshot import Manifest

MANIFEST: Final = "manifest.json"
KEEP_VERSIONS: Final = 10
DELETED: Final = ".deleted"
_VERSION: Final = re.compile(r"^v(\d{12})(\.deleted)?$")
_CHUNK: Final = 1024 * 1024


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_dir(path: Path) -> None:
    """Create `path` and any missing parents, each made durable in its parent."""
    if path.is_dir():
        return
    ensure_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        path.mkdir()
        fsync_dir(path.parent)


class BlobDirectory:
    """All users' backups under one root; `EmbeddedStateBlobs` is a view of one prefix."""

    def __init__(self, root: Path, *, keep: int = KEEP_VERSIONS) -> None:
        self.root = root
        self.keep = max(1, keep)

    # --- paths -----------------------------------------------------------------------------
    def prefix_dir(self, prefix: str) -> Path:
        return self.root / quote(prefix, safe="")

    def key_dir(self, prefix: str, key: str) -> Path:
        return self.prefix_dir(prefix) / hashlib.sha256(key.encode()).hexdigest()

    @staticmethod
    def versions(key_dir: Path) -> list[str]:
        """Version names, newest first (delete markers included)."""
        try:
            names = [n for n in os.listdir(key_dir) if _VERSION.match(n)]
        except FileNotFoundError:
            return []
        return sorted(names, key=lambda n: int(n[1:13]), reverse=True)

    # --- writes ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _writing(self, prefix: str, key: str) -> Iterator[Path]:
        """The key's folder, its write lock held. A temp file found there belongs to a
        writer that died mid-write (writers hold the lock while theirs exists): removed."""
        key_dir = self.key_dir(prefix, key)
        ensure_dir(key_dir)
        with open(key_dir / ".lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                for stale in key_dir.glob(".tmp-*"):
                    stale.unlink(missing_ok=True)
                label = key_dir / "key"
                if not label.exists():
                    self._atomic_write(key_dir, label, key.encode())
                yield key_dir
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @staticmethod
    def _atomic_write(key_dir: Path, target: Path, data: bytes) -> None:
        tmp = key_dir / f".tmp-{uuid.uuid4().hex}"
        with open(tmp, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
        fsync_dir(key_dir)

    def put(self, prefix: str, key: str, source: Path | bytes | None) -> str:
        """Store a new version (None: a delete marker); returns its version id."""
        try:
            with self._writing(prefix, key) as key_dir:
                tmp = key_dir / f".tmp-{uuid.uuid4().hex}"
                try:
                    with open(tmp, "wb") as out:
                        if isinstance(source, bytes):
                            out.write(source)
                        elif source is not None:
                            with open(source, "rb") as src:
                                shutil.copyfileobj(src, out, _CHUNK)
                        out.flush()
                        os.fsync(out.fileno())
                    current = self.versions(key_dir)
                    number = int(current[0][1:13]) + 1 if current else 1
                    name = f"v{number:012d}" + (DELETED if source is None else "")
                    os.link(tmp, key_dir / name)
                finally:
                    tmp.unlink(missing_ok=True)
                fsync_dir(key_dir)
                for old in self.versions(key_dir)[self.keep :]:
                    (key_dir / old).unlink(missing_ok=True)
                return name
        except OSError as exc:
            raise StorageUnavailable(f"state blobs: could not write {key}: {exc}") from exc

    # --- reads -----------------------------------------------------------------------------
    def open_version(self, prefix: str, key: str, version_id: str | None) -> Path:
        """The file of a version (the current one for None); `StorageUnavailable` when it
        is not there, as S3's NoSuchKey / NoSuchVersion reach callers."""
        key_dir = self.key_dir(prefix, key)
        if version_id is None:
            current = self.versions(key_dir)
            name = current[0] if current else None
        else:
            name = version_id if _VERSION.match(version_id) else None
        if name is None or name.endswith(DELETED) or not (key_dir / name).is_file():
            what = f"{key} version {version_id}" if version_id else key
            raise StorageUnavailable(f"state blobs: no object {what}")
        return key_dir / name


class EmbeddedStateBlobs:
    def __init__(self, directory: BlobDirectory, prefix: str) -> None:
        self._dir = directory
        self.prefix = prefix if prefix.endswith("/") else prefix + "/"

    def _key(self, relpath: str) -> str:
        return f"files/{relpath}"

    def manifest_versions(self, limit: int = 5) -> list[str | None]:
        versions = self._dir.versions(self._dir.key_dir(self.prefix, MANIFEST))
        ids: list[str | None] = [v for v in versions if not v.endswith(DELETED)]
        return ids[:limit]

    def has_objects(self) -> bool:
        base = self._dir.prefix_dir(self.prefix)
        if not base.is_dir():
            return False
        for key_dir in base.iterdir():
            current = self._dir.versions(key_dir)
            if current and not current[0].endswith(DELETED):
                return True
        return False

    def read_manifest(self, version_id: str | None = None) -> Manifest:
        path = self._dir.open_version(self.prefix, MANIFEST, version_id)
        try:
            body = path.read_bytes()
        except OSError as exc:
            raise StorageUnavailable(f"state blobs: could not read the manifest: {exc}") from exc
        try:
            return Manifest.model_validate(json.loads(body))
        except (json.JSONDecodeError, UnicodeDecodeError, ValidationError) as exc:
            raise RestoreFailed(f"the backup manifest is corrupt: {exc}") from exc

    def write_manifest(self, manifest: Manifest) -> str | None:
        return self._dir.put(self.prefix, MANIFEST, manifest.model_dump_json().encode())

    def write_raw_manifest(self, body: bytes) -> str:
        """Put any bytes where the manifest goes (tests of a damaged backup)."""
        return self._dir.put(self.prefix, MANIFEST, body)

    def upload(self, relpath: str, path: Path) -> str | None:
        return self._dir.put(self.prefix, self._key(relpath), path)

    def download(self, relpath: str, target: Path, version_id: str | None) -> None:
        source = self._dir.open_version(self.prefix, self._key(relpath), version_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
        try:
            shutil.copyfile(source, partial)
            os.replace(partial, target)
        except FileNotFoundError as exc:  # pruned while we read
            raise StorageUnavailable(f"state blobs: no object {relpath} {version_id}") from exc
        finally:
            partial.unlink(missing_ok=True)

    def delete(self, relpath: str) -> None:
        """A delete marker: the current object is gone, its versions stay readable."""
        key = self._key(relpath)
        if self._dir.versions(self._dir.key_dir(self.prefix, key)):
            self._dir.put(self.prefix, key, None)
