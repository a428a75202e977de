"""Evolution API (self-hosted, Baileys inside): many Brazilian teams run it rather than WAHA.

Sources: EvolutionAPI/evolution-api@3454bec7 (release 2.3.6):
- webhooks (``src/api/integrations/event/webhook/webhook.controller.ts``): one JSON body
  ``{event, instance, data, destination, date_time, sender, server_url, apikey}`` per event, with
  the instance's custom ``headers`` (no signature scheme; ``jwt_key`` makes a short-lived JWT);
- ``messages.upsert`` / ``send.message``: ``data`` is the stored message (``prepareMessage`` in
  ``whatsapp.baileys.service.ts``): ``{key: {remoteJid, remoteJidAlt?, fromMe, id}, pushName,
  message, messageType, messageTimestamp, status}``; ``extendedTextMessage`` is folded into
  ``conversation``; an ``@lid`` chat carries the phone in ``key.remoteJidAlt`` (PR #1955);
- ``messages.update``: ``{keyId, remoteJid, fromMe, status}``, status ``ERROR, PENDING,
  SERVER_ACK, DELIVERY_ACK, READ, PLAYED`` (``src/utils/renderStatus.ts``) or ``DELETED``;
- ``connection.update``: ``{instance, state: open|connecting|close|refused, statusReason}``;
- ``qrcode.updated``: ``{qrcode: {instance, pairingCode, code, base64}}`` (``code`` is the raw value);
- sending (``src/api/routes/sendMessage.router.ts``, ``dto/sendMessage.dto.ts``), header ``apikey``:
  ``POST /message/sendText/{instance} {number, text, quoted?}``, ``/message/sendMedia/{instance}
  {number, mediatype, mimetype, caption, fileName, media: url or base64}``,
  ``/message/sendWhatsAppAudio/{instance} {number, audio}``, ``/message/sendReaction/{instance}
  {key: {remoteJid, fromMe, id}, reaction}``; the answer is the stored message (``key.id``);
- ``GET /instance/connectionState/{instance}`` → ``{instance: {instanceName, state}}``;
  ``GET /instance/connect/{instance}`` → ``{pairingCode, code, base64, count}``.

Authentication of webhooks: set a custom header ``X-Webhook-Secret: <secret>`` in the instance's
webhook settings (or append ``?token=<secret>`` to the URL). "Webhook by events" must stay off.
"""

from __future__ import annotations

import base64
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
    "ERROR": "failed",
    "PENDING": "pending",
    "SERVER_ACK": "sent",
    "DELIVERY_ACK": "delivered",
    "READ": "read",
    "PLAYED": "read",
}
STATES = {
    "open": "working",
    "connecting": "starting",
    "close": "down",
    "refused": "down",
}
MEDIA = {
    "imageMessage": "image",
    "videoMessage": "video",
    "audioMessage": "audio",
    "documentMessage": "document",
    "stickerMessage": "image",
    "documentWithCaptionMessage": "document",
}
SEND_MEDIA = {
    "image": "image",
    "video": "video",
    "document": "document",
    "audio": "audio",
}


def _d(value: object) -> dict:
    return value if isinstance(value, dict) else {}


