"""Twilio WhatsApp: form-encoded webhooks signed with ``X-Twilio-Signature`` (HMAC-SHA1).

Sources: twilio/twilio-python ``request_validator.py`` (signature: URL + sorted name/value
pairs, tried with and without the default port), twilio.com/docs messaging webhook parameters
and the Messages resource; error 63016 page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import parse_qsl, urlsplit, urlunsplit

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
    normalise_phone,
    transient,
)

ERRORS = {
    "63016": "Outside the 24-hour window: the customer has not written for 24 hours; send an approved template instead.",
    "63003": "The number is not reachable on WhatsApp.",
    "63024": "The recipient is not a valid WhatsApp user.",
    "21211": "The 'To' number is not a valid phone number.",
    "21603": "The channel has no sender number ('From'): complete its settings.",
    "20003": "Twilio refused the credentials: check the Account SID and auth token.",
}
STATUSES = {
    "queued": "pending",
    "accepted": "pending",
    "scheduled": "pending",
    "sending": "pending",
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "undelivered": "failed",
    "failed": "failed",
    "canceled": "failed",
}
TYPES = {
    "text": "text",
    "image": "image",
    "document": "document",
    "audio": "audio",
    "video": "video",
    "location": "location",
    "sticker": "image",
}


def explain(code: str, fallback: str) -> str:
    return ERRORS.get(code, fallback or "Twilio could not deliver the message.")


def signature(auth_token: str, url: str, params: list[tuple[str, str]]) -> str:
    """Twilio's request signature over ``url`` and the POST parameters."""
    grouped: dict[str, list[str]] = {}
    for key, value in params:
        grouped.setdefault(key, []).append(value)
    payload = url + "".join(k + v for k in sorted(grouped) for v in sorted(grouped[k]))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _with_and_without_port(url: str) -> list[str]:
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or ""
    if parts.port:
        return [url, urlunsplit(parts._replace(netloc=host))] if parts.port == default else [url]
    return [url, urlunsplit(parts._replace(netloc=f"{host}:{default}"))] if default else [url]


