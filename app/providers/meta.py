"""Meta WhatsApp Cloud API: webhooks signed with ``X-Hub-Signature-256``, sends to the Graph API.

Sources: Meta webhook and send formats as captured in tests/fixtures/providers/meta (pywa test
data, Meta's Postman collection); error codes from Meta's "Cloud API error codes" page; typing
indicators from https://developers.facebook.com/documentation/business-messaging/whatsapp/typing-indicators/
(carried by marking the customer's last message read; dismissed by our reply or after 25 s).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace

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
    WebhookRejected,
    WebhookRequest,
    as_float,
    authority,
    hmac_equal,
    json_body,
    normalise_phone,
    transient,
)

# Human explanations of the error codes an agent is likely to meet.
ERRORS = {
    "131047": "More than 24 hours have passed since the customer last wrote: send an approved template instead.",
    "131026": "The message could not be delivered: the number may not be on WhatsApp, or must accept new terms.",
    "131030": "The recipient's number is not in the allowed list of this test number.",
    "130472": "The customer's number is part of a Meta experiment; the message was not delivered.",
    "131056": "Too many messages to this customer in a short time; try again later.",
    "190": "The access token has expired or is invalid: update the channel's credentials.",
    "100": "The request was refused by Meta (invalid parameter).",
}
TRANSIENT_CODES = {"1", "2", "4", "80007", "130429", "131000", "131016", "131056", "133004"}
STATUSES = {"sent": "sent", "delivered": "delivered", "read": "read", "played": "read", "failed": "failed"}
# Meta's referral object (click-to-WhatsApp ads): the fields we keep.
REFERRAL = (
    "headline",
    "body",
    "source_url",
    "source_id",
    "source_type",
    "media_type",
    "image_url",
    "video_url",
    "thumbnail_url",
    "ctwa_clid",
)
MEDIA_TYPES = {"image": "image", "document": "document", "video": "video", "sticker": "image"}


def explain(code: str, fallback: str) -> str:
    return ERRORS.get(code, fallback or "The provider refused the message.")


class MetaProvider(Provider):
    name = "meta"
    label = "Meta Cloud API"
    text_limit = 4096
    has_window = True
    fields = (
        CredentialField("phone_number_id", "Phone number ID"),
        CredentialField("access_token", "Access token", secret=True),
        CredentialField("app_secret", "App secret (signs webhooks)", secret=True),
        CredentialField("api_base", "Graph API base URL", required=False, default="https://graph.facebook.com/v21.0"),
    )
    secret_help = N_(
        "Meta: paste this as the verify token (WhatsApp > Configuration); webhooks are signed with the app secret."
    )
    setup_help = N_(
        "In the Meta app dashboard, WhatsApp > Configuration: callback URL = the webhook URL below, "
        "verify token = the webhook secret; subscribe to the 'messages' field."
    )

    def verify(self, credentials: dict, webhook_secret: str, request: WebhookRequest) -> None:
        secret = credentials.get("app_secret") or ""
        given = request.headers.get("x-hub-signature-256", "")
        if not given:
            raise WebhookRejected(401, "Missing X-Hub-Signature-256 header.")
        if not secret:
            raise WebhookRejected(403, "The channel has no app secret to verify signatures with.")
        expected = "sha256=" + hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
        if not hmac_equal(expected, given):
            raise WebhookRejected(403, "Bad X-Hub-Signature-256 signature.")

    def parse(self, request: WebhookRequest) -> Parsed:
        data = json_body(request)
        out = Parsed()
        if not isinstance(data, dict) or not isinstance(data.get("entry"), list):
            raise WebhookRejected(400, "Not a WhatsApp Business webhook: 'entry' is missing.")
        for entry in _l(data["entry"]):
            for change in _l(_d(entry).get("changes")):
                change = _d(change)
                value = _d(change.get("value"))
                if change.get("field") not in ("messages", "smb_message_echoes"):
                    out.ignored.append(f"field {change.get('field')!r}")
                    continue
                names = {
                    str(_d(c).get("wa_id")): str(_d(_d(c).get("profile")).get("name") or "")
                    for c in _l(value.get("contacts"))
                }
                for m in _l(value.get("messages")):
                    self._message(_d(m), names, out, outbound=False)
                for m in _l(value.get("message_echoes")):
                    self._message(_d(m), names, out, outbound=True)
                for s in _l(value.get("statuses")):
                    self._status(_d(s), out)
        return out

    def _message(self, m: dict, names: dict, out: Parsed, *, outbound: bool) -> None:
        mid = str(m.get("id") or "")
        who = m.get("to") if outbound else m.get("from")
        phone = normalise_phone(str(who or ""))
        if not mid or not phone:
            out.ignored.append(f"message without id or sender: {mid!r}")
            return
        kind = str(m.get("type") or "unsupported")
        context = _d(m.get("context"))
        common = dict(
            provider_message_id=mid,
            phone=phone,
            name=names.get(str(who), ""),
            outbound=outbound,
            reply_to=str(context.get("id") or ""),
            timestamp=as_float(m.get("timestamp")),
        )
        referral = _d(m.get("referral"))
        if referral:  # the ad or post a click-to-WhatsApp customer came from
            common["referral"] = {k: str(referral[k])[:2000] for k in REFERRAL if referral.get(k) not in (None, "")}
        if kind == "text":
            out.messages.append(InboundMessage(type="text", text=str(_d(m.get("text")).get("body") or ""), **common))
        elif kind in MEDIA_TYPES or kind == "audio":
            body = _d(m.get(kind))
            ntype = ("voice" if body.get("voice") else "audio") if kind == "audio" else MEDIA_TYPES[kind]
            media = Media(
                url=str(body.get("url") or ""),
                media_id=str(body.get("id") or ""),
                mime_type=str(body.get("mime_type") or ""),
                filename=str(body.get("filename") or ""),
            )
            out.messages.append(InboundMessage(type=ntype, text=str(body.get("caption") or ""), media=media, **common))
        elif kind == "location":
            loc = _d(m.get("location"))
            location = {
                k: loc.get(k) for k in ("latitude", "longitude", "name", "address", "url") if loc.get(k) is not None
            }
            out.messages.append(
                InboundMessage(type="location", text=str(loc.get("name") or ""), location=location, **common)
            )
        elif kind in ("button", "interactive"):
            # A tapped button (a template's quick reply, or an interactive reply button / list
            # row) is the customer's answer: kept as text, with the button's id in the data.
            if kind == "button":
                b = _d(m.get("button"))
                title, payload = str(b.get("text") or ""), str(b.get("payload") or "")
            else:
                i = _d(m.get("interactive"))
                chosen = _d(i.get("button_reply") or i.get("list_reply"))
                title, payload = str(chosen.get("title") or ""), str(chosen.get("id") or "")
            out.messages.append(InboundMessage(type="text", text=title, button=payload or title, **common))
        elif kind == "reaction":
            r = _d(m.get("reaction"))
            out.messages.append(
                InboundMessage(
                    type="reaction",
                    text=str(r.get("emoji") or ""),
                    reaction_to=str(r.get("message_id") or ""),
                    **common,
                )
            )
        elif kind == "system":
            # e.g. {"body": "User A changed from … to …", "type": "user_changed_number", "wa_id": …}
            system = _d(m.get("system"))
            text = str(system.get("body") or f"WhatsApp notice: {system.get('type') or 'system'}")
            out.messages.append(InboundMessage(type="unsupported", text=text, **common))
        else:
            # "unsupported" (code 131051) and types we do not handle: say what Meta said.
            err = _d((_l(m.get("errors")) or [{}])[0])
            said = str(_d(err.get("error_data")).get("details") or err.get("title") or err.get("message") or "")
            text = f"WhatsApp message of type {kind!r} that Switchboard cannot show" + (f": {said}" if said else ".")
            out.messages.append(InboundMessage(type="unsupported", text=text, **common))

    def _status(self, s: dict, out: Parsed) -> None:
        if s.get("recipient_type") == "group":
            out.ignored.append("group status")
            return
        status = STATUSES.get(str(s.get("status")))
        if not status or not s.get("id"):
            out.ignored.append(f"status {s.get('status')!r}")
            return
        code, reason = "", ""
        if status == "failed":
            err = _d((_l(s.get("errors")) or [{}])[0])
            code = str(err.get("code") or "")
            reason = explain(code, str(_d(err.get("error_data")).get("details") or err.get("title") or ""))
        out.statuses.append(StatusUpdate(str(s["id"]), status, code, reason, as_float(s.get("timestamp"))))

    def verify_handshake(self, webhook_secret: str, query: dict[str, str]) -> str:
        """Meta's GET handshake: echo hub.challenge when the verify token matches."""
        if query.get("hub.mode") != "subscribe":
            raise WebhookRejected(400, "hub.mode must be 'subscribe'.")
        if not webhook_secret or not hmac_equal(webhook_secret, query.get("hub.verify_token", "")):
            raise WebhookRejected(403, "The verify token does not match this channel's webhook secret.")
        return query.get("hub.challenge", "")

    def _base(self, credentials: dict) -> str:
        return (credentials.get("api_base") or "https://graph.facebook.com/v21.0").rstrip("/")

    api_base = _base
    media_redirect_hosts = ("*.fbsbx.com", "*.fbcdn.net")

    def build_send(self, credentials: dict, out: Outgoing) -> httpx.Request:
        body: dict = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": out.to_phone.lstrip("+")}
        if out.reply_to:
            body["context"] = {"message_id": out.reply_to}
        if out.template:
            tpl: dict = {"name": out.template["name"], "language": {"code": out.template.get("language") or "en_US"}}
            params = out.template.get("params") or []
            if params:
                tpl["components"] = [{"type": "body", "parameters": [{"type": "text", "text": p} for p in params]}]
            body.update(type="template", template=tpl)
        elif out.type in ("image", "document", "video", "audio", "voice"):
            kind = "audio" if out.type == "voice" else out.type
            media: dict = {"id": out.media_id} if out.media_id else {"link": out.media_url}
            if out.text and kind != "audio":
                media["caption"] = out.text
            if kind == "document" and out.media_filename:
                media["filename"] = out.media_filename
            body.update(type=kind, **{kind: media})
        else:
            body.update(type="text", text={"preview_url": False, "body": out.text})
        url = f"{self._base(credentials)}/{credentials.get('phone_number_id', '')}/messages"
        headers = {"Authorization": f"Bearer {credentials.get('access_token', '')}"}
        return httpx.Request("POST", url, json=body, headers=headers)

    uploads_media = True
    supports_typing = True
    typing_stops = False  # no call takes it back: it ends with our reply or after 25 s

    def build_typing(self, credentials: dict, chat: TypingChat, on: bool) -> httpx.Request | None:
        """Marks the customer's last message read (blue ticks) and shows "typing…"."""
        if not on or not chat.last_inbound_id:
            return None
        body = {
            "messaging_product": "whatsapp",
            "status": "read",
            "message_id": chat.last_inbound_id,
            "typing_indicator": {"type": "text"},
        }
        url = f"{self._base(credentials)}/{credentials.get('phone_number_id', '')}/messages"
        return httpx.Request(
            "POST", url, json=body, headers={"Authorization": f"Bearer {credentials.get('access_token', '')}"}
        )

    async def send(self, client: httpx.AsyncClient, credentials: dict, out: Outgoing) -> SendResult:
        """A file we hold is uploaded first (``POST /{phone-number-id}/media``), then sent by id."""
        if out.media_content is not None and not out.media_id and not out.template:
            out = replace(out, media_id=await self.upload(client, credentials, out))
        return await super().send(client, credentials, out)

    async def upload(self, client: httpx.AsyncClient, credentials: dict, out: Outgoing) -> str:
        url = f"{self._base(credentials)}/{credentials.get('phone_number_id', '')}/media"
        mime = out.media_mime or "application/octet-stream"
        request = httpx.Request(
            "POST",
            url,
            headers={"Authorization": f"Bearer {credentials.get('access_token', '')}"},
            data={"messaging_product": "whatsapp", "type": mime},
            files={"file": (out.media_filename or "file", out.media_content or b"", mime)},
        )
        response = await self.call(client, request)
        data = _json(response)
        if response.status_code == 200 and data.get("id"):
            return str(data["id"])
        self._raise(response, data)
        raise AssertionError("unreachable")

    def read_send_response(self, response: httpx.Response) -> SendResult:
        try:
            data = response.json()
        except ValueError:
            data = {}
        if response.status_code == 200 and (data.get("messages") or [{}])[0].get("id"):
            return SendResult(str(data["messages"][0]["id"]), "sent")
        self._raise(response, data)
        raise AssertionError("unreachable")

    def _raise(self, response: httpx.Response, data: dict) -> None:
        """The ``SendError`` for a refused call (permanent or not, with Meta's code explained)."""
        err = data.get("error") or {}
        code = str(err.get("code") or response.status_code)
        reason = explain(code, (err.get("error_data") or {}).get("details") or err.get("message") or "")
        if response.status_code >= 500 or response.status_code == 429 or code in TRANSIENT_CODES:
            return_error = transient(response, reason, code)
            raise return_error
        raise SendError(reason, code=code, permanent=True)

    async def check_connection(self, client: httpx.AsyncClient, credentials: dict) -> tuple[bool, str]:
        url = f"{self._base(credentials)}/{credentials.get('phone_number_id', '')}"
        response = await client.get(url, headers={"Authorization": f"Bearer {credentials.get('access_token', '')}"})
        data = _json(response)
        if response.status_code == 200:
            return (
                True,
                f"Connected: {data.get('display_phone_number') or data.get('verified_name') or 'phone number found'}.",
            )
        err = data.get("error") or {}
        return False, explain(str(err.get("code") or ""), err.get("message") or f"HTTP {response.status_code}")


