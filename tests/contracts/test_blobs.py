"""StateBlobs: every write a new version, reads by version, the manifest's versions newest
first, deletes that keep old versions readable, one user's prefix apart from another's."""

from __future__ import annotations

from pathlib import Path

import pytest

from serverless_openclaw.core.errors import RestoreFailed, StorageUnavailable
from serverless_openclaw.core.snapshot import FileEntry, Manifest

from .conftest import Family

PREFIX = "agents/u1/"


def _file(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_each_upload_is_a_version_that_stays_readable(family: Family, tmp_path: Path) -> None:
    blobs = family.ports.state_blobs(PREFIX)
    first = blobs.upload("workspace/notes.md", _file(tmp_path, "a", b"one"))
    second = blobs.upload("workspace/notes.md", _file(tmp_path, "b", b"two"))
    assert first != second

    for version, expected in ((first, b"one"), (second, b"two"), (None, b"two")):
        target = tmp_path / "restore" / "deep" / "notes.md"
        blobs.download("workspace/notes.md", target, version)
        assert target.read_bytes() == expected

    blobs.delete("workspace/notes.md")
    with pytest.raises(StorageUnavailable):
        blobs.download("workspace/notes.md", tmp_path / "gone", None)
    blobs.download("workspace/notes.md", tmp_path / "old", first)  # an old manifest's pin
    assert (tmp_path / "old").read_bytes() == b"one"


def test_manifests_are_listed_newest_first(family: Family, tmp_path: Path) -> None:
    blobs = family.ports.state_blobs(PREFIX)
    assert blobs.manifest_versions() == []
    assert not blobs.has_objects()
    version = blobs.upload("config.json", _file(tmp_path, "c", b"{}"))
    assert blobs.has_objects()

    written = []
    for generation in range(1, 4):
        manifest = Manifest(
            generation=generation,
            files={"config.json": FileEntry(sha256="0" * 64, size=2, versionId=version)},
        )
        written.append(blobs.write_manifest(manifest))
    assert blobs.manifest_versions() == list(reversed(written))
    assert blobs.manifest_versions(limit=2) == [written[2], written[1]]
    assert blobs.read_manifest().generation == 3
    assert blobs.read_manifest(written[0]).generation == 1
    assert blobs.read_manifest(written[1]).files["config.json"].versionId == version


def test_a_damaged_manifest_is_a_failed_restore(family: Family) -> None:
    family.write_raw_manifest(PREFIX, b"{not json")
    blobs = family.ports.state_blobs(PREFIX)
    with pytest.raises(RestoreFailed):
        blobs.read_manifest()


def test_one_users_backup_is_apart_from_anothers(family: Family, tmp_path: Path) -> None:
    mine = family.ports.state_blobs(PREFIX)
    mine.upload("a.txt", _file(tmp_path, "a", b"mine"))
    mine.write_manifest(Manifest(generation=1))
    theirs = family.ports.state_blobs("agents/u10/")  # a prefix of mine, as text
    assert not theirs.has_objects()
    assert theirs.manifest_versions() == []
    with pytest.raises(StorageUnavailable):
        theirs.download("a.txt", tmp_path / "x", None)
