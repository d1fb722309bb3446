"""Attachments in the state bucket, under `agents/<user>/attachments/<id>`.

The object carries what it is: its Content-Type and the file name (percent-encoded, as S3
metadata is ASCII) in `x-amz-meta-name`. Browsers reach S3 directly: a presigned POST whose
policy pins the key, the type, the name and the size range (so the uploader cannot store
anything else under that id), and presigned GETs that name how the bytes are served. Both are
signed with the caller's own credentials, so the handler's role needs `s3:PutObject` /
`s3:GetObject` on the attachments (docs/iam.md); SigV4 and the regional virtual-hosted
address, which browsers reach without a redirect.

The bucket is versioned and its noncurrent versions expire (the backup's rule); an
attachment is written once, so it keeps one version.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final
from urllib.parse import quote, unquote

from serverless_openclaw.adapters.aws.errors import converted
from serverless_openclaw.adapters.signed_attachments import checked_ids, content_disposition
from serverless_openclaw.core.errors import NotFound
from serverless_openclaw.ports.attachments import (
    LINK_EXPIRES,
    UPLOAD_EXPIRES,
    StoredAttachment,
    UploadGrant,
    attachment_prefix,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

NAME_META: Final = "name"
_MISSING: Final = {"404": NotFound, "NoSuchKey": NotFound, "NotFound": NotFound}


def _converted(what: str) -> contextlib.AbstractContextManager[None]:
    return converted("S3", what, codes=_MISSING)


class S3Attachments:
    """Implements `ports.attachments.AttachmentStore`. `presigner` signs forms and links (a
    client configured for browsers, see `AwsClients.s3_presigner`); `client` does the rest."""

    def __init__(self, client: S3Client, presigner: S3Client, bucket: str) -> None:
        self._s3 = client
        self._presigner = presigner
        self.bucket = bucket

    @staticmethod
    def key(user_id: str, attachment_id: str) -> str:
        checked_ids(user_id, attachment_id)
        return attachment_prefix(user_id) + attachment_id

    def upload_form(
        self,
        user_id: str,
        attachment_id: str,
        *,
        name: str,
        content_type: str,
        max_bytes: int,
        expires_in: timedelta = UPLOAD_EXPIRES,
    ) -> UploadGrant:
        key = self.key(user_id, attachment_id)
        encoded = quote(name, safe="")
        fields = {"Content-Type": content_type, f"x-amz-meta-{NAME_META}": encoded}
        with _converted("presign upload"):
            post = self._presigner.generate_presigned_post(
                Bucket=self.bucket,
                Key=key,
                Fields=fields,
                Conditions=[
                    {"Content-Type": content_type},
                    {f"x-amz-meta-{NAME_META}": encoded},
                    ["content-length-range", 1, max_bytes],
                ],
                ExpiresIn=int(expires_in.total_seconds()),
            )
        return UploadGrant(
            url=post["url"],
            fields={str(k): str(v) for k, v in post["fields"].items()},
            expires_at=datetime.now(UTC) + expires_in,
        )

    def put(
        self, user_id: str, attachment_id: str, data: bytes, *, name: str, content_type: str
    ) -> None:
        with _converted("put attachment"):
            self._s3.put_object(
                Bucket=self.bucket,
                Key=self.key(user_id, attachment_id),
                Body=data,
                ContentType=content_type,
                Metadata={NAME_META: quote(name, safe="")},
            )

    def stat(self, user_id: str, attachment_id: str) -> StoredAttachment | None:
        try:
            with _converted("head attachment"):
                head = self._s3.head_object(
                    Bucket=self.bucket, Key=self.key(user_id, attachment_id)
                )
        except NotFound:
            return None
        return StoredAttachment(
            name=unquote(head.get("Metadata", {}).get(NAME_META, "")) or attachment_id,
            content_type=head.get("ContentType", "application/octet-stream"),
            size=int(head.get("ContentLength", 0)),
        )

    def read(self, user_id: str, attachment_id: str) -> bytes:
        with _converted("read attachment"):
            body = self._s3.get_object(Bucket=self.bucket, Key=self.key(user_id, attachment_id))
            return body["Body"].read()

    def link(
        self,
        user_id: str,
        attachment_id: str,
        *,
        name: str,
        inline: bool,
        expires_in: timedelta = LINK_EXPIRES,
    ) -> tuple[str, datetime]:
        with _converted("presign link"):
            url = self._presigner.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self.bucket,
                    "Key": self.key(user_id, attachment_id),
                    "ResponseContentDisposition": content_disposition(name, inline=inline),
                    "ResponseCacheControl": "private, max-age=900",
                },
                ExpiresIn=int(expires_in.total_seconds()),
            )
        return url, datetime.now(UTC) + expires_in

    def delete(self, user_id: str, attachment_id: str) -> None:
        with _converted("delete attachment"):
            self._s3.delete_object(Bucket=self.bucket, Key=self.key(user_id, attachment_id))
