"""What a backup of the agent's state dir is, and what to upload: pure logic, no I/O.

A backup is a set of files plus a manifest naming each file's hash, size and S3 version. The
manifest is written last, so a backup interrupted half-way (kill -9) leaves the previous
manifest, and therefore the previous consistent backup, in charge.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

EXCLUDED: Final[tuple[str, ...]] = (
    "cache/*",  # rebuildable (Control UI assets, model catalogs)
    "tmp/*",  # lock files of the running gateway
    "logs/*",
    "soc/*",  # our device key: a credential, regenerated on start
    "*.key",  # OpenClaw's local keys (config journal fingerprint key)
    "*-wal",
    "*-shm",
    "*-journal",  # SQLite side files: the online-backup copy already contains them
    "*lock*.sqlite",  # lock databases of a running gateway
    "*.lock",
    "*.tmp",
    "*.json5.bak",
    "openclaw.json.tmp",
    ".soc-managed",
)
"""Relative paths (POSIX) never backed up: caches, runtime locks and anything secret."""

MAX_FILE_BYTES: Final = 256 * 1024 * 1024


def is_excluded(relpath: str) -> bool:
    name = relpath.rsplit("/", 1)[-1]
    return any(
        fnmatch.fnmatchcase(relpath, pattern) or fnmatch.fnmatchcase(name, pattern)
        for pattern in EXCLUDED
    )


class FileEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sha256: str
    size: int
    versionId: str | None = None


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: int = 1
    generation: int = 0
    createdAt: datetime | None = None
    files: dict[str, FileEntry] = Field(default_factory=dict)

    @property
    def total_bytes(self) -> int:
        return sum(entry.size for entry in self.files.values())


@dataclass(frozen=True)
class LocalFile:
    relpath: str
    sha256: str
    size: int


@dataclass(frozen=True)
class UploadPlan:
    upload: tuple[LocalFile, ...]
    keep: tuple[str, ...]
    remove: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not self.upload and not self.remove


def plan(local: list[LocalFile], manifest: Manifest) -> UploadPlan:
    """Upload new or changed files, keep unchanged ones, drop files that disappeared."""
    upload, keep = [], []
    seen = set()
    for item in sorted(local, key=lambda f: f.relpath):
        seen.add(item.relpath)
        previous = manifest.files.get(item.relpath)
        if previous is not None and previous.sha256 == item.sha256:
            keep.append(item.relpath)
        else:
            upload.append(item)
    remove = sorted(path for path in manifest.files if path not in seen)
    return UploadPlan(tuple(upload), tuple(keep), tuple(remove))
