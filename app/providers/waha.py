"""WAHA (WhatsApp HTTP API, self-hosted): webhooks signed with ``X-Webhook-Hmac`` (SHA-512).

Sources: waha-docs events/index.md (envelope, HMAC, message.ack), send-messages/index.md;
issue devlikeapro/waha#760 (NOWEB send response); presence/index.md (``presence.update``,
``POST /api/startTyping`` / ``stopTyping``: https://waha.devlike.pro/docs/how-to/presence/). WAHA ids look like
``{fromMe}_{chatId}_{msgId}[_{participant}]`` while NOWEB send responses give only ``msgId``:
we key messages by the bare ``msgId`` so that acks and echoes match what we sent.

Engines differ (devlikeapro/waha src/core/engines, issues #127, #1534, #1608, #1849, #2010):
- WEBJS: ``from`` is the sender and ``to`` the recipient; for ``fromMe`` the chat is ``to``.
- NOWEB: ``from`` is the chat (``key.remoteJid``) whatever the direction, and ``to`` is absent
  outside groups; ``_data.key`` is Baileys' key, whose ``remoteJidAlt`` / ``participantAlt`` carry
  the phone when the chat is an ``@lid`` (and the lid when it is a phone).
- GOWS: like NOWEB for ``from``; ``_data.Info`` is whatsmeow's (``Chat``, ``SenderAlt``, ``RecipientAlt``).
An ``@lid`` with no phone in the payload is looked up with ``GET /api/{session}/lids/{lid}``
(answer ``{"lid", "pn"}``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import replace
from urllib.parse import quote

import httpx

from app.i18n import N_
from app.providers.base import (
    CredentialField,
    InboundMessage,
    Media,
    Outgoing,
    Parsed,
    Provider,
    SendError,
    SendResult,
    StatusUpdate,
    TypingChat,
    TypingUpdate,
    WebhookRejected,
    WebhookRequest,
    as_float,
    chat_kind,
    hmac_equal,
    json_body,
    normalise_phone,
    transient,
)

# presence.update's lastKnownPresence: typing, recording, paused, online, offline (waha-docs presence).
PRESENCES = {"typing": "typing", "recording": "recording", "paused": "paused", "online": "paused", "offline": "paused"}
ACKS = {-1: "failed", 0: "pending", 1: "sent", 2: "delivered", 3: "read", 4: "read"}
# session.status / GET /api/sessions/{session}: STOPPED, STARTING, SCAN_QR_CODE, WORKING, FAILED.
SESSION = {"WORKING": "working", "SCAN_QR_CODE": "pairing", "STARTING": "starting", "STOPPED": "down", "FAILED": "down"}
SEND_PATHS = {
    "text": "sendText",
    "image": "sendImage",
    "document": "sendFile",
    "voice": "sendVoice",
    "audio": "sendVoice",
    "video": "sendVideo",
}


def short_id(value: object) -> str:
    """The WhatsApp message id inside a WAHA id (``true_123@c.us_ABC`` -> ``ABC``)."""
    if isinstance(value, dict):
        value = value.get("_serialized") or value.get("id") or ""
    text = str(value or "")
    parts = text.split("_")
    if len(parts) >= 3 and parts[0] in ("true", "false"):
        return parts[2]
    return text


def media_type(mime: str, data_type: str = "") -> str:
    if data_type == "ptt":
        return "voice"
    major = (mime or "").split("/")[0]
    return {"image": "image", "video": "video", "audio": "audio"}.get(major, "document")


# Session states (waha-docs "Sessions": status).
SESSION_STATES = ("STOPPED", "STARTING", "SCAN_QR_CODE", "WORKING", "FAILED")


def chat_jid(p: dict, data: dict, from_me: bool) -> str:
    """The chat of a message, whichever engine sent it (see the module doc)."""
    key = data.get("key") if isinstance(data.get("key"), dict) else {}
    info = data.get("Info") if isinstance(data.get("Info"), dict) else {}
    if key.get("remoteJid"):  # NOWEB: Baileys' key names the chat
        return str(key["remoteJid"])
    if info.get("Chat"):  # GOWS: whatsmeow's message info
        return str(info["Chat"])
    if from_me:  # WEBJS names the recipient in `to`; NOWEB-like payloads without _data leave it out
        return str(p.get("to") or p.get("from") or "")
    return str(p.get("from") or "")


def alternate_jid(data: dict) -> str:
    """The chat's other id carried by the payload: the phone of an @lid chat, or the reverse."""
    key = data.get("key") if isinstance(data.get("key"), dict) else {}
    info = data.get("Info") if isinstance(data.get("Info"), dict) else {}
    for value in (
        key.get("remoteJidAlt"),
        key.get("participantAlt"),
        key.get("senderPn"),
        info.get("SenderAlt"),
        info.get("RecipientAlt"),
    ):
        if isinstance(value, str) and value:
            return value
    return ""