class EvolutionProvider(Provider):
    name = "evolution"
    label = "Evolution API"
    text_limit = 4096
    fields = (
        CredentialField(
            "base_url",
            "Evolution API server URL",
            help="e.g. https://evolution.example.com",
        ),
        CredentialField("instance", "Instance name"),
        CredentialField("api_key", "API key (apikey header)", secret=True),
    )
    secret_help = N_("Evolution API: the value of the X-Webhook-Secret header in the instance's webhook headers.")
    setup_help = N_(
        "In Evolution API, set the instance's webhook (POST /webhook/set/{instance}): url = the webhook URL below, "
        "enabled, webhook by events off, events MESSAGES_UPSERT, MESSAGES_UPDATE, SEND_MESSAGE, CONNECTION_UPDATE, "
        'QRCODE_UPDATED, and headers {"X-Webhook-Secret": the webhook secret} (or append ?token=<secret> to the URL).'
    )
    pairs = True
    accepts_alias = True  # Evolution 2.3.6 sends to "…@lid" numbers

    def verify(self, credentials: dict, webhook_secret: str, request: WebhookRequest) -> None:
        given = request.headers.get("x-webhook-secret") or request.query.get("token") or ""
        if not given:
            raise WebhookRejected(401, "Missing X-Webhook-Secret header (or ?token=).")
        if not webhook_secret or not hmac_equal(webhook_secret, given):
            raise WebhookRejected(403, "Wrong webhook secret.")

    def parse(self, request: WebhookRequest) -> Parsed:
        data = json_body(request)
        if not isinstance(data, dict) or "event" not in data:
            raise WebhookRejected(400, "Not an Evolution API event: 'event' is missing.")
        out = Parsed()
        # Event names are "messages.upsert" in the body; older builds sent "MESSAGES_UPSERT".
        event = str(data.get("event") or "").lower().replace("_", ".")
        body = data.get("data")
        if event in ("messages.upsert", "send.message"):
            for item in body if isinstance(body, list) else [body]:
                self._message(_d(item), out)
        elif event == "messages.update":
            for item in body if isinstance(body, list) else [body]:
                self._status(_d(item), out)
        elif event == "connection.update":
            raw = str(_d(body).get("state") or "")
            out.session_state, out.session_detail = STATES.get(raw, "starting"), raw
        elif event == "qrcode.updated":
            qr = _d(_d(body).get("qrcode"))
            out.session_state, out.session_detail, out.qr = (
                "pairing",
                "qrcode",
                str(qr.get("code") or ""),
            )
        else:
            out.ignored.append(f"event {event!r}")
        return out

    def _message(self, m: dict, out: Parsed) -> None:
        key = _d(m.get("key"))
        jid = str(key.get("remoteJid") or "")
        kind = chat_kind(jid)
        if kind not in ("direct", "lid"):
            out.ignored.append(f"{kind} chat")
            return
        mid = str(key.get("id") or "")
        if not mid:
            out.ignored.append("message without id")
            return
        alt = str(key.get("remoteJidAlt") or key.get("senderPn") or "")
        phone, alias = normalise_phone(jid), jid if kind == "lid" else ""
        if kind == "lid" and normalise_phone(alt):
            phone = normalise_phone(alt)
        elif kind == "direct" and alt.endswith("@lid"):
            alias = alt
        if not phone and not alias:
            out.ignored.append("message without a reachable chat id")
            return
        from_me = bool(key.get("fromMe"))
        message = _d(m.get("message"))
        context = _d(m.get("contextInfo"))
        common = dict(
            provider_message_id=mid,
            phone=phone,
            alias=alias,
            outbound=from_me,
            name="" if from_me else str(m.get("pushName") or ""),
            timestamp=as_float(m.get("messageTimestamp")),
            reply_to=str(context.get("stanzaId") or ""),
        )
        mtype = str(m.get("messageType") or "")
        if "conversation" in message or "extendedTextMessage" in message:
            text = message.get("conversation") or _d(message.get("extendedTextMessage")).get("text") or ""
            out.messages.append(InboundMessage(type="text", text=str(text), **common))
        elif media_key := (
            mtype if mtype in MEDIA and mtype in message else next((k for k in MEDIA if k in message), "")
        ):
            name = media_key
            body = _d(message.get(name))
            if name == "documentWithCaptionMessage":
                body = _d(_d(_d(body.get("message")).get("documentMessage")))
            ntype = MEDIA[name]
            if ntype == "audio" and body.get("ptt"):
                ntype = "voice"
            media = Media(
                url=str(body.get("url") or ""),
                mime_type=str(body.get("mimetype") or ""),
                filename=str(body.get("fileName") or ""),
            )
            out.messages.append(
                InboundMessage(
                    type=ntype,
                    text=str(body.get("caption") or ""),
                    media=media,
                    **common,
                )
            )
        elif "reactionMessage" in message:
            r = _d(message.get("reactionMessage"))
            out.messages.append(
                InboundMessage(
                    type="reaction",
                    text=str(r.get("text") or ""),
                    reaction_to=str(_d(r.get("key")).get("id") or ""),
                    **common,
                )
            )
        elif "locationMessage" in message:
            loc = _d(message.get("locationMessage"))
            location = {
                "latitude": loc.get("degreesLatitude"),
                "longitude": loc.get("degreesLongitude"),
                "name": str(loc.get("name") or loc.get("address") or ""),
            }
            out.messages.append(InboundMessage(type="location", text=location["name"], location=location, **common))
        elif (
            "buttonsResponseMessage" in message
            or "templateButtonReplyMessage" in message
            or "listResponseMessage" in message
        ):
            b = _d(message.get("buttonsResponseMessage"))
            t = _d(message.get("templateButtonReplyMessage"))
            lst = _d(message.get("listResponseMessage"))
            title = str(b.get("selectedDisplayText") or t.get("selectedDisplayText") or lst.get("title") or "")
            button = str(
                b.get("selectedButtonId")
                or t.get("selectedId")
                or _d(lst.get("singleSelectReply")).get("selectedRowId")
                or title
            )
            out.messages.append(InboundMessage(type="text", text=title or button, button=button, **common))
        else:
            out.messages.append(
                InboundMessage(
                    type="unsupported",
                    text=f"WhatsApp notice: {mtype or 'unknown message'}",
                    **common,
                )
            )

    def _status(self, u: dict, out: Parsed) -> None:
        jid = str(u.get("remoteJid") or "")
        if chat_kind(jid) not in ("direct", "lid"):
            out.ignored.append("group status")
            return
        status = STATUSES.get(str(u.get("status") or ""))
        mid = str(u.get("keyId") or _d(u.get("key")).get("id") or "")
        if status is None or not mid:
            out.ignored.append(f"status {u.get('status')!r}")
            return
        reason = "Evolution API reported an error delivering the message." if status == "failed" else ""
        out.statuses.append(StatusUpdate(mid, status, "", reason))

    # Sending --------------------------------------------------------------------------------

    def _base(self, credentials: dict) -> str:
        return str(credentials.get("base_url") or "").rstrip("/")

    def _instance(self, credentials: dict) -> str:
        return quote(str(credentials.get("instance") or ""), safe="")

    def _headers(self, credentials: dict) -> dict:
        return {"apikey": str(credentials.get("api_key") or "")}

    def media_headers(self, credentials: dict) -> dict:
        return {}  # WhatsApp's own media URLs (encrypted); Evolution's base64 option is not used

    uploads_media = True

    def build_send(self, credentials: dict, out: Outgoing) -> httpx.Request:
        number = out.to_phone.lstrip("+") if out.to_phone else out.to_alias
        base, instance = self._base(credentials), self._instance(credentials)
        if out.type == "reaction":
            chat = f"{number}@s.whatsapp.net" if out.to_phone else number
            body: dict = {
                "key": {
                    "remoteJid": chat,
                    "fromMe": out.reaction_to_ours,
                    "id": out.reaction_to,
                },
                "reaction": out.reaction,
            }
            return httpx.Request(
                "POST",
                f"{base}/message/sendReaction/{instance}",
                json=body,
                headers=self._headers(credentials),
            )
        media = base64.b64encode(out.media_content).decode() if out.media_content is not None else out.media_url
        if out.type == "voice" and media:
            body, path = {"number": number, "audio": media}, "sendWhatsAppAudio"
        elif out.type in SEND_MEDIA and media:
            body = {
                "number": number,
                "mediatype": SEND_MEDIA[out.type],
                "mimetype": out.media_mime,
                "media": media,
            }
            if out.text:
                body["caption"] = out.text
            if out.media_filename:
                body["fileName"] = out.media_filename
            path = "sendMedia"
        else:
            body, path = {"number": number, "text": out.text}, "sendText"
        if out.reply_to:
            body["quoted"] = {"key": {"id": out.reply_to}}
        return httpx.Request(
            "POST",
            f"{base}/message/{path}/{instance}",
            json=body,
            headers=self._headers(credentials),
        )

    def read_send_response(self, response: httpx.Response) -> SendResult:
        if response.status_code >= 500 or response.status_code == 429:
            raise transient(response, f"Evolution API answered HTTP {response.status_code}.")
        try:
            data = response.json()
        except ValueError:
            data = {}
        data = data if isinstance(data, dict) else {}
        mid = _d(data.get("key")).get("id")
        if 200 <= response.status_code < 300 and mid:
            return SendResult(str(mid), "sent")
        detail = _d(data.get("response")).get("message") or data.get("message") or data.get("error")
        if isinstance(detail, list):
            detail = "; ".join(str(x) for x in detail)
        reason = str(detail or f"Evolution API refused the message (HTTP {response.status_code}).")
        if response.status_code in (401, 403):
            reason = "Evolution API refused the API key: update the channel's credentials."
        raise SendError(reason, code=str(response.status_code), permanent=True)

    async def session_state(self, client: httpx.AsyncClient, credentials: dict) -> tuple[str, str, str]:
        base, instance = self._base(credentials), self._instance(credentials)
        r = await self.call(
            client,
            httpx.Request(
                "GET",
                f"{base}/instance/connectionState/{instance}",
                headers=self._headers(credentials),
            ),
        )
        if r.status_code != 200:
            return "down", f"HTTP {r.status_code}", ""
        raw = str(_d(_d(_json(r)).get("instance")).get("state") or "")
        state = STATES.get(raw, "starting")
        qr = ""
        if state != "working":
            c = await self.call(
                client,
                httpx.Request(
                    "GET",
                    f"{base}/instance/connect/{instance}",
                    headers=self._headers(credentials),
                ),
            )
            qr = str(_json(c).get("code") or "") if c.status_code == 200 else ""
            if qr:
                state = "pairing"
        return state, raw, qr

    async def check_connection(self, client: httpx.AsyncClient, credentials: dict) -> tuple[bool, str]:
        state, raw, _qr = await self.session_state(client, credentials)
        return (
            state == "working",
            f"Instance {credentials.get('instance', '')} is {raw or state}.",
        )


def _json(response: httpx.Response) -> dict:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


PROVIDER = EvolutionProvider()
