"""The agent's backup in the versioned state bucket, under `agents/<userId>/`.

Files are stored under `files/<relpath>` and pinned by S3 version id in `manifest.json`, so
restoring a manifest gives exactly the files it named even if newer versions were uploaded
later. Noncurrent versions expire through the bucket's lifecycle rule (every stored version
is billed).
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from serverless_openclaw.adapters.aws.errors import converted
from serverless_openclaw.core.errors import RestoreFailed
from serverless_openclaw.core.snapshot import Manifest

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MANIFEST = "manifest.json"


def _converted(what: str) -> contextlib.AbstractContextManager[None]:
    return converted("S3", what)


class StateBucket:
    def __init__(self, client: S3Client, bucket: str, prefix: str) -> None:
        self._s3 = client
        self.bucket = bucket
        self.prefix = prefix if prefix.endswith("/") else prefix + "/"

    def _key(self, relpath: str) -> str:
        return f"{self.prefix}files/{relpath}"

    @property
    def manifest_key(self) -> str:
        return f"{self.prefix}{MANIFEST}"

    def manifest_versions(self, limit: int = 5) -> list[str | None]:
        """Version ids of the manifest, newest first ([None] when the bucket is unversioned,
        [] when there is no manifest at all)."""
        with _converted("list manifest versions"):
            answer = self._s3.list_object_versions(
                Bucket=self.bucket, Prefix=self.manifest_key, MaxKeys=limit * 2
            )
        versions = [v for v in answer.get("Versions", []) if v.get("Key") == self.manifest_key]
        versions.sort(key=lambda v: v["LastModified"], reverse=True)
        ids: list[str | None] = [
            None if v.get("VersionId") in (None, "null") else v.get("VersionId")
            for v in versions[:limit]
        ]
        return ids

    def has_objects(self) -> bool:
        """Any backed-up file (the person's attachments beside them are not a backup)."""
        with _converted("list"):
            answer = self._s3.list_objects_v2(
                Bucket=self.bucket, Prefix=f"{self.prefix}files/", MaxKeys=1
            )
        return int(answer.get("KeyCount", 0)) > 0

    def read_manifest(self, version_id: str | None = None) -> Manifest:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": self.manifest_key}
        if version_id:
            kwargs["VersionId"] = version_id
        with _converted("read manifest"):
            body = self._s3.get_object(**kwargs)["Body"].read()
        try:
            return Manifest.model_validate(json.loads(body))
        except (json.JSONDecodeError, UnicodeDecodeError, ValidationError) as exc:
            raise RestoreFailed(f"the backup manifest is corrupt: {exc}") from exc

    def write_manifest(self, manifest: Manifest) -> str | None:
        with _converted("write manifest"):
            answer = self._s3.put_object(
                Bucket=self.bucket,
                Key=self.manifest_key,
                Body=manifest.model_dump_json().encode(),
                ContentType="application/json",
            )
        return answer.get("VersionId")

    def upload(self, relpath: str, path: Path) -> str | None:
        """Upload one file; returns its S3 version id."""
        with _converted(f"upload {relpath}"), open(path, "rb") as body:
            answer = self._s3.put_object(Bucket=self.bucket, Key=self._key(relpath), Body=body)
        return answer.get("VersionId")

    def download(self, relpath: str, target: Path, version_id: str | None) -> None:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(relpath)}
        if version_id and version_id != "null":
            kwargs["VersionId"] = version_id
        target.parent.mkdir(parents=True, exist_ok=True)
        with _converted(f"download {relpath}"):
            body = self._s3.get_object(**kwargs)["Body"]
            with open(target, "wb") as handle:
                for chunk in iter(lambda: body.read(1024 * 1024), b""):
                    handle.write(chunk)

    def delete(self, relpath: str) -> None:
        with _converted(f"delete {relpath}"):
            self._s3.delete_object(Bucket=self.bucket, Key=self._key(relpath))
