"""Where the agent's backup lives: the versioned state bucket on AWS, a folder of versioned
files locally (decision D4).

A backup is files plus a manifest (`core/snapshot.py`) that pins each file's version, so a
restore gets exactly what one manifest named even if newer versions were written since.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from serverless_openclaw.core.snapshot import Manifest


class StateBlobs(Protocol):
    """One user's backup (the store is scoped to that user's prefix when it is made)."""

    def manifest_versions(self, limit: int = 5) -> list[str | None]:
        """Version ids of the manifest, newest first ([None] when unversioned; [] when there
        is no manifest)."""
        ...

    def has_objects(self) -> bool: ...

    def read_manifest(self, version_id: str | None = None) -> Manifest:
        """`RestoreFailed` when the manifest is not readable as one."""
        ...

    def write_manifest(self, manifest: Manifest) -> str | None:
        """Write the manifest; returns its version id."""
        ...

    def upload(self, relpath: str, path: Path) -> str | None:
        """Store one file; returns its version id."""
        ...

    def download(self, relpath: str, target: Path, version_id: str | None) -> None:
        """Write that version (the current one for None) to `target`; `StorageUnavailable`
        when the object or version is not there (what S3's NoSuchKey/NoSuchVersion become),
        also after `delete`, which keeps older versions readable."""
        ...

    def delete(self, relpath: str) -> None: ...
