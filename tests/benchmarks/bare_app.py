"""The bare ingest pipeline that bench_ingest.py measures Switchboard against (issue 21).

The least code that does the inbound work, as STACK-NOTES "Performance baseline" describes it:
verify the Meta HMAC-SHA256 signature, parse the JSON, and in one transaction upsert the contact,
find or create its open conversation, insert the message (``ON CONFLICT DO NOTHING`` on the
provider id), touch the conversation and NOTIFY; answer 200. One LISTEN connection per process
pushes each message to the SSE clients of ``GET /events``. No ORM, no dispatch, no templates,
no sessions: a plain ASGI app on asyncpg with prepared statements.

Run by uvicorn (``tests.benchmarks.bare_app:app``); ``BARE_DATABASE_URL`` and ``BARE_SECRET``
come from the environment. ``SCHEMA`` is created by the benchmark before the server starts.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os

import asyncpg

SCHEMA = """
CREATE TABLE IF NOT EXISTS bare_contact (id bigserial PRIMARY KEY, phone text UNIQUE NOT NULL, name text);
CREATE TABLE IF NOT EXISTS bare_conversation (
    id bigserial PRIMARY KEY, contact_id bigint NOT NULL REFERENCES bare_contact,
    status text NOT NULL DEFAULT 'open', last_message_at timestamptz NOT NULL DEFAULT now());
CREATE UNIQUE INDEX IF NOT EXISTS bare_one_open ON bare_conversation (contact_id) WHERE status = 'open';
CREATE TABLE IF NOT EXISTS bare_message (
    id bigserial PRIMARY KEY, conversation_id bigint NOT NULL REFERENCES bare_conversation,
    provider_id text UNIQUE NOT NULL, body text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
"""

UPSERT_CONTACT = """INSERT INTO bare_contact (phone, name) VALUES ($1, $2)
    ON CONFLICT (phone) DO UPDATE SET name = excluded.name RETURNING id"""
OPEN_CONVERSATION = "SELECT id FROM bare_conversation WHERE contact_id = $1 AND status = 'open'"
NEW_CONVERSATION = """INSERT INTO bare_conversation (contact_id) VALUES ($1)
    ON CONFLICT (contact_id) WHERE status = 'open' DO UPDATE SET last_message_at = now() RETURNING id"""
INSERT_MESSAGE = """INSERT INTO bare_message (conversation_id, provider_id, body) VALUES ($1, $2, $3)
    ON CONFLICT (provider_id) DO NOTHING RETURNING id"""
TOUCH = "UPDATE bare_conversation SET last_message_at = now() WHERE id = $1"
NOTIFY = "SELECT pg_notify('bare', $1)"


class Bare:
    def __init__(self, dsn: str, secret: bytes) -> None:
        self.dsn, self.secret = dsn, secret
        self.pool: asyncpg.Pool | None = None
        self.listener: asyncpg.Connection | None = None
        self.clients: set[asyncio.Queue] = set()

    async def start(self) -> None:
        self.pool = await asyncpg.create_pool(self.dsn, min_size=10, max_size=10)
        self.listener = await asyncpg.connect(self.dsn)
        await self.listener.add_listener("bare", self._notified)

    def _notified(self, _conn, _pid, _channel, payload: str) -> None:
        for queue in self.clients:
            queue.put_nowait(payload)

    async def webhook(self, headers: dict[bytes, bytes], raw: bytes) -> tuple[int, bytes]:
        given = headers.get(b"x-hub-signature-256", b"").decode()
        expected = "sha256=" + hmac.new(self.secret, raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given, expected):
            return 401, b'{"error":"bad signature"}'
        value = json.loads(raw)["entry"][0]["changes"][0]["value"]
        name = value["contacts"][0]["profile"]["name"]
        stored = 0
        async with self.pool.acquire() as conn, conn.transaction():
            for m in value.get("messages", []):
                contact = await conn.fetchval(UPSERT_CONTACT, m["from"], name)
                conversation = await conn.fetchval(OPEN_CONVERSATION, contact)
                if conversation is None:
                    conversation = await conn.fetchval(NEW_CONVERSATION, contact)
                message = await conn.fetchval(INSERT_MESSAGE, conversation, m["id"], m["text"]["body"])
                if message is not None:
                    await conn.execute(TOUCH, conversation)
                    await conn.execute(NOTIFY, json.dumps({"id": message, "text": m["text"]["body"]}))
                    stored += 1
        return 200, b'{"ok":true,"stored":%d}' % stored


_BARE = Bare(os.environ.get("BARE_DATABASE_URL", ""), os.environ.get("BARE_SECRET", "").encode())


async def _body(receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send(send, status: int, body: bytes, content_type: bytes = b"application/json") -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", content_type)]})
    await send({"type": "http.response.body", "body": body})


async def _events(receive, send) -> None:
    queue: asyncio.Queue = asyncio.Queue()
    _BARE.clients.add(queue)
    try:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")],
            }
        )
        await send({"type": "http.response.body", "body": b"event: ready\ndata: \n\n", "more_body": True})
        while True:
            try:
                payload = await asyncio.wait_for(queue.get(), 1.0)
                chunk = b"event: message\ndata: " + payload.encode() + b"\n\n"
            except TimeoutError:
                chunk = b": keepalive\n\n"
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    finally:
        _BARE.clients.discard(queue)


async def app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await _BARE.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path, method = scope["path"], scope["method"]
    if method == "POST" and path.startswith("/webhooks/"):
        status, body = await _BARE.webhook(dict(scope["headers"]), await _body(receive))
        await _send(send, status, body)
    elif method == "GET" and path == "/events":
        await _events(receive, send)
    elif method == "GET" and path == "/health":
        await _send(send, 200, b'{"status":"ok"}')
    else:
        await _send(send, 404, b'{"error":"not found"}')