async def _meta_session_state(self, client: httpx.AsyncClient, credentials: dict) -> tuple[str, str, str]:
    """The phone number's status and quality rating: ``GET /{phone-number-id}?fields=status,quality_rating,
    display_phone_number`` (status e.g. CONNECTED, FLAGGED, RESTRICTED; quality GREEN, YELLOW, RED)."""
    url = f"{self._base(credentials)}/{credentials.get('phone_number_id', '')}"
    request = httpx.Request(
        "GET",
        url,
        params={"fields": "status,quality_rating,display_phone_number,verified_name"},
        headers={"Authorization": f"Bearer {credentials.get('access_token', '')}"},
    )
    response = await self.call(client, request)
    data = _json(response)
    if response.status_code != 200:
        err = _d(data.get("error"))
        return (
            "down",
            explain(str(err.get("code") or ""), str(err.get("message") or f"HTTP {response.status_code}")),
            "",
        )
    status, quality = str(data.get("status") or "CONNECTED"), str(data.get("quality_rating") or "")
    state = "working" if status in ("CONNECTED", "") else "down"
    return state, f"{status}" + (f", quality {quality}" if quality else ""), ""


MetaProvider.session_state = _meta_session_state  # type: ignore[method-assign]


def _media_methods():
    async def media_url(self, client: httpx.AsyncClient, credentials: dict, media: Media) -> str:
        if media.url:
            return media.url
        if not media.media_id:
            return ""
        # Graph API: GET /{media-id} answers {"url": ...}; the URL needs the same bearer token.
        try:
            r = await client.get(f"{self._base(credentials)}/{media.media_id}", headers=self.media_headers(credentials))
        except httpx.HTTPError as exc:
            raise SendError(
                f"Could not reach Meta: {exc.__class__.__name__}.", code="network", permanent=False
            ) from exc
        if r.status_code != 200:
            if r.status_code >= 500 or r.status_code == 429:
                raise transient(r, f"Meta answered HTTP {r.status_code}.")
            err = _d(_json(r).get("error"))
            raise SendError(
                explain(str(err.get("code") or ""), str(err.get("message") or "")),
                code=str(err.get("code") or r.status_code),
                permanent=True,
            )
        return str(_json(r).get("url") or "")

    def media_headers(self, credentials: dict) -> dict:
        return {"Authorization": f"Bearer {credentials.get('access_token', '')}"}

    def media_hosts(self, credentials: dict) -> tuple[str, ...]:
        # The Graph API answers a lookaside.fbsbx.com URL that needs the same bearer token
        # (developers.facebook.com/docs/whatsapp/cloud-api/reference/media#download-media).
        return (authority(httpx.URL(self._base(credentials))), "lookaside.fbsbx.com")

    MetaProvider.media_hosts = media_hosts  # type: ignore[method-assign]
    MetaProvider.media_url = media_url  # type: ignore[method-assign]
    MetaProvider.media_headers = media_headers  # type: ignore[method-assign]


def _d(value: object) -> dict:
    """Webhook JSON of an unexpected shape reads as empty, never as a crash."""
    return value if isinstance(value, dict) else {}


def _l(value: object) -> list:
    return value if isinstance(value, list) else []


def _json(response: httpx.Response) -> dict:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


_media_methods()
PROVIDER = MetaProvider()
