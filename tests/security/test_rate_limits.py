"""Rate limits on surfaces that can be flooded (issue 16): webhooks per channel (generous),
page requests per login session. (Logins: tests/web/test_auth.py.)"""

from __future__ import annotations

import dataclasses
import json

import pytest

from app.domain.channels import create_channel
from app.web.ratelimit import RateLimiter
from tests.factories import make_company, make_user
from tests.helpers import login


def test_token_bucket():
    limiter = RateLimiter(10, per=1.0, burst=20)
    assert all(limiter.hit("a", now=0.0) == 0 for _ in range(20))
    assert limiter.hit("a", now=0.0) == pytest.approx(0.1)
    assert limiter.hit("b", now=0.0) == 0  # keys are separate
    assert limiter.hit("a", now=0.5) == 0  # refilled at 10/s
    assert RateLimiter(0).hit("x") == 0  # 0 turns the limit off


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, webhook_rate_limit=5, page_rate_limit=30, sender_enabled=False)


async def test_a_flooded_channel_gets_429_and_others_do_not(client):
    company = await make_company()
    a = await create_channel(company.id, {"name": "A", "provider": "sandbox"})
    b = await create_channel(company.id, {"name": "B", "provider": "sandbox"})
    body = json.dumps({"nothing": True})
    codes = [(await client.post(f"/webhooks/sandbox/{a.id}", content=body)).status_code for _ in range(12)]
    assert 429 in codes and codes[:10].count(429) == 0  # bursts of twice the rate pass
    r = await client.post(f"/webhooks/sandbox/{a.id}", content=body)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert (await client.post(f"/webhooks/sandbox/{b.id}", content=body)).status_code != 429


async def test_a_session_making_too_many_requests_gets_429(client):
    user = await make_user(await make_company(), "agent")
    await login(client, user.email)
    codes = [(await client.get("/inbox")).status_code for _ in range(35)]
    assert codes[0] == 200 and codes[-1] == 429
    assert (await client.get("/static/css/app.css")).status_code == 200  # files are not counted
