"""Custom gateway: any in-house WhatsApp gateway, with the small JSON protocol of seed 001's
generic webhook (``{from, body, type}``). Documented for gateway authors in README ("Custom
gateway protocol"); this module is its reference.

In (``POST /webhooks/custom/<channel id>``): a JSON object, or ``{"messages": [...],
"statuses": [...]}``. A message is ``{from, body, type, id?, name?, timestamp?, media_url?,
mime_type?, filename?}``: ``from`` a phone number, ``+33612345678``, ``33612345678@s.whatsapp.net``
or ``whatsapp:+336…``; ``type`` ``text`` (also the seed's ``chat``), ``image``, ``document``,
``audio``, ``video``; ``id`` the gateway's message id, which makes a retried post harmless
(without one, the id is a digest of the message's fields, so send ``id`` or ``timestamp`` to
tell two identical messages apart). A status is ``{id, status}`` with ``sent``, ``delivered``,
``read`` or ``failed`` (and ``error``). The body is signed: ``X-Switchboard-Signature:
sha256=<hex HMAC-SHA256 of the raw body, keyed with the channel's webhook secret>``.

Out: ``POST <gateway_url>`` with ``{to, type, body, media_url, mime_type, filename, reply_to}``
(JSON); when the channel has a token, ``Authorization: Bearer <token>`` and the same signature
header over the body, keyed with the token. The gateway answers 2xx with
``{"id": "<its message id>"}``; 429 and 5xx are retried, other
answers fail the message with the gateway's ``error`` text.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid

import httpx

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
    WebhookRejected,
    WebhookRequest,
    as_float,
    json_body,
    normalise_phone,
    transient,
)

SIGNATURE_HEADER = "x-switchboard-signature"
TYPES = {
    "text": "text",
    "chat": "text",
    "conversation": "text",
    "image": "image",
    "document": "document",
    "audio": "audio",
    "voice": "voice",
    "ptt": "voice",
    "video": "video",
    "location": "location",
}
STATUSES = {"sent": "sent", "delivered": "delivered", "read": "read", "failed": "failed"}


def sign(key: str, body: bytes) -> str:
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


class CustomGatewayProvider(Provider):
    name = "custom"
    label = "Custom gateway"
    text_limit = 4096
    fields = (
        CredentialField(
            "gateway_url", "Gateway URL (messages are POSTed here)", help="e.g. https://gateway.example.com/send"
        ),
        CredentialField("token", "Gateway token (sent as Bearer; signs our requests)", secret=True, required=False),
    )
    setup_help = (
        "Your gateway posts each inbound message as JSON {from, body, type, id} to the webhook URL below, signed "
        "with X-Switchboard-Signature: sha256=HMAC-SHA256(webhook secret, raw body). Switchboard sends by POSTing "
        "{to, type, body, media_url} to the gateway URL. See README: Custom gateway protocol."
    )

    def verify(self, credentials: dict, webhook_secret: str, request: WebhookRequest) -> None:
        given = request.headers.get(SIGNATURE_HEADER, "")
        if not given:
            raise WebhookRejected(401, "Missing X-Switchboard-Signature header.")
        if not webhook_secret or not hmac.compare_digest(
            sign(webhook_secret, request.body).encode(), given.strip().encode()
        ):
            raise WebhookRejected(403, "Bad X-Switchboard-Signature signature.")

    def parse(self, request: WebhookRequest) -> Parsed:
        data = json_body(request)
        out = Parsed()
        if isinstance(data, dict) and ("messages" in data or "statuses" in data):
            messages = data.get("messages") if isinstance(data.get("messages"), list) else []
            statuses = data.get("statuses") if isinstance(data.get("statuses"), list) else []
        elif isinstance(data, dict):
            messages, statuses = ([data], []) if "from" in data else ([], [data] if "status" in data else [])
        elif isinstance(data, list):
            messages, statuses = data, []
        else:
            raise WebhookRejected(400, "Send a JSON object {from, body, type} (or {messages: [...]}).")
        if not messages and not statuses:
            raise WebhookRejected(400, "Nothing to store: a message needs from and body, a status id and status.")
        for m in messages[:100]:
            self._message(m, out)
        for s in statuses[:100]:
            if isinstance(s, dict) and s.get("id") and STATUSES.get(str(s.get("status"))):
                status = STATUSES[str(s["status"])]
                out.statuses.append(
                    StatusUpdate(
                        str(s["id"])[:200],
                        status,
                        "gateway" if status == "failed" else "",
                        str(s.get("error") or "")[:500],
                    )
                )
            else:
                out.ignored.append(f"status {str(s)[:60]!r}")
        return out

    def _message(self, m: object, out: Parsed) -> None:
        if not isinstance(m, dict):
            out.ignored.append("message that is not an object")
            return
        phone = normalise_phone(str(m.get("from") or ""))
        if phone is None:
            out.ignored.append(f"message from {str(m.get('from'))[:40]!r}: not a phone number")
            return
        text = str(m.get("body") or m.get("text") or "")
        kind = TYPES.get(str(m.get("type") or "text").lower(), "unsupported")
        ident = str(m.get("id") or "")[:200]
        if not ident:  # a digest of what identifies the message (see the module's docstring)
            fields = [phone, kind, text, str(m.get("timestamp") or ""), str(m.get("media_url") or "")]
            ident = "sha:" + hashlib.sha256("\x1f".join(fields).encode()).hexdigest()[:40]
        common = dict(
            provider_message_id=ident,
            phone=phone,
            name=str(m.get("name") or "")[:200],
            timestamp=as_float(m.get("timestamp")),
            reply_to=str(m.get("reply_to") or "")[:200],
        )
        if kind in ("image", "document", "audio", "voice", "video") and m.get("media_url"):
            media = Media(
                url=str(m["media_url"])[:2000],
                mime_type=str(m.get("mime_type") or "")[:100],
                filename=str(m.get("filename") or "")[:200],
            )
            out.messages.append(InboundMessage(type=kind, text=text, media=media, **common))
        elif kind == "location" and isinstance(m.get("location"), dict):
            loc = m["location"]
            location = {
                "latitude": as_float(loc.get("latitude")),
                "longitude": as_float(loc.get("longitude")),
                "name": str(loc.get("name") or ""),
                "address": str(loc.get("address") or ""),
            }
            out.messages.append(InboundMessage(type="location", text=location["name"], location=location, **common))
        elif kind == "text":
            out.messages.append(InboundMessage(type="text", text=text, **common))
        else:
            out.messages.append(InboundMessage(type="unsupported", text=text or f"[{m.get('type')}]", **common))

    def _headers(self, credentials: dict, body: bytes) -> dict:
        headers = {"Content-Type": "application/json"}
        token = str(credentials.get("token") or "")
        if token:
            headers["Authorization"] = f"Bearer {token}"
            headers["X-Switchboard-Signature"] = sign(token, body)
        return headers

    def build_send(self, credentials: dict, out: Outgoing) -> httpx.Request:
        payload = {
            "to": out.to_phone,
            "type": out.type if out.media_url else "text",
            "body": out.text,
            "media_url": out.media_url or None,
            "mime_type": out.media_mime or None,
            "filename": out.media_filename or None,
            "reply_to": out.reply_to or None,
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        return httpx.Request(
            "POST", str(credentials.get("gateway_url") or ""), content=body, headers=self._headers(credentials, body)
        )

    def read_send_response(self, response: httpx.Response) -> SendResult:
        if response.status_code >= 500 or response.status_code == 429:
            raise transient(response, f"The gateway answered HTTP {response.status_code}.")
        try:
            data = response.json()
        except ValueError:
            data = {}
        data = data if isinstance(data, dict) else {}
        if 200 <= response.status_code < 300:
            return SendResult(str(data.get("id") or f"custom-{uuid.uuid4().hex}")[:200], "sent")
        reason = str(data.get("error") or f"The gateway refused the message (HTTP {response.status_code}).")[:500]
        raise SendError(reason, code=str(response.status_code), permanent=True)

    def media_headers(self, credentials: dict) -> dict:
        token = str(credentials.get("token") or "")
        return {"Authorization": f"Bearer {token}"} if token else {}

    async def check_connection(self, client: httpx.AsyncClient, credentials: dict) -> tuple[bool, str]:
        url = str(credentials.get("gateway_url") or "")
        response = await client.get(url, headers=self.media_headers(credentials))
        if response.status_code < 500:
            return True, f"The gateway answered HTTP {response.status_code}."
        return False, f"The gateway answered HTTP {response.status_code}."


PROVIDER = CustomGatewayProvider()
