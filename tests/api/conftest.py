"""A company ready for the API: a Sandbox channel, a department, agents, and keys per permission."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from app.domain.api_keys import create_api_key
from app.domain.channels import ensure_sandbox_channel
from tests.factories import make_company, make_department, make_user


@dataclass
class Shop:
    company: object
    channel_id: int
    department: object
    agent: object
    keys: dict  # scope name (or "all") -> full key

    def auth(self, which: str = "all") -> dict:
        return {"Authorization": f"Bearer {self.keys[which]}"}


async def make_shop(name: str = "Boutique Lumière", rate_limit: int | None = None) -> Shop:
    company = await make_company(name)
    channel = await ensure_sandbox_channel(company.id)
    department = await make_department(company, "Ventes")
    agent = await make_user(company, presence="online", departments=[department], name="Alice Agent")
    keys = {}
    for which, scopes in {
        "all": ["read", "write", "orders"],
        "read": ["read"],
        "write": ["write"],
        "orders": ["orders"],
    }.items():
        _, keys[which] = await create_api_key(
            company.id, {"name": which, "scopes": scopes, "rate_limit": rate_limit or ""}, user_id=None
        )
    return Shop(company, channel.id, department, agent, keys)


@pytest.fixture
async def shop(app) -> Shop:
    return await make_shop()


@pytest.fixture
async def other_shop(app) -> Shop:
    return await make_shop("Other Shop")
