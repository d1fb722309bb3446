"""The agent's state backup in memory: versioned objects under a prefix, like the versioned
state bucket (every write is a new version; reads may name one)."""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from pydantic import ValidationError

from serverless_openclaw.core.errors import RestoreFailed, StorageUnavailable
from serverless_openclaw.core.snapshot import Manifest

MANIFEST: Final = "manifest.json"


@dataclass
class BlobBucket:
    """Every user's objects: key -> versions, oldest first (None = a delete marker). One per
    `MemoryPorts`; `MemoryStateBlobs` is a view of one prefix."""

    versions: dict[str, list[tuple[str, bytes | None]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def put(self, key: str, data: bytes | None) -> str:
        with self.lock:
            version = f"v{next(self._ids):012d}"
            self.versions.setdefault(key, []).append((version, data))
            return version

    def get(self, key: str, version_id: str | None) -> bytes:
        with self.lock:
            history = self.versions.get(key, [])
            if version_id is None:
                data = history[-1][1] if history else None
            else:
                data = next((d for v, d in history if v == version_id), None)
        if data is None:
            # What S3 answers (NoSuchKey / NoSuchVersion) reaches callers as this, too.
            what = f"{key} version {version_id}" if version_id else key
            raise StorageUnavailable(f"state blobs: no object {what}")
        return data


class MemoryStateBlobs:
    def __init__(self, bucket: BlobBucket, prefix: str) -> None:
        self._bucket = bucket
        self.prefix = prefix if prefix.endswith("/") else prefix + "/"

    def _key(self, relpath: str) -> str:
        return f"{self.prefix}files/{relpath}"

    @property
    def manifest_key(self) -> str:
        return f"{self.prefix}{MANIFEST}"

    def manifest_versions(self, limit: int = 5) -> list[str | None]:
        with self._bucket.lock:
            history = list(self._bucket.versions.get(self.manifest_key, []))
        ids: list[str | None] = [v for v, data in reversed(history) if data is not None]
        return ids[:limit]

    def has_objects(self) -> bool:
        with self._bucket.lock:
            return any(
                key.startswith(self.prefix) and history and history[-1][1] is not None
                for key, history in self._bucket.versions.items()
            )

    def read_manifest(self, version_id: str | None = None) -> Manifest:
        body = self._bucket.get(self.manifest_key, version_id)
        try:
            return Manifest.model_validate(json.loads(body))
        except (json.JSONDecodeError, UnicodeDecodeError, ValidationError) as exc:
            raise RestoreFailed(f"the backup manifest is corrupt: {exc}") from exc

    def write_manifest(self, manifest: Manifest) -> str | None:
        return self._bucket.put(self.manifest_key, manifest.model_dump_json().encode())

    def write_raw_manifest(self, body: bytes) -> str:
        """Put any bytes where the manifest goes (tests of a damaged backup)."""
        return self._bucket.put(self.manifest_key, body)

    def upload(self, relpath: str, path: Path) -> str | None:
        return self._bucket.put(self._key(relpath), path.read_bytes())

    def download(self, relpath: str, target: Path, version_id: str | None) -> None:
        data = self._bucket.get(self._key(relpath), version_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def delete(self, relpath: str) -> None:
        """A delete marker: the current object is gone, its versions stay readable."""
        key = self._key(relpath)
        with self._bucket.lock:
            present = key in self._bucket.versions
        if present:
            self._bucket.put(key, None)
