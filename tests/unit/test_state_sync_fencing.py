"""Backups and fencing (D12) on the memory adapters: a task whose launch is over uploads
nothing, a task fenced in the middle of a backup does not become the backup the next task
restores, and a restore takes the manifest the task-state row names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from serverless_openclaw.adapters.memory import MemoryPorts
from serverless_openclaw.agent.reporter import LaunchFence
from serverless_openclaw.agent.state_sync import StateSync, prepare_state_dir
from serverless_openclaw.core.errors import BackupCorrupt, Fenced
from serverless_openclaw.core.snapshot import Manifest

from .conftest import USER, launch

PREFIX = f"agents/{USER}/"


def state(path: Path, memory: str) -> Path:
    prepare_state_dir(path)
    (path / "workspace").mkdir(exist_ok=True)
    (path / "workspace" / "MEMORY.md").write_text(memory)
    return path


def sync_for(ports: MemoryPorts, path: Path, launch_id: str, blobs: Any = None) -> StateSync:
    fence = LaunchFence(ports.task_state(), user_id=USER, launch_id=launch_id)
    return StateSync(blobs or ports.state_blobs(PREFIX), path, fence=fence)


def object_versions(ports: MemoryPorts) -> int:
    return sum(len(v) for v in ports.blobs.versions.values())


async def restored_memory(ports: MemoryPorts, path: Path) -> str:
    prepare_state_dir(path)
    sync = StateSync(ports.state_blobs(PREFIX), path)
    await sync.restore(ports.task_state().get(USER).last_backup_manifest)
    return (path / "workspace" / "MEMORY.md").read_text()


async def test_the_row_names_each_committed_backup_and_the_next_task_restores_it(
    ports: MemoryPorts, tmp_path: Path
) -> None:
    first = launch(ports)
    sync = sync_for(ports, state(tmp_path / "a", "- the cat is called Miso\n"), first)
    await sync.restore(None)  # no backup yet
    result = await sync.backup()

    row = ports.task_state().get(USER)
    assert row.last_backup_manifest == result.manifest_version is not None
    assert row.last_backup_bytes == result.total_bytes
    assert await restored_memory(ports, tmp_path / "b") == "- the cat is called Miso\n"


async def test_a_fenced_task_uploads_nothing_and_stops_trying(
    ports: MemoryPorts, tmp_path: Path
) -> None:
    old = launch(ports)
    path = state(tmp_path / "a", "- the cat is called Miso\n")
    sync = sync_for(ports, path, old)
    await sync.restore(None)
    await sync.backup()
    launch(ports)  # the control plane started another task
    before = object_versions(ports)
    (path / "workspace" / "MEMORY.md").write_text("- an orphan's idea\n")

    with pytest.raises(Fenced):
        await sync.backup()
    assert object_versions(ports) == before, "not one file uploaded"
    assert not sync.uploads_allowed
    assert (await sync.backup(reason="shutdown")).skipped


class FencedWhileWriting:
    """The control plane moves on while this task writes its manifest (a partition)."""

    def __init__(self, blobs: Any, ports: MemoryPorts) -> None:
        self._blobs = blobs
        self._ports = ports

    def __getattr__(self, name: str) -> Any:
        return getattr(self._blobs, name)

    def write_manifest(self, manifest: Manifest) -> str | None:
        launch(self._ports)
        version: str | None = self._blobs.write_manifest(manifest)
        return version


async def test_a_task_fenced_mid_backup_is_not_what_the_next_task_restores(
    ports: MemoryPorts, tmp_path: Path
) -> None:
    old = launch(ports)
    path = state(tmp_path / "a", "- the cat is called Miso\n")
    sync = sync_for(ports, path, old)
    await sync.restore(None)
    good = await sync.backup()

    (path / "workspace" / "MEMORY.md").write_text("- written by a task nobody owns\n")
    orphan = sync_for(ports, path, old, FencedWhileWriting(ports.state_blobs(PREFIX), ports))
    await orphan.restore(good.manifest_version)
    (path / "workspace" / "MEMORY.md").write_text("- written by a task nobody owns\n")
    with pytest.raises(Fenced):
        await orphan.backup()

    newest = ports.state_blobs(PREFIX).manifest_versions()[0]
    assert newest != good.manifest_version, "its manifest was written..."
    assert ports.task_state().get(USER).last_backup_manifest == good.manifest_version
    assert await restored_memory(ports, tmp_path / "b") == "- the cat is called Miso\n", (
        "...but nobody restores it"
    )


async def test_a_corrupt_named_backup_falls_back_to_an_older_one_never_a_newer_one(
    ports: MemoryPorts, tmp_path: Path
) -> None:
    current = launch(ports)
    path = state(tmp_path / "a", "one\n")
    sync = sync_for(ports, path, current)
    await sync.restore(None)
    first = await sync.backup()
    (path / "workspace" / "MEMORY.md").write_text("two\n")
    second = await sync.backup()
    (path / "workspace" / "MEMORY.md").write_text("three (an orphan's)\n")
    blobs = ports.state_blobs(PREFIX)
    rogue = StateSync(blobs, path)  # unfenced: what an orphan could have left behind
    await rogue.restore(second.manifest_version)
    (path / "workspace" / "MEMORY.md").write_text("three (an orphan's)\n")
    await rogue.backup()
    # The named manifest (the second) is damaged.
    versions = ports.blobs.versions[blobs.manifest_key]
    versions[:] = [(v, b"{not json" if v == second.manifest_version else d) for v, d in versions]

    target = tmp_path / "b"
    prepare_state_dir(target)
    restorer = StateSync(blobs, target)
    await restorer.restore(second.manifest_version)
    assert (target / "workspace" / "MEMORY.md").read_text() == "one\n"
    assert restorer.restored_from == first.manifest_version

    only_the_named = tmp_path / "c"
    prepare_state_dir(only_the_named)
    versions[:] = [(v, b"{not json" if v != versions[-1][0] else d) for v, d in versions]
    with pytest.raises(BackupCorrupt):
        await StateSync(blobs, only_the_named).restore(second.manifest_version)
