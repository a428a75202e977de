"""Helpers for talking to the app like a browser does (cookies, CSRF tokens, forms)."""

from __future__ import annotations

import asyncio
import inspect
import time

from app.web.security import PUBLIC_PATHS  # noqa: F401  (re-exported for tests)
from tests.factories import PASSWORD


def csrf(client) -> str:
    token = client.cookies.get("csrftoken")
    assert token, "GET a page first: the CSRF cookie is set on safe requests"
    return token


async def login(client, email: str, password: str = PASSWORD) -> None:
    await client.get("/login")
    response = await client.post("/login", data={"email": email, "password": password, "_csrf_token": csrf(client)})
    assert response.status_code == 303, response.text


async def post_form(client, url: str, data: dict | None = None, **kwargs):
    if not client.cookies.get("csrftoken"):
        await client.get("/login")
    return await client.post(url, data={**(data or {}), "_csrf_token": csrf(client)}, **kwargs)


async def until(check, timeout: float = 5.0, interval: float = 0.02):
    """Wait on a condition instead of a fixed sleep: ``check()`` (plain or async) until it is
    truthy, then its value; past ``timeout`` an AssertionError with the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value or time.monotonic() >= deadline:
            break
        await asyncio.sleep(interval)
    assert value, f"condition not met within {timeout} s (last value {value!r})"
    return value