class TwilioProvider(Provider):
    name = "twilio"
    label = "Twilio"
    text_limit = 1600
    has_window = True
    fields = (
        CredentialField("account_sid", "Account SID"),
        CredentialField("auth_token", "Auth token (signs webhooks)", secret=True),
        CredentialField("from_number", "WhatsApp sender number (E.164)", help="e.g. +14155238886"),
        CredentialField("api_base", "API base URL", required=False, default="https://api.twilio.com"),
        CredentialField(
            "studio_in_front",
            "Studio in front (yes or empty)",
            required=False,
            help="yes: a Twilio Studio flow answers first and posts each message to "
            "/webhooks/twilio-studio/<channel id> (README: Moving from the Twilio Studio bot)",
        ),
    )
    secret_help = N_("Twilio signs webhooks with the auth token; this secret is not used by Twilio.")
    setup_help = N_(
        "In the Twilio console, WhatsApp sender settings: 'When a message comes in' = the webhook URL "
        "below (HTTP POST). Status callbacks are requested with each message we send."
    )

    def verify(self, credentials: dict, webhook_secret: str, request: WebhookRequest) -> None:
        given = request.headers.get("x-twilio-signature", "")
        if not given:
            raise WebhookRejected(401, "Missing X-Twilio-Signature header.")
        token = credentials.get("auth_token") or ""
        if request.content_type != "application/x-www-form-urlencoded":
            raise WebhookRejected(415, "Expected a form-encoded body (application/x-www-form-urlencoded).")
        params = _params(request)
        if not token or not any(
            hmac.compare_digest(signature(token, url, params).encode(), given.encode())
            for url in _with_and_without_port(request.url)
        ):
            raise WebhookRejected(403, "Bad X-Twilio-Signature signature.")

    def parse(self, request: WebhookRequest) -> Parsed:
        if request.content_type != "application/x-www-form-urlencoded":
            raise WebhookRejected(415, "Expected a form-encoded body (application/x-www-form-urlencoded).")
        p = dict(_params(request))
        out = Parsed()
        sid = p.get("MessageSid") or p.get("SmsSid") or ""
        if not sid:
            raise WebhookRejected(400, "Not a Twilio message webhook: MessageSid is missing.")
        status = p.get("MessageStatus") or ""
        if status and status not in ("received", "receiving"):
            mapped = STATUSES.get(status)
            if mapped is None:
                out.ignored.append(f"status {status!r}")
            else:
                code = p.get("ErrorCode", "") if mapped == "failed" else ""
                reason = explain(code, p.get("ErrorMessage", "")) if mapped == "failed" else ""
                out.statuses.append(StatusUpdate(sid, mapped, code, reason))
            return out
        phone = normalise_phone(p.get("From")) or normalise_phone(p.get("WaId"))
        if not phone:
            out.ignored.append("message without a WhatsApp sender")
            return out
        common = dict(
            provider_message_id=sid,
            phone=phone,
            name=p.get("ProfileName", ""),
            reply_to=p.get("OriginalRepliedMessageSid", ""),
        )
        kind = TYPES.get(p.get("MessageType", "text"), "unsupported")
        try:
            num_media = int(p.get("NumMedia") or 0)
        except ValueError:
            num_media = 0
        if num_media > 0:
            mime = p.get("MediaContentType0", "")
            if kind in ("text", "unsupported"):
                kind = {"image": "image", "video": "video", "audio": "audio"}.get(mime.split("/")[0], "document")
            if kind == "audio" and mime.startswith("audio/ogg"):
                kind = "voice"
            media = Media(url=p.get("MediaUrl0", ""), mime_type=mime)
            out.messages.append(InboundMessage(type=kind, text=p.get("Body", ""), media=media, **common))
        elif kind == "location" or p.get("Latitude"):
            location = {
                "latitude": _num(p.get("Latitude")),
                "longitude": _num(p.get("Longitude")),
                "name": p.get("Label", ""),
                "address": p.get("Address", ""),
            }
            out.messages.append(InboundMessage(type="location", text=location["name"], location=location, **common))
        elif kind == "text":
            out.messages.append(InboundMessage(type="text", text=p.get("Body", ""), **common))
        elif p.get("MessageType") == "button" or p.get("ButtonText"):
            # A tapped quick-reply button: its text is the customer's answer.
            out.messages.append(
                InboundMessage(
                    type="text",
                    text=p.get("ButtonText") or p.get("Body", ""),
                    button=p.get("ButtonPayload") or p.get("ButtonText", ""),
                    **common,
                )
            )
        else:
            out.messages.append(
                InboundMessage(type="unsupported", text=p.get("Body", "") or f"[{p.get('MessageType')}]", **common)
            )
        return out

    def _base(self, credentials: dict) -> str:
        return str(credentials.get("api_base") or "https://api.twilio.com").rstrip("/")

    api_base = _base
    # A media URL answers a redirect to a short-lived CDN copy: mms.twiliocdn.com with "HTTP Basic
    # for media" on, else S3 (support.twilio.com article 223183748). No credentials go there.
    media_redirect_hosts = ("*.twiliocdn.com", "s3-external-1.amazonaws.com/media.twiliocdn.com/")

    def _auth(self, credentials: dict) -> tuple[str, str]:
        return (str(credentials.get("account_sid", "")), str(credentials.get("auth_token", "")))

    def media_headers(self, credentials: dict) -> dict:
        # MediaUrl answers a redirect to the file; Basic auth when "HTTP Basic for media" is on.
        return {"Authorization": _basic(*self._auth(credentials))}

    def build_send(self, credentials: dict, out: Outgoing) -> httpx.Request:
        data: dict = {"To": f"whatsapp:{out.to_phone}", "From": f"whatsapp:{credentials.get('from_number', '')}"}
        if out.template:
            data["ContentSid"] = out.template.get("content_sid", "")
            variables = out.template.get("variables") or {}
            if variables:
                data["ContentVariables"] = json.dumps(variables, separators=(",", ":"))
        else:
            if out.text:
                data["Body"] = out.text
            if out.media_url:
                data["MediaUrl"] = out.media_url
        if out.status_callback:
            data["StatusCallback"] = out.status_callback
        url = f"{self._base(credentials)}/2010-04-01/Accounts/{credentials.get('account_sid', '')}/Messages.json"
        return httpx.Request("POST", url, data=data, headers={"Authorization": _basic(*self._auth(credentials))})

    def read_send_response(self, response: httpx.Response) -> SendResult:
        try:
            data = response.json()
        except ValueError:
            data = {}
        data = data if isinstance(data, dict) else {}
        if response.status_code in (200, 201) and data.get("sid"):
            return SendResult(str(data["sid"]), "sent")
        code = str(data.get("code") or response.status_code)
        reason = explain(code, str(data.get("message") or ""))
        if response.status_code >= 500 or response.status_code == 429:
            raise transient(response, reason, code)
        raise SendError(reason, code=code, permanent=True)

    async def recent_messages(
        self, client: httpx.AsyncClient, credentials: dict, chat_phone: str, chat_alias: str = "", limit: int = 50
    ) -> list[InboundMessage]:
        """The customer's recent messages to our number: ``GET /2010-04-01/Accounts/{sid}/Messages.json
        ?From=whatsapp:+…&To=whatsapp:+…&PageSize=`` (Twilio Message resource, list; newest first)."""
        if not chat_phone:
            return []
        url = f"{self._base(credentials)}/2010-04-01/Accounts/{credentials.get('account_sid', '')}/Messages.json"
        params = {
            "From": f"whatsapp:{chat_phone}",
            "To": f"whatsapp:{credentials.get('from_number', '')}",
            "PageSize": str(limit),
        }
        request = httpx.Request("GET", url, params=params, headers={"Authorization": _basic(*self._auth(credentials))})
        response = await self.call(client, request)
        if response.status_code != 200:
            raise SendError(
                f"Twilio answered HTTP {response.status_code} for the message list.",
                code=str(response.status_code),
                permanent=False,
            )
        try:
            data = response.json()
        except ValueError:
            data = {}
        items = data.get("messages") if isinstance(data, dict) else None
        out = []
        for m in items if isinstance(items, list) else []:
            if not isinstance(m, dict) or not m.get("sid") or str(m.get("direction")) != "inbound":
                continue
            when = _rfc2822(str(m.get("date_sent") or m.get("date_created") or ""))
            kind = "text" if str(m.get("num_media") or "0") == "0" else "unsupported"
            text = str(m.get("body") or "") if kind == "text" else (str(m.get("body") or "") or "[media]")
            out.append(
                InboundMessage(
                    provider_message_id=str(m["sid"]),
                    phone=chat_phone,
                    type=kind,
                    text=text,
                    timestamp=when,
                    recovered=True,
                )
            )
        return out

    async def check_connection(self, client: httpx.AsyncClient, credentials: dict) -> tuple[bool, str]:
        url = f"{self._base(credentials)}/2010-04-01/Accounts/{credentials.get('account_sid', '')}.json"
        response = await client.get(url, headers={"Authorization": _basic(*self._auth(credentials))})
        try:
            data = response.json()
        except ValueError:
            data = {}
        if response.status_code == 200:
            return True, f"Connected to account {data.get('friendly_name', '')} ({data.get('status', 'unknown')})."
        return False, explain(str(data.get("code") or ""), str(data.get("message") or f"HTTP {response.status_code}"))


def _rfc2822(value: str) -> float | None:
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None


def _params(request: WebhookRequest) -> list[tuple[str, str]]:
    try:
        return parse_qsl(request.body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebhookRejected(400, f"Malformed form body: {exc}") from exc


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _num(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


PROVIDER = TwilioProvider()
