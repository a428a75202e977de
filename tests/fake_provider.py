"""A fake provider HTTP server (asyncio, HTTP/1.1, keep-alive) for tests: records every request
and answers with what the test's handler returns. Speaks to the app over real sockets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


Answer = tuple[int, dict, bytes]


def json_answer(status: int, data, headers: dict | None = None) -> Answer:
    return status, {"content-type": "application/json", **(headers or {})}, json.dumps(data).encode()


class FakeProvider:
    def __init__(self, handler: Callable[[Recorded], Answer] | None = None) -> None:
        self.handler = handler or (lambda r: json_answer(200, {}))
        self.requests: list[Recorded] = []
        self.hang = 0.0  # seconds to wait before answering (timeouts)
        self._server: asyncio.AbstractServer | None = None
        self.url = ""

    async def __aenter__(self) -> FakeProvider:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc) -> None:
        self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                method, target, _ = line.decode().split(" ", 2)
                headers = {}
                while True:
                    h = await reader.readline()
                    if h in (b"\r\n", b""):
                        break
                    k, v = h.decode().split(":", 1)
                    headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                req = Recorded(method, target, headers, body)
                self.requests.append(req)
                if self.hang:
                    await asyncio.sleep(self.hang)
                status, rheaders, rbody = self.handler(req)
                head = f"HTTP/1.1 {status} X\r\ncontent-length: {len(rbody)}\r\n" + "".join(
                    f"{k}: {v}\r\n" for k, v in rheaders.items()
                )
                writer.write(head.encode() + b"\r\n" + rbody)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()
