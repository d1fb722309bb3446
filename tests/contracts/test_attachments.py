"""AttachmentStore: bytes stored under one user's prefix with the name and type the store
was told (a form's own, whatever the uploader claims), forms that take one size range,
links that serve the bytes inline or as a download, and nothing of it counted as a backup."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from starlette.applications import Starlette

from serverless_openclaw.core.errors import NotFound
from serverless_openclaw.local.attachment_files import routes
from serverless_openclaw.local.serve import serve_in_thread
from serverless_openclaw.ports.attachments import UploadGrant

from .conftest import Family

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
NAME = "Résumé 2026 (final).pdf"


@contextmanager
def _client(family: Family) -> Iterator[httpx.Client]:
    """Where a browser sends forms and follows links: S3 (moto) for aws, the local stack's
    routes over this family's store for the others (their URLs are relative to the site)."""
    if family.name == "aws":
        with httpx.Client(timeout=10) as client:
            yield client
        return
    server = serve_in_thread(Starlette(routes=routes(family.ports.attachments())))  # type: ignore[arg-type]
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            yield client
    finally:
        server.stop()


def submit(family: Family, grant: UploadGrant, data: bytes, *, claimed: str = "text/html") -> int:
    """The browser's form POST: the grant's fields, then the file (whose own type the
    uploader may lie about)."""
    with _client(family) as client:
        response = client.post(
            grant.url, data=grant.fields, files={"file": ("evil.html", data, claimed)}
        )
    return response.status_code


def fetch(family: Family, url: str) -> httpx.Response:
    with _client(family) as client:
        return client.get(url)


def test_bytes_put_are_read_back_with_what_they_are(family: Family) -> None:
    store = family.ports.attachments()
    assert store.stat("u1", "att-00000001") is None
    store.put("u1", "att-00000001", PNG, name="cat.png", content_type="image/png")
    stored = store.stat("u1", "att-00000001")
    assert stored is not None
    assert (stored.name, stored.content_type, stored.size) == ("cat.png", "image/png", len(PNG))
    assert store.read("u1", "att-00000001") == PNG

    store.delete("u1", "att-00000001")
    assert store.stat("u1", "att-00000001") is None
    with pytest.raises(NotFound):
        store.read("u1", "att-00000001")


def test_one_users_attachments_are_apart_from_anothers(family: Family) -> None:
    store = family.ports.attachments()
    store.put("u1", "att-00000002", b"mine", name="a.txt", content_type="text/plain")
    assert store.stat("u10", "att-00000002") is None  # a prefix of mine, as text
    with pytest.raises(NotFound):
        store.read("u10", "att-00000002")


def test_an_upload_form_stores_its_own_name_and_type(family: Family) -> None:
    store = family.ports.attachments()
    grant = store.upload_form(
        "u1", "att-00000003", name=NAME, content_type="application/pdf", max_bytes=1000
    )
    assert grant.expires_at > family.now()
    assert store.stat("u1", "att-00000003") is None  # nothing until the upload

    assert submit(family, grant, b"%PDF-1.4 tiny") in (200, 201, 204)
    stored = store.stat("u1", "att-00000003")
    assert stored is not None
    assert (stored.name, stored.content_type, stored.size) == (NAME, "application/pdf", 13)
    assert store.read("u1", "att-00000003") == b"%PDF-1.4 tiny"


def test_an_upload_over_the_forms_size_is_refused(family: Family) -> None:
    family.not_on_moto("does not enforce a presigned POST's content-length-range")
    store = family.ports.attachments()
    grant = store.upload_form(
        "u1", "att-00000004", name="big.png", content_type="image/png", max_bytes=100
    )
    assert submit(family, grant, b"x" * 101, claimed="image/png") in (400, 403, 413)
    assert store.stat("u1", "att-00000004") is None


def test_the_s3_form_policy_pins_key_type_name_and_size(family: Family) -> None:
    """What moto does not check, S3 does: the policy we sign is all that stands between a
    form and the bucket, so read it back."""
    if family.name != "aws":
        pytest.skip("the S3 form's policy")
    grant = family.ports.attachments().upload_form(
        "u1", "att-00000010", name=NAME, content_type="application/pdf", max_bytes=100
    )
    policy = json.loads(base64.b64decode(grant.fields["policy"]))
    conditions = policy["conditions"]
    assert {"key": "agents/u1/attachments/att-00000010"} in conditions
    assert {"Content-Type": "application/pdf"} in conditions
    assert {"x-amz-meta-name": grant.fields["x-amz-meta-name"]} in conditions
    assert ["content-length-range", 1, 100] in conditions
    expires = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert expires - datetime.now(UTC) <= timedelta(minutes=10, seconds=5)


def test_a_form_altered_by_its_holder_stores_nothing(family: Family) -> None:
    family.not_on_moto("does not check a presigned POST's policy against the form")
    store = family.ports.attachments()
    grant = store.upload_form(
        "u1", "att-00000005", name="a.png", content_type="image/png", max_bytes=100
    )
    other = store.upload_form(
        "u2", "att-00000005", name="a.png", content_type="image/png", max_bytes=100
    )
    forged = UploadGrant(grant.url[:-6] + other.url[-6:], grant.fields, grant.expires_at)
    assert submit(family, forged, PNG) == 403
    assert store.stat("u1", "att-00000005") is None
    assert store.stat("u2", "att-00000005") is None


def test_an_expired_form_stores_nothing(family: Family) -> None:
    family.travel()
    store = family.ports.attachments()
    grant = store.upload_form(
        "u1",
        "att-00000006",
        name="a.png",
        content_type="image/png",
        max_bytes=100,
        expires_in=timedelta(minutes=10),
    )
    family.advance(11 * 60)
    assert submit(family, grant, PNG) == 403
    assert store.stat("u1", "att-00000006") is None


@pytest.mark.parametrize("inline", [True, False])
def test_a_link_serves_the_bytes_inline_or_as_a_download(family: Family, inline: bool) -> None:
    store = family.ports.attachments()
    store.put("u1", "att-00000007", PNG, name=NAME, content_type="image/png")
    url, expires = store.link("u1", "att-00000007", name=NAME, inline=inline)
    assert expires > family.now()

    response = fetch(family, url)
    assert response.status_code == 200
    assert response.content == PNG
    assert response.headers["content-type"].startswith("image/png")
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("inline" if inline else "attachment")
    assert "filename*=UTF-8''R%C3%A9sum%C3%A9%202026%20%28final%29.pdf" in disposition


def test_an_expired_or_altered_link_serves_nothing(family: Family) -> None:
    family.travel()
    store = family.ports.attachments()
    store.put("u1", "att-00000008", PNG, name="a.png", content_type="image/png")
    url, _ = store.link("u1", "att-00000008", name="a.png", inline=True)
    assert (
        fetch(family, url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")).status_code == 403
    )
    family.advance(16 * 60)
    assert fetch(family, url).status_code == 403


def test_attachments_are_not_a_backup(family: Family) -> None:
    """A person may upload before their agent ever ran: the agent's first restore must
    still see "no backup yet", not "files without a manifest"."""
    family.ports.attachments().put(
        "u1", "att-00000009", PNG, name="a.png", content_type="image/png"
    )
    blobs = family.ports.state_blobs("agents/u1/")
    assert not blobs.has_objects()
    assert blobs.manifest_versions() == []
