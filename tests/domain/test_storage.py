"""S3-compatible storage of media: the SigV4 signer against AWS's published examples, and the
worker copying files to a fake bucket (real HTTP, signatures checked) and reading them back."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime

import httpx
import pytest

from app.domain import media as media_module
from app.domain import sql
from app.domain.media import get_media_file, replicate_one
from app.settings import Settings
from app.storage import EMPTY_SHA256, S3Config, S3Store, sign
from tests.dispatch.factories import make_channel, make_conversation
from tests.factories import make_company
from tests.fake_provider import FakeProvider

# AWS's examples ("Signature Calculations for the Authorization Header: Transferring Payload in
# a Single Chunk", Amazon S3 API reference), with their example credentials.
AWS_KEY, AWS_SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AWS_DAY = datetime(2013, 5, 24, tzinfo=UTC)


def test_signature_of_aws_get_object_example():
    headers = sign(
        "GET",
        "https://examplebucket.s3.amazonaws.com/test.txt",
        {"Range": "bytes=0-9"},
        EMPTY_SHA256,
        access_key=AWS_KEY,
        secret_key=AWS_SECRET,
        region="us-east-1",
        now=AWS_DAY,
    )
    assert headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


def test_signature_of_aws_put_object_example():
    body = b"Welcome to Amazon S3."
    headers = sign(
        "PUT",
        "https://examplebucket.s3.amazonaws.com/test%24file.text",
        {"Date": "Fri, 24 May 2013 00:00:00 GMT", "x-amz-storage-class": "REDUCED_REDUNDANCY"},
        hashlib.sha256(body).hexdigest(),
        access_key=AWS_KEY,
        secret_key=AWS_SECRET,
        region="us-east-1",
        now=AWS_DAY,
    )
    assert headers["Authorization"].endswith(
        "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
    )
    assert headers["x-amz-content-sha256"] == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"


class FakeBucket:
    """Objects in a dict; every request's SigV4 signature is checked like S3 does (403 if wrong)."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.objects: dict[str, tuple[str, bytes]] = {}
        self.down = False

    def __call__(self, req):
        if self.down:
            return 503, {"content-type": "application/xml"}, b"<Error><Code>SlowDown</Code></Error>"
        auth = req.headers.get("authorization", "")
        names = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
        given = {n: req.headers[n] for n in names if n not in ("host", "x-amz-date", "x-amz-content-sha256")}
        now = datetime.strptime(req.headers["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        payload = req.headers["x-amz-content-sha256"]
        if req.method == "PUT" and hashlib.sha256(req.body).hexdigest() != payload:
            return 400, {}, b"<Error><Code>XAmzContentSHA256Mismatch</Code></Error>"
        expected = sign(
            req.method,
            f"http://{req.headers['host']}{req.path}",
            given,
            payload,
            access_key="key",
            secret_key=self.secret,
            region="eu-west-3",
            now=now,
        )["Authorization"]
        if expected != auth:
            return 403, {}, b"<Error><Code>SignatureDoesNotMatch</Code></Error>"
        if req.method == "PUT":
            self.objects[req.path] = (req.headers.get("content-type", ""), req.body)
            return 200, {}, b""
        if req.path in self.objects:
            ctype, body = self.objects[req.path]
            return 200, {"content-type": ctype}, body
        return 404, {}, b"<Error><Code>NoSuchKey</Code></Error>"


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, sender_enabled=False)


async def _message_with_file(settings, content: bytes) -> tuple[int, int]:
    company = await make_company()
    channel_id = await make_channel(company)
    conversation_id = await make_conversation(company, channel_id)
    relative = f"media/{company.id}/photo.jpg"
    (settings.data_dir / relative).parent.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / relative).write_bytes(content)
    media = {"path": relative, "size": len(content), "mime_type": "image/jpeg"}
    return await sql.fetchval(
        """INSERT INTO message (company_id, channel_id, conversation_id, direction, author, type, text, data, status)
           VALUES ($1, $2, $3, 'in', 'customer', 'image', '', $4::jsonb, 'received') RETURNING id""",
        company.id,
        channel_id,
        conversation_id,
        json.dumps({"media": media}),
    ), company.id


@pytest.fixture
async def bucket():
    fake = FakeBucket("bucket-secret")
    async with FakeProvider(fake) as server, httpx.AsyncClient() as http:
        store = S3Store(S3Config(server.url, "media-bucket", "key", "bucket-secret", "eu-west-3"), http)
        media_module.configure_remote(store)
        try:
            yield fake, server
        finally:
            media_module.configure_remote(None)


async def test_files_are_copied_to_the_bucket_and_read_back(app, settings, bucket):
    fake, server = bucket
    content = b"\xff\xd8\xff" + b"x" * 300
    message_id, company_id = await _message_with_file(settings, content)
    assert await replicate_one(settings.data_dir) is True
    assert await replicate_one(settings.data_dir) is False  # nothing left to copy
    key = f"/media-bucket/media/{company_id}/photo.jpg"
    assert fake.objects[key] == ("image/jpeg", content)
    media = json.loads(await sql.fetchval("SELECT data->'media' FROM message WHERE id = $1", message_id))
    assert media["remote"] == f"media/{company_id}/photo.jpg"
    # The local copy is only a cache: gone, it comes back from the bucket when read.
    (settings.data_dir / media["path"]).unlink()
    path, mime, _ = await get_media_file(company_id, message_id, settings.data_dir)
    assert path.read_bytes() == content and mime == "image/jpeg"


async def test_a_bucket_outage_delays_the_copy_and_loses_nothing(app, settings, bucket):
    fake, server = bucket
    fake.down = True
    message_id, company_id = await _message_with_file(settings, b"abc")
    assert await replicate_one(settings.data_dir, retry_seconds=3600) is True
    media = json.loads(await sql.fetchval("SELECT data->'media' FROM message WHERE id = $1", message_id))
    assert "remote" not in media and "503" in media["remote_error"]
    assert await replicate_one(settings.data_dir) is False  # waits for its retry time
    fake.down = False
    await sql.execute(
        "UPDATE message SET data = jsonb_set(data, '{media,remote_retry_at}', to_jsonb(now() - interval '1 s'))"
    )
    assert await replicate_one(settings.data_dir) is True
    media = json.loads(await sql.fetchval("SELECT data->'media' FROM message WHERE id = $1", message_id))
    assert media["remote"] and "remote_error" not in media
    assert (settings.data_dir / media["path"]).read_bytes() == b"abc"  # the local file was never touched


async def test_wrong_credentials_are_refused_by_the_bucket_and_retried(app, settings, bucket):
    fake, server = bucket
    fake.secret = "not-what-we-sign-with"
    message_id, _ = await _message_with_file(settings, b"abc")
    assert await replicate_one(settings.data_dir, retry_seconds=3600) is True
    media = json.loads(await sql.fetchval("SELECT data->'media' FROM message WHERE id = $1", message_id))
    assert "SignatureDoesNotMatch" in media["remote_error"] and "remote" not in media


def test_incomplete_s3_settings_are_refused(monkeypatch):
    monkeypatch.setenv("S3_BUCKET", "media")
    monkeypatch.delenv("S3_ENDPOINT", raising=False)
    with pytest.raises(SystemExit, match="S3_BUCKET needs"):
        Settings.from_env()
    monkeypatch.setenv("S3_ENDPOINT", "minio:9000")
    monkeypatch.setenv("S3_ACCESS_KEY", "k")
    monkeypatch.setenv("S3_SECRET_KEY", "s")
    with pytest.raises(SystemExit, match="must start with http"):
        Settings.from_env()
