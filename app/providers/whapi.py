"""Whapi.Cloud: webhooks with no signature scheme, so a per-channel secret authenticates them.

Sources: support.whapi.cloud incoming-webhooks-format pages; Whapi-Cloud/nodejs-whatsapp-chatbot
(``POST /messages/text {to, body}``, ``PATCH /settings``). Whapi sends up to 5 custom headers per
webhook: we ask for ``X-Webhook-Secret: <secret>``; a ``?token=<secret>`` URL works too.
Presence: support.whapi.cloud .../incoming-webhooks-format/other/presences (``presences`` array
of ``{contact_id, status}``); the business's own "typing…" is ``PUT /presences/{ChatID}`` with
``{"presence": "typing" | "paused"}``.
"""

from __future__ import annotations

import base64
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

STATUSES = {
    "pending": "pending",
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "played": "read",
    "failed": "failed",
}
# Presence statuses (enum in the presences webhook doc): online, offline, typing, recording, pending.
PRESENCES = {
    "typing": "typing",
    "recording": "recording",
    "online": "paused",
    "offline": "paused",
    "pending": "paused",
    "paused": "paused",
}
MEDIA = {
    "image": "image",
    "document": "document",
    "video": "video",
    "audio": "audio",
    "voice": "voice",
    "gif": "video",
    "sticker": "image",
}


