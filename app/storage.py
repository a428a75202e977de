"""S3-compatible object storage for media (optional), spoken directly with httpx.

When ``S3_BUCKET`` is set, every media file (inbound ones fetched from providers, outbound
uploads) is copied to the bucket by the sender worker after it is written under ``DATA_DIR``;
``DATA_DIR/media`` then only caches them, and a file missing there is fetched back from the
bucket when someone opens it. Files are written locally first so that a storage outage never
loses an upload or delays a message; the copy is retried until it succeeds.

Requests are path-style (``{endpoint}/{bucket}/{key}``), which AWS S3, MinIO, Garage, Ceph,
Backblaze B2, Scaleway and OVH all accept, signed with AWS Signature Version 4 (``sign``),
checked against AWS's published example in the tests. A library (boto3/aiobotocore) would pull
in tens of megabytes to do two requests.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

import httpx

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class StorageError(Exception):
    """The bucket refused or could not be reached; ``reason`` is for the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sign(
    method: str,
    url: str,
    headers: dict[str, str],
    payload_sha256: str,
    *,
    access_key: str,
    secret_key: str,
    region: str,
    now: datetime,
    service: str = "s3",
) -> dict[str, str]:
    """``headers`` plus ``x-amz-date``, ``x-amz-content-sha256`` and ``Authorization`` (SigV4).

    Every header given is signed; ``host`` is added from ``url``. The path must already be
    URI-encoded as it will be sent (``S3Store`` encodes keys itself).
    """
    parts = urlsplit(url)
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    day = stamp[:8]
    signed = {k.lower(): " ".join(str(v).split()) for k, v in headers.items()}
    signed["host"] = parts.netloc
    signed["x-amz-date"] = stamp
    signed["x-amz-content-sha256"] = payload_sha256
    names = sorted(signed)
    query = "&".join(
        sorted(
            f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
            for k, _, v in (p.partition("=") for p in parts.query.split("&") if p)
        )
    )
    canonical = "\n".join(
        [
            method.upper(),
            parts.path or "/",
            query,
            "".join(f"{n}:{signed[n]}\n" for n in names),
            ";".join(names),
            payload_sha256,
        ]
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret_key}".encode(), day), region), service), "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    result = {k: v for k, v in headers.items()}
    result["x-amz-date"] = stamp
    result["x-amz-content-sha256"] = payload_sha256
    result["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return result


@dataclass(frozen=True)
class S3Config:
    endpoint: str  # e.g. https://s3.eu-west-3.amazonaws.com or http://minio:9000
    bucket: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"


class S3Store:
    """PUT and GET of whole objects in one bucket."""

    def __init__(self, config: S3Config, client: httpx.AsyncClient) -> None:
        self.config = config
        self.client = client

    def url(self, key: str) -> str:
        return f"{self.config.endpoint.rstrip('/')}/{quote(self.config.bucket)}/{quote(key, safe='/-_.~')}"

    def _headers(self, method: str, url: str, headers: dict[str, str], payload_sha256: str) -> dict[str, str]:
        return sign(
            method,
            url,
            headers,
            payload_sha256,
            access_key=self.config.access_key,
            secret_key=self.config.secret_key,
            region=self.config.region,
            now=datetime.now(UTC),
        )

    async def put(self, key: str, content: bytes, mime: str) -> None:
        url = self.url(key)
        headers = self._headers("PUT", url, {"content-type": mime}, hashlib.sha256(content).hexdigest())
        try:
            response = await self.client.put(url, content=content, headers=headers)
        except httpx.HTTPError as exc:
            raise StorageError(f"bucket unreachable: {exc.__class__.__name__}") from exc
        if response.status_code // 100 != 2:
            raise StorageError(f"bucket answered {response.status_code}: {response.text[:200]}")

    async def get(self, key: str) -> bytes | None:
        """The object's bytes, or None when the bucket has no such key."""
        url = self.url(key)
        try:
            response = await self.client.get(url, headers=self._headers("GET", url, {}, EMPTY_SHA256))
        except httpx.HTTPError as exc:
            raise StorageError(f"bucket unreachable: {exc.__class__.__name__}") from exc
        if response.status_code == 404:
            return None
        if response.status_code // 100 != 2:
            raise StorageError(f"bucket answered {response.status_code}: {response.text[:200]}")
        return response.content
