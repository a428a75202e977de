"""A fake Asterisk Manager Interface: an asyncio TCP server speaking real ``\\r\\n`` framing.

It greets like Asterisk 22 (``Asterisk Call Manager/11.0.0``), checks the login, answers
actions with the replies captured from a real Asterisk (``tests/fixtures/ami/real_action_*.txt``:
first block = the request as sent, following blocks = Asterisk's answer; the ActionID is
rewritten to the caller's), records every action it receives, and pushes captured events
(``real_event_*``, ``real_flow_*``) to the sessions that logged in with ``Events: on``.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ami"
EOL = "\r\n"
GREETING = "Asterisk Call Manager/11.0.0\r\n"


def blocks(name: str) -> list[str]:
    """The messages of a capture file, each without its terminating blank line."""
    text = (FIXTURES / name).read_bytes().decode()
    assert "\r\n" in text, f"{name} lost its CRLF line endings"
    return [b for b in text.split(EOL + EOL) if b.strip()]


def parse(block: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.split(EOL):
        key, sep, value = line.partition(":")
        if sep:
            headers[key.strip()] = value.strip()
    return headers


def with_action_id(block: str, action_id: str) -> str:
    lines = []
    for line in block.split(EOL):
        if line.lower().startswith("actionid:"):
            line = f"ActionID: {action_id}"
        lines.append(line)
    return EOL.join(lines)


def reply_of(name: str) -> list[str]:
    """The captured answer blocks of an action file (everything after the request)."""
    return blocks(name)[1:]


DEFAULT_REPLIES = {
    "coreshowchannels": reply_of("real_action_CoreShowChannels.txt"),
    "pjsipshowendpoints": reply_of("real_action_PJSIPShowEndpoints.txt"),
    "queuestatus": reply_of("real_action_QueueStatus.txt"),
    "hangup": reply_of("real_action_Hangup.txt"),
    "redirect": reply_of("real_action_Redirect.txt"),
    "originate": reply_of("real_action_Originate.txt")[:1],
    "queuepause": reply_of("real_action_QueuePause.txt"),
    "ping": reply_of("real_action_Ping.txt"),
}


class FakeAmi:
    def __init__(self, username: str = "console", secret: str = "consolepass") -> None:
        self.username = username
        self.secret = secret
        self.replies: dict[str, list[str]] = dict(DEFAULT_REPLIES)
        # Events Asterisk would raise after an action (e.g. the Hangup events after a Hangup).
        self.after_action: dict[str, list[str]] = {}
        self.actions: list[dict[str, str]] = []
        # (context, extension) pairs the dialplan has, for ShowDialPlan; None = every extension exists.
        self.dialplan: set[tuple[str, str]] | None = None
        self.logins: list[dict[str, str]] = []
        self.writers: list[asyncio.StreamWriter] = []
        self.event_writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.AbstractServer | None = None
        self.port = 0
        self.logged_in = asyncio.Event()

    async def start(self) -> FakeAmi:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        self.drop_all()
        if self.server:
            self.server.close()
            await self.server.wait_closed()

    def drop_all(self) -> None:
        """Close every client connection, as an Asterisk restart does."""
        for w in list(self.writers):
            w.close()
        self.writers.clear()
        self.event_writers.clear()
        self.logged_in.clear()

    def actions_named(self, name: str) -> list[dict[str, str]]:
        return [a for a in self.actions if a.get("Action", "").lower() == name.lower()]

    async def push(self, *texts: str) -> None:
        """Send event blocks to every session that asked for events."""
        payload = "".join(t.rstrip(EOL) + EOL + EOL for t in texts)
        for w in list(self.event_writers):
            w.write(payload.encode())
            await w.drain()

    async def push_file(self, name: str) -> None:
        await self.push(*blocks(name))

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        writer.write(GREETING.encode())
        authed = False
        try:
            while True:
                try:
                    raw = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                request = parse(raw.decode())
                action = request.get("Action", "").lower()
                action_id = request.get("ActionID", "")
                if action == "login":
                    self.logins.append(request)
                    if request.get("Username") != self.username or request.get("Secret") != self.secret:
                        await asyncio.sleep(0.05)  # Asterisk waits 1 s, then closes
                        writer.write(
                            f"Response: Error\r\nActionID: {action_id}\r\nMessage: Authentication failed\r\n\r\n".encode()
                        )
                        await writer.drain()
                        writer.close()
                        return
                    authed = True
                    writer.write(
                        f"Response: Success\r\nActionID: {action_id}\r\nMessage: Authentication accepted\r\n\r\n".encode()
                    )
                    if request.get("Events", "on").lower() != "off":
                        writer.write(
                            b"Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: 51\r\nLastReload: 51\r\nStatus: Fully Booted\r\n\r\n"
                        )
                        self.event_writers.append(writer)
                        self.logged_in.set()
                    await writer.drain()
                    continue
                if not authed:
                    writer.write(
                        f"Response: Error\r\nActionID: {action_id}\r\nMessage: Permission denied\r\n\r\n".encode()
                    )
                    continue
                self.actions.append(request)
                if action == "logoff":
                    writer.write(
                        f"Response: Goodbye\r\nActionID: {action_id}\r\nMessage: Thanks for all the fish.\r\n\r\n".encode()
                    )
                    await writer.drain()
                    writer.close()
                    return
                reply = self.replies.get(action)
                if action == "showdialplan":
                    reply = self._show_dialplan(request)
                if reply is None:
                    reply = [
                        f"Response: Error\r\nActionID: {action_id}\r\nMessage: Invalid/unknown command: {request.get('Action')}. "
                        "Use Action: ListCommands to show available commands."
                    ]
                for block in reply:
                    writer.write((with_action_id(block, action_id) + EOL + EOL).encode())
                await writer.drain()
                if action in self.after_action:
                    await self.push(*self.after_action[action])
        finally:
            if writer in self.writers:
                self.writers.remove(writer)
            if writer in self.event_writers:
                self.event_writers.remove(writer)
            writer.close()

    def _show_dialplan(self, request: dict[str, str]) -> list[str]:
        """ShowDialPlan as ``manager_show_dialplan`` in main/pbx.c (22.10.1) answers it: an
        Error "Did not find extension <exten>@<context>" when nothing matches, else a list."""
        context, exten = request.get("Context", ""), request.get("Extension", "")
        if self.dialplan is not None and (context, exten) not in self.dialplan:
            return [f"Response: Error\r\nActionID: x\r\nMessage: Did not find extension {exten}@{context}"]
        return [
            "Response: Success\r\nActionID: x\r\nEventList: start\r\nMessage: DialPlan list will follow",
            f"Event: ListDialplan\r\nActionID: x\r\nContext: {context}\r\nExtension: {exten}\r\nPriority: 1\r\n"
            f"Application: Dial\r\nAppData: PJSIP/{exten},30\r\nRegistrar: pbx_config",
            "Event: ShowDialPlanComplete\r\nActionID: x\r\nEventList: Complete\r\nListItems: 1\r\n"
            "ListExtensions: 1\r\nListPriorities: 1\r\nListContexts: 1",
        ]


class FakeAmiThread:
    """The fake server on its own loop in a thread, for synchronous (browser) tests."""

    def __init__(self, **kwargs: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.ami: FakeAmi = self.call(FakeAmi(**kwargs).start())

    def call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def stop(self) -> None:
        self.call(self.ami.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