class WhapiProvider(Provider):
    name = "whapi"
    label = "Whapi.Cloud"
    text_limit = 4096
    fields = (
        CredentialField("token", "Channel API token", secret=True),
        CredentialField("api_base", "API base URL", required=False, default="https://gate.whapi.cloud"),
    )
    secret_help = N_("Whapi: the value of the X-Webhook-Secret custom header of the webhook.")
    setup_help = N_(
        "In the Whapi channel settings (or PATCH /settings), add a webhook: url = the webhook URL below, "
        "events messages (post), statuses (post) and presences (post, to see customers typing), mode body, and a custom header "
        "X-Webhook-Secret = the webhook secret (or append ?token=<secret> to the URL)."
    )

    def verify(self, credentials: dict, webhook_secret: str, request: WebhookRequest) -> None:
        given = request.headers.get("x-webhook-secret") or request.query.get("token") or ""
        if not given:
            raise WebhookRejected(401, "Missing X-Webhook-Secret header (or ?token=).")
        if not webhook_secret or not hmac_equal(webhook_secret, given):
            raise WebhookRejected(403, "Wrong webhook secret.")

    def parse(self, request: WebhookRequest) -> Parsed:
        data = json_body(request)
        if not isinstance(data, dict):
            raise WebhookRejected(400, "Not a Whapi event: expected a JSON object.")
        out = Parsed()
        event = (data.get("event") or {}).get("type") if isinstance(data.get("event"), dict) else None
        if "messages" not in data and "statuses" not in data and "presences" not in data:
            out.ignored.append(f"event {event!r}")
        for m in data.get("messages") if isinstance(data.get("messages"), list) else []:
            if isinstance(m, dict):
                self._message(m, out)
        for s in data.get("statuses") if isinstance(data.get("statuses"), list) else []:
            if isinstance(s, dict):
                self._status(s, out)
        for p in data.get("presences") if isinstance(data.get("presences"), list) else []:
            if isinstance(p, dict):
                self._presence(p, out)
        return out

    def _presence(self, p: dict, out: Parsed) -> None:
        # contact_id is digits only (pattern ^([\d]{7,15})?$): a person, never a group.
        phone = normalise_phone(str(p.get("contact_id") or ""))
        state = PRESENCES.get(str(p.get("status")))
        if phone is None or state is None:
            out.ignored.append(f"presence {p.get('status')!r}")
            return
        out.typing.append(TypingUpdate(phone=phone, state=state))

    def _message(self, m: dict, out: Parsed) -> None:
        jid = str(m.get("chat_id") or "")
        kind = chat_kind(jid)
        if kind not in ("direct", "lid"):
            out.ignored.append(f"{kind} chat")
            return
        if not m.get("id"):
            out.ignored.append("message without id")
            return
        from_me = bool(m.get("from_me"))
        common = dict(
            provider_message_id=str(m["id"]),
            phone=normalise_phone(jid),
            alias=jid if kind == "lid" else "",
            outbound=from_me,
            name="" if from_me else str(m.get("from_name") or ""),
            timestamp=as_float(m.get("timestamp")),
        )
        context = m.get("context") if isinstance(m.get("context"), dict) else {}
        if context.get("quoted_id"):
            common["reply_to"] = str(context["quoted_id"])
        t = str(m.get("type") or "")
        body = m.get(t) if isinstance(m.get(t), dict) else {}
        if t == "text":
            out.messages.append(InboundMessage(type="text", text=str(body.get("body") or ""), **common))
        elif t in MEDIA:
            media = Media(
                url=str(body.get("link") or ""),
                media_id=str(body.get("id") or ""),
                mime_type=str(body.get("mime_type") or ""),
                filename=str(body.get("filename") or ""),
            )
            out.messages.append(
                InboundMessage(type=MEDIA[t], text=str(body.get("caption") or ""), media=media, **common)
            )
        elif t == "location":
            location = {k: body.get(k) for k in ("latitude", "longitude", "name", "address") if body.get(k) is not None}
            out.messages.append(
                InboundMessage(type="location", text=str(body.get("name") or ""), location=location, **common)
            )
        elif t == "reply":
            # A tapped button or list row: {"type": "buttons_reply", "buttons_reply": {"id", "title"}}
            # (support.whapi.cloud incoming-message 'Incoming reply by button'); list_reply alike.
            kind = str(body.get("type") or "")
            chosen = body.get(kind) if isinstance(body.get(kind), dict) else {}
            title, button_id = str(chosen.get("title") or ""), str(chosen.get("id") or "")
            out.messages.append(
                InboundMessage(type="text", text=title or button_id, button=button_id or title, **common)
            )
        elif t == "link_preview":  # a text with a URL in it
            out.messages.append(InboundMessage(type="text", text=str(body.get("body") or ""), **common))
        elif t == "action" and isinstance(body.get("emoji"), str):
            out.messages.append(
                InboundMessage(type="reaction", text=body["emoji"], reaction_to=str(body.get("target") or ""), **common)
            )
        else:
            out.messages.append(InboundMessage(type="unsupported", text=f"[{t}]", **common))

    def _status(self, s: dict, out: Parsed) -> None:
        status = STATUSES.get(str(s.get("status")))
        if status is None or not s.get("id"):
            out.ignored.append(f"status {s.get('status')!r}")
            return
        reason = "Whapi reported that the message failed." if status == "failed" else ""
        out.statuses.append(
            StatusUpdate(
                str(s["id"]),
                status,
                str(s.get("code") or "") if status == "failed" else "",
                reason,
                as_float(s.get("timestamp")),
            )
        )

    def _base(self, credentials: dict) -> str:
        return str(credentials.get("api_base") or "https://gate.whapi.cloud").rstrip("/")

    def _headers(self, credentials: dict) -> dict:
        return {"Authorization": f"Bearer {credentials.get('token', '')}"}

    def media_headers(self, credentials: dict) -> dict:
        return self._headers(credentials)

    api_base = _base

    async def media_url(self, client: httpx.AsyncClient, credentials: dict, media: Media) -> str:
        # GET /media/{MediaID} on the channel's own API serves the file itself; the payload's link
        # is used only when there is no id (and then only if it names that API's host).
        if media.media_id:
            return f"{self._base(credentials)}/media/{quote(media.media_id, safe='')}"
        return media.url

    uploads_media = True
    supports_typing = True
    typing_stops = True

    def build_typing(self, credentials: dict, chat: TypingChat, on: bool) -> httpx.Request:
        url = f"{self._base(credentials)}/presences/{chat.to_phone.lstrip('+')}"
        return httpx.Request(
            "PUT", url, json={"presence": "typing" if on else "paused"}, headers=self._headers(credentials)
        )

    def build_send(self, credentials: dict, out: Outgoing) -> httpx.Request:
        to = out.to_phone.lstrip("+")
        if out.type in MEDIA and (out.media_url or out.media_content is not None):
            # The file itself as a data URI when we hold it (no public link needed), else the link.
            body: dict = {"to": to, "media": _data_uri(out) if out.media_content is not None else out.media_url}
            if out.text:
                body["caption"] = out.text
            path = out.type
        else:
            body, path = {"to": to, "body": out.text}, "text"
        if out.reply_to:
            body["quoted"] = out.reply_to
        return httpx.Request(
            "POST", f"{self._base(credentials)}/messages/{path}", json=body, headers=self._headers(credentials)
        )

    def read_send_response(self, response: httpx.Response) -> SendResult:
        if response.status_code >= 500 or response.status_code == 429:
            raise transient(response, f"Whapi answered HTTP {response.status_code}.")
        try:
            data = response.json()
        except ValueError:
            data = {}
        data = data if isinstance(data, dict) else {}
        message = data.get("message") if isinstance(data.get("message"), dict) else {}
        if 200 <= response.status_code < 300 and data.get("sent") and message.get("id"):
            return SendResult(str(message["id"]), "sent")
        err = data.get("error") if isinstance(data.get("error"), dict) else {}
        reason = str(err.get("message") or f"Whapi refused the message (HTTP {response.status_code}).")
        if response.status_code == 401:
            reason = "Whapi refused the channel token: update the channel's credentials."
        raise SendError(reason, code=str(err.get("code") or response.status_code), permanent=True)

    # Recent messages of a chat: GET /messages/list/{ChatID}?count= (support.whapi.cloud "Retrieve a
    # Specific User's Chat History"), the same message objects as the webhooks', newest first.
    lists_sent = True

    async def _chat_messages(
        self, client: httpx.AsyncClient, credentials: dict, chat_id: str, count: int
    ) -> list[dict]:
        url = f"{self._base(credentials)}/messages/list/{quote(chat_id, safe='@')}"
        response = await self.call(
            client, httpx.Request("GET", url, params={"count": str(count)}, headers=self._headers(credentials))
        )
        if response.status_code != 200:
            raise SendError(
                f"Whapi answered HTTP {response.status_code} for the chat's messages.",
                code=str(response.status_code),
                permanent=False,
            )
        try:
            data = response.json()
        except ValueError:
            data = {}
        items = data.get("messages") if isinstance(data, dict) else None
        return [x for x in items if isinstance(x, dict)] if isinstance(items, list) else []

    async def find_sent(self, client: httpx.AsyncClient, credentials: dict, out: Outgoing, since: float) -> str | None:
        for item in await self._chat_messages(client, credentials, out.to_phone.lstrip("+") + "@s.whatsapp.net", 50):
            kind = str(item.get("type") or "")
            content = item.get(kind) if isinstance(item.get(kind), dict) else {}
            body = str(content.get("body") or content.get("caption") or "")
            if item.get("from_me") and body == out.text and (as_float(item.get("timestamp")) or 0) >= since:
                return str(item.get("id") or "") or None
        return None

    async def recent_messages(
        self, client: httpx.AsyncClient, credentials: dict, chat_phone: str, chat_alias: str = "", limit: int = 50
    ) -> list[InboundMessage]:
        out = Parsed()
        chat_id = chat_phone.lstrip("+") + "@s.whatsapp.net" if chat_phone else chat_alias
        for item in await self._chat_messages(client, credentials, chat_id, limit):
            self._message(item, out)
        return [replace(m, recovered=True) for m in out.messages]

    pairs = True

    async def session_state(self, client: httpx.AsyncClient, credentials: dict) -> tuple[str, str, str]:
        """``GET /health`` → ``{status: {code, text}}`` (text INIT, LAUNCH, QR, AUTH, ...); while it
        waits for a scan, ``GET /users/login`` gives the QR code's raw value in ``rowdata``."""
        r = await self.call(
            client, httpx.Request("GET", f"{self._base(credentials)}/health", headers=self._headers(credentials))
        )
        if r.status_code != 200:
            return "down", f"HTTP {r.status_code}", ""
        try:
            data = r.json()
        except ValueError:
            data = {}
        status = data.get("status") if isinstance(data, dict) and isinstance(data.get("status"), dict) else {}
        text = str(status.get("text") or "")
        state = {"AUTH": "working", "QR": "pairing", "INIT": "starting", "LAUNCH": "starting"}.get(text.upper(), "down")
        qr = ""
        if state == "pairing":
            login = await self.call(
                client,
                httpx.Request("GET", f"{self._base(credentials)}/users/login", headers=self._headers(credentials)),
            )
            try:
                body = login.json() if login.status_code == 200 else {}
            except ValueError:
                body = {}
            qr = str(body.get("rowdata") or "") if isinstance(body, dict) else ""
        return state, text, qr

    async def check_connection(self, client: httpx.AsyncClient, credentials: dict) -> tuple[bool, str]:
        response = await client.get(f"{self._base(credentials)}/health", headers=self._headers(credentials))
        try:
            data = response.json()
        except ValueError:
            data = {}
        if response.status_code == 200:
            status = (
                (data.get("status") or {}).get("text")
                if isinstance(data, dict) and isinstance(data.get("status"), dict)
                else None
            )
            # Only a short status word is repeated, never free text from whatever answered.
            status = status if isinstance(status, str) and status.isalpha() and len(status) <= 20 else None
            return True, f"Connected{': ' + status if status else ''}."
        return False, f"Whapi answered HTTP {response.status_code}."


PROVIDER = WhapiProvider()


def _data_uri(out: Outgoing) -> str:
    """Whapi's inline file form: ``data:<mime>;name=<file name>;base64,<data>``."""
    name = quote(out.media_filename or "file", safe="")
    return f"data:{out.media_mime or 'application/octet-stream'};name={name};base64,{base64.b64encode(out.media_content or b'').decode()}"
