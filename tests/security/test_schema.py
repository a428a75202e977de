"""``/schema`` publishes the public API only (issue 16, low), on a docs page that needs no
script from anywhere (it was blank when its CDN was unreachable)."""

from __future__ import annotations

import re


async def test_only_the_public_api_is_published(client):
    doc = (await client.get("/schema/openapi.json")).json()
    paths = list(doc["paths"])
    # The API only: /api/v1, the operator API and the seeds' APIs (issue 19), never a page's route.
    assert paths and all(p.startswith("/api/") for p in paths), [p for p in paths if not p.startswith("/api/")]
    assert "/api/v1/orders" in paths and "/api/extensions" in paths and "/api/clients" in paths
    assert not any(p.startswith(("/admin", "/inbox", "/operator", "/supervisor")) for p in paths)


async def test_the_docs_page_has_no_script_and_nothing_from_elsewhere(client):
    for path in ("/schema", "/schema/docs"):
        r = await client.get(path)
        assert r.status_code == 200 and "POST /api/v1/orders" in r.text
        assert "<script" not in r.text and not re.search(r"(src|href)=\"https?://", r.text)
        assert "script-src 'self'" in r.headers["content-security-policy"]
    assert (await client.get("/schema/swagger")).status_code == 404