# WEBJS message types that are notices rather than something the customer wrote.
NOTICES = {
    "e2e_notification",
    "notification_template",
    "notification",
    "gp2",
    "call_log",
    "protocol",
    "revoked",
    "ciphertext",
    "broadcast_notification",
    "pinned_message",
}


def _notice_kind(data: dict) -> str:
    kind = str(data.get("type") or "")
    if kind in NOTICES:
        return kind
    message = data.get("message") if isinstance(data.get("message"), dict) else {}
    for k in ("protocolMessage", "senderKeyDistributionMessage"):  # NOWEB (Baileys)
        if k in message:
            return k
    return ""


def notice_text(data: dict) -> str:
    """A readable line for a message with no text of its own: what WhatsApp said, as WAHA gives it."""
    kind = _notice_kind(data) or str(data.get("type") or "")
    parts = [f"WhatsApp notice: {kind or 'unknown message'}"]
    if data.get("subtype"):
        parts.append(f"({data['subtype']})")
    params = data.get("templateParams") if isinstance(data.get("templateParams"), list) else []
    if params:
        parts.append("— " + ", ".join(str(x).split("@")[0] for x in params[:5]))
    return " ".join(parts)[:1000]


class WahaProvider(Provider):
    name = "waha"
    label = "WAHA"
    text_limit = 4096
    fields = (
        CredentialField("base_url", "WAHA server URL", help="e.g. https://waha.example.com"),
        CredentialField("session", "Session name", default="default"),
        CredentialField("api_key", "API key (X-Api-Key)", secret=True, required=False),
    )
    secret_help = N_("WAHA: the HMAC key of the session's webhook (hmac.key); WAHA signs each webhook with it.")
    setup_help = N_(
        "Create or update the WAHA session with a webhook: url = the webhook URL below, events = "
        "message, message.any, message.ack, message.reaction (and presence.update to see customers "
        "typing); hmac.key = the webhook secret."
    )

    def verify(self, credentials: dict, webhook_secret: str, request: WebhookRequest) -> None:
        given = request.headers.get("x-webhook-hmac", "")
        if not given:
            raise WebhookRejected(401, "Missing X-Webhook-Hmac header.")
        algorithm = request.headers.get("x-webhook-hmac-algorithm", "sha512").lower()
        if algorithm != "sha512":
            raise WebhookRejected(403, f"Unsupported HMAC algorithm {algorithm!r}.")
        expected = hmac.new(webhook_secret.encode(), request.body, hashlib.sha512).hexdigest()
        if not webhook_secret or not hmac_equal(expected, given.lower()):
            raise WebhookRejected(403, "Bad X-Webhook-Hmac signature.")

    def parse(self, request: WebhookRequest) -> Parsed:
        data = json_body(request)
        if not isinstance(data, dict) or "event" not in data:
            raise WebhookRejected(400, "Not a WAHA event: 'event' is missing.")
        out = Parsed()
        event, payload = data.get("event"), data.get("payload")
        if not isinstance(payload, dict):
            payload = {}
        me = data.get("me") if isinstance(data.get("me"), dict) else {}
        me_id = str(me.get("id") or "")
        if event in ("message", "message.any"):
            self._message(payload, out, me_id=me_id)
        elif event == "message.reaction":
            self._message(payload, out, reaction=True, me_id=me_id)
        elif event == "session.status":
            raw = str(payload.get("status") or "")
            out.session_state, out.session_detail = SESSION.get(raw, "starting"), raw
        elif event == "message.ack":
            self._ack(payload, out)
        elif event == "presence.update":
            self._presence(payload, out)
        else:
            out.ignored.append(f"event {event!r}")
        return out

    def _message(self, p: dict, out: Parsed, *, reaction: bool = False, me_id: str = "") -> None:
        from_me = bool(p.get("fromMe"))
        data = p.get("_data") if isinstance(p.get("_data"), dict) else {}
        jid = chat_jid(p, data, from_me)
        kind = chat_kind(jid)
        if kind not in ("direct", "lid"):
            out.ignored.append(f"{kind} chat")
            return
        mid = short_id(p.get("id"))
        if not mid:
            out.ignored.append("message without id")
            return
        phone, alias = normalise_phone(jid), jid if kind == "lid" else ""
        if me_id and phone and phone == normalise_phone(me_id):
            out.ignored.append("chat with the business's own number")
            return
        other = alternate_jid(data)
        if kind == "lid" and normalise_phone(other):
            phone = normalise_phone(other)
        elif kind == "direct" and other.endswith("@lid"):
            alias = other
        if not phone and not alias:
            out.ignored.append("message without a reachable chat id")
            return
        info = data.get("Info") if isinstance(data.get("Info"), dict) else {}
        name = "" if from_me else str(data.get("notifyName") or data.get("pushName") or info.get("PushName") or "")
        common = dict(
            provider_message_id=mid,
            phone=phone,
            alias=alias,
            outbound=from_me,
            name=name,
            timestamp=as_float(p.get("timestamp")),
        )
        reply = p.get("replyTo")
        if isinstance(reply, dict) and reply.get("id"):
            common["reply_to"] = short_id(reply["id"])
        body = str(p.get("body") or "")
        media = p.get("media") if isinstance(p.get("media"), dict) else None
        if reaction:
            r = p.get("reaction") if isinstance(p.get("reaction"), dict) else {}
            out.messages.append(
                InboundMessage(
                    type="reaction", text=str(r.get("text") or ""), reaction_to=short_id(r.get("messageId")), **common
                )
            )
        elif media and (media.get("url") or p.get("hasMedia")):
            mime = str(media.get("mimetype") or "")
            m = Media(url=str(media.get("url") or ""), mime_type=mime, filename=str(media.get("filename") or ""))
            out.messages.append(
                InboundMessage(type=media_type(mime, str(data.get("type") or "")), text=body, media=m, **common)
            )
        elif isinstance(p.get("location"), dict):
            loc = p["location"]
            location = {
                "latitude": loc.get("latitude"),
                "longitude": loc.get("longitude"),
                "name": loc.get("description") or "",
            }
            out.messages.append(InboundMessage(type="location", text=location["name"], location=location, **common))
        elif body or (data.get("type") in (None, "chat") and not _notice_kind(data)):
            out.messages.append(InboundMessage(type="text", text=body, **common))
        else:
            out.messages.append(InboundMessage(type="unsupported", text=notice_text(data), **common))

    def _ack(self, p: dict, out: Parsed) -> None:
        jid = str(p.get("from") or "")
        if chat_kind(jid) not in ("direct", "lid"):
            out.ignored.append("group ack")
            return
        ack = p.get("ack")
        status = ACKS.get(ack) if isinstance(ack, int) else None
        if status is None or not p.get("id"):
            out.ignored.append(f"ack {p.get('ack')!r}")
            return
        reason = "WAHA reported an error delivering the message." if status == "failed" else ""
        out.statuses.append(StatusUpdate(short_id(p["id"]), status, "", reason))

    def _presence(self, p: dict, out: Parsed) -> None:
        """``{"id": chat, "presences": [{"participant", "lastKnownPresence", "lastSeen"}]}``; a
        direct chat has one participant, the customer."""
        jid = str(p.get("id") or "")
        kind = chat_kind(jid)
        if kind not in ("direct", "lid"):
            out.ignored.append(f"{kind} presence")
            return
        presences = (
            [x for x in p.get("presences") or [] if isinstance(x, dict)] if isinstance(p.get("presences"), list) else []
        )
        state = PRESENCES.get(str(presences[-1].get("lastKnownPresence"))) if presences else None
        if state is None:
            out.ignored.append("presence without a known state")
            return
        out.typing.append(TypingUpdate(phone=normalise_phone(jid), state=state, alias=jid if kind == "lid" else ""))

    supports_typing = True
    typing_stops = True

    def build_typing(self, credentials: dict, chat: TypingChat, on: bool) -> httpx.Request:
        body = {"session": credentials.get("session") or "default", "chatId": chat.to_phone.lstrip("+") + "@c.us"}
        url = f"{str(credentials.get('base_url', '')).rstrip('/')}/api/{'startTyping' if on else 'stopTyping'}"
        return httpx.Request("POST", url, json=body, headers=self._headers(credentials))

    def build_presence_watch(self, credentials: dict, chat: TypingChat) -> httpx.Request:
        # WAHA sends presence.update only for chats subscribed to (waha-docs presence:
        # POST /api/{session}/presence/{chatId}/subscribe).
        session = quote(str(credentials.get("session") or "default"), safe="")
        chat_id = quote(chat.to_phone.lstrip("+") + "@c.us", safe="@")
        url = f"{str(credentials.get('base_url', '')).rstrip('/')}/api/{session}/presence/{chat_id}/subscribe"
        return httpx.Request("POST", url, headers=self._headers(credentials))

    def _headers(self, credentials: dict) -> dict:
        return {"X-Api-Key": credentials["api_key"]} if credentials.get("api_key") else {}

    def media_headers(self, credentials: dict) -> dict:
        return self._headers(credentials)

    def api_base(self, credentials: dict) -> str:
        return str(credentials.get("base_url") or "").rstrip("/")

    async def media_url(self, client: httpx.AsyncClient, credentials: dict, media: Media) -> str:
        # WAHA names its files under its own WAHA_BASE_URL, often http://localhost:3000 as seen from
        # inside its container: the file is fetched from the server configured on the channel, at
        # the same /api/files/ path; any other path is not a file and is not fetched.
        given = httpx.URL(media.url) if media.url else None
        base = self.api_base(credentials)
        if given is None or not base or not given.path.startswith("/api/files/") or ".." in given.path:
            return ""
        return base + given.raw_path.decode("ascii")

    uploads_media = True

    def build_send(self, credentials: dict, out: Outgoing) -> httpx.Request:
        chat_id = out.to_phone.lstrip("+") + "@c.us" if out.to_phone else out.to_alias
        body: dict = {"session": credentials.get("session") or "default", "chatId": chat_id}
        kind = out.type if out.type in SEND_PATHS else "text"
        if kind == "text":
            body["text"] = out.text
        else:
            if out.media_content is not None:  # the file itself, base64: no public link needed
                body["file"] = {
                    "data": base64.b64encode(out.media_content).decode(),
                    "mimetype": out.media_mime,
                    "filename": out.media_filename or None,
                }
            else:
                body["file"] = {
                    "url": out.media_url,
                    "mimetype": out.media_mime,
                    "filename": out.media_filename or None,
                }
            if out.text and kind != "voice":
                body["caption"] = out.text
        if out.reply_to:
            body["reply_to"] = out.reply_to
        url = f"{str(credentials.get('base_url', '')).rstrip('/')}/api/{SEND_PATHS[kind]}"
        return httpx.Request("POST", url, json=body, headers=self._headers(credentials))

    def read_send_response(self, response: httpx.Response) -> SendResult:
        if response.status_code >= 500 or response.status_code == 429:
            raise transient(response, f"WAHA answered HTTP {response.status_code}.")
        try:
            data = response.json()
        except ValueError:
            data = {}
        if 200 <= response.status_code < 300 and isinstance(data, dict):
            mid = (data.get("key") or {}).get("id") if isinstance(data.get("key"), dict) else None
            mid = mid or short_id(data.get("id"))
            if mid:
                return SendResult(str(mid), "sent")
        message = data.get("message") if isinstance(data, dict) else None
        if response.status_code == 401:
            message = "WAHA refused the API key: update the channel's credentials."
        raise SendError(
            str(message or f"WAHA refused the message (HTTP {response.status_code})."),
            code=str(response.status_code),
            permanent=True,
        )

    accepts_alias = True  # NOWEB and GOWS send to "…@lid" chat ids

    async def resolve_alias(self, client: httpx.AsyncClient, credentials: dict, alias: str) -> str | None:
        if not alias.endswith("@lid"):
            return None
        session = quote(str(credentials.get("session") or "default"), safe="")
        url = f"{str(credentials.get('base_url', '')).rstrip('/')}/api/{session}/lids/{quote(alias, safe='')}"
        request = httpx.Request("GET", url, headers=self._headers(credentials))
        request.extensions["timeout"] = httpx.Timeout(3.0).as_dict()
        try:
            response = await client.send(request)
            data = response.json() if response.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            return None
        return normalise_phone(str(data.get("pn") or "")) if isinstance(data, dict) else None

    # Recent messages of a chat (waha-docs chatting "Get messages": GET /api/{session}/chats/{chatId}/messages
    # ?limit=&downloadMedia=false&filter.timestamp.gte=&filter.fromMe=): the same objects as the webhooks'.
    lists_sent = True
    pairs = True

    async def _chat_messages(
        self, client: httpx.AsyncClient, credentials: dict, chat_id: str, limit: int, params: dict | None = None
    ) -> list[dict]:
        session = quote(str(credentials.get("session") or "default"), safe="")
        url = f"{str(credentials.get('base_url', '')).rstrip('/')}/api/{session}/chats/{quote(chat_id, safe='@')}/messages"
        query = {"limit": str(limit), "downloadMedia": "false", **(params or {})}
        response = await self.call(client, httpx.Request("GET", url, params=query, headers=self._headers(credentials)))
        if response.status_code != 200:
            raise SendError(
                f"WAHA answered HTTP {response.status_code} for the chat's messages.",
                code=str(response.status_code),
                permanent=False,
            )
        try:
            data = response.json()
        except ValueError:
            data = []
        return [x for x in data if isinstance(x, dict)] if isinstance(data, list) else []

    async def find_sent(self, client: httpx.AsyncClient, credentials: dict, out: Outgoing, since: float) -> str | None:
        chat_id = out.to_phone.lstrip("+") + "@c.us" if out.to_phone else out.to_alias
        items = await self._chat_messages(
            client, credentials, chat_id, 50, {"filter.fromMe": "true", "filter.timestamp.gte": str(int(since))}
        )
        for item in items:
            if (
                item.get("fromMe")
                and str(item.get("body") or "") == out.text
                and (as_float(item.get("timestamp")) or 0) >= since
            ):
                return short_id(item.get("id"))
        return None

    async def recent_messages(
        self, client: httpx.AsyncClient, credentials: dict, chat_phone: str, chat_alias: str = "", limit: int = 50
    ) -> list[InboundMessage]:
        chat_id = chat_phone.lstrip("+") + "@c.us" if chat_phone else chat_alias
        out = Parsed()
        for item in await self._chat_messages(client, credentials, chat_id, limit):
            self._message(item, out)
        return [replace(m, recovered=True) for m in out.messages]

    async def session_state(self, client: httpx.AsyncClient, credentials: dict) -> tuple[str, str, str]:
        """(state, the provider's word, QR raw value when pairing) from GET /api/sessions/{session}
        and, when it waits for a scan, GET /api/{session}/auth/qr?format=raw (``{"value": …}``)."""
        base = str(credentials.get("base_url", "")).rstrip("/")
        session = quote(str(credentials.get("session") or "default"), safe="")
        response = await self.call(
            client, httpx.Request("GET", f"{base}/api/sessions/{session}", headers=self._headers(credentials))
        )
        data = _json(response)
        if response.status_code != 200:
            return "down", f"HTTP {response.status_code}", ""
        raw = str(data.get("status") or "")
        raw = raw if raw in SESSION else "unknown"  # only WAHA's own words, never free text
        state, qr = SESSION.get(raw, "starting"), ""
        if state == "pairing":
            r = await self.call(
                client,
                httpx.Request(
                    "GET", f"{base}/api/{session}/auth/qr", params={"format": "raw"}, headers=self._headers(credentials)
                ),
            )
            qr = str(_json(r).get("value") or "") if r.status_code == 200 else ""
        return state, raw, qr

    async def check_connection(self, client: httpx.AsyncClient, credentials: dict) -> tuple[bool, str]:
        url = (
            f"{str(credentials.get('base_url', '')).rstrip('/')}/api/sessions/{credentials.get('session') or 'default'}"
        )
        response = await client.get(url, headers=self._headers(credentials))
        try:
            data = response.json()
        except ValueError:
            data = {}
        if response.status_code == 200 and isinstance(data, dict):
            # Only WAHA's own session states are repeated: never free text from whatever answered.
            status = data.get("status") if data.get("status") in SESSION_STATES else "unknown"
            return status == "WORKING", f"Session {credentials.get('session') or 'default'} is {status}."
        return False, f"WAHA answered HTTP {response.status_code}."


def _json(response: httpx.Response) -> dict:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


PROVIDER = WahaProvider()
