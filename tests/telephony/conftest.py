"""Telephony fixtures: the fake AMI server, settings pointing at it, PBX objects."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest

from app.domain import sql
from tests.telephony.fake_ami import FakeAmi


@pytest.fixture
async def fake_ami():
    ami = await FakeAmi().start()
    yield ami
    await ami.stop()


def ami_settings(settings, ami: FakeAmi, **changes):
    return dataclasses.replace(
        settings,
        ami_host="127.0.0.1",
        ami_port=ami.port,
        ami_username="console",
        ami_secret="consolepass",
        ami_timeout=2,
        **changes,
    )


async def own(company, kind: str, name: str) -> None:
    """Give ``company`` an Asterisk object without the admin forms (listener tests)."""
    await sql.execute("INSERT INTO pbx_object (company_id, kind, name) VALUES ($1, $2, $3)", company.id, kind, name)


async def eventually(check, timeout: float = 5.0, interval: float = 0.05):
    """Await ``check()`` until it returns a truthy value; fail with the last value."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value {value!r})")
