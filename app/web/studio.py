"""``/webhooks/twilio-studio/{channel_id}``: a Twilio Studio flow in front of Switchboard (seed 002).

A Twilio channel with ``studio_in_front = yes`` leaves the number's incoming webhook to a
Studio flow. The flow's "Make HTTP Request" widget posts each customer message here (form or
JSON: ``From``, ``Body``, ``MessageSid``, ``ProfileName``, media fields, as Twilio's own
webhook); it is stored exactly once (``MessageSid`` is the message's provider id, so a repeated
post stores nothing new), and the answer tells the flow who holds the conversation, as the
seed's ``/api/twilio/incoming`` did::

    {"agent_mode": true, "status": "assigned", "conversation_id": 12, "agent": "Alice"}

``agent_mode`` is true while agents have the conversation (queued or assigned): the flow stays
quiet. Resolving it ends that: the customer's next message opens a new conversation, which the
flow's bot answers. ``handoff=true`` in the post asks for an agent (the channel's default
department, else ``department_id``). Switchboard's own bot never speaks on such a channel
(``app.dispatch.bot``). The widget authenticates with HTTP Basic in the request URL
(``https://studio:<webhook secret>@host/webhooks/twilio-studio/<id>``, Twilio's documented
way); the flow JSON to import is ``docs/twilio-studio-flow.json``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from secrets import compare_digest
from urllib.parse import parse_qsl, urlencode

from litestar import Request, Response, post
from litestar.params import FromPath

from app.dispatch.assignment import queue_conversation
from app.dispatch.bot import STUDIO_ON
from app.domain import sql
from app.domain.channels import WEBHOOK_CHANNELS
from app.domain.errors import NotFound, ValidationError
from app.domain.messages import receive_webhook
from app.providers.base import WebhookRejected, WebhookRequest, normalise_phone
from app.web.webhooks import _read_body, _reject

log = logging.getLogger(__name__)
AGENT_STATUSES = ("queued", "assigned")


def studio_mode(credentials: dict) -> bool:
    return str(credentials.get("studio_in_front") or "").strip().lower() in STUDIO_ON


def _password(header: str) -> str:
    if header[:6].lower() != "basic ":
        return ""
    try:
        return base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")[2]
    except (binascii.Error, UnicodeDecodeError):
        return ""


def _form(body: bytes, content_type: str) -> bytes:
    """The post as a Twilio form body (the widget sends form-encoded or JSON)."""
    if content_type != "application/json":
        return body
    try:
        data = json.loads(body or b"{}")
    except ValueError as exc:
        raise WebhookRejected(400, "The body is not valid JSON.") from exc
    if not isinstance(data, dict):
        raise WebhookRejected(400, "Send a JSON object with From, Body and MessageSid.")
    return urlencode({k: "" if v is None else str(v) for k, v in data.items()}).encode()


async def holder(channel_id: int, phone: str) -> dict | None:
    """The contact's open conversation on the channel with its status and agent, if any."""
    row = await sql.fetchrow(
        """SELECT c.id, c.status, c.department_id, u.name AS agent FROM conversation c
           JOIN contact ct ON ct.id = c.contact_id LEFT JOIN app_user u ON u.id = c.assigned_user_id
           WHERE c.channel_id = $1 AND ct.phone = $2 AND c.status <> 'resolved'""",
        channel_id,
        phone,
    )
    return dict(row) if row else None


@post("/webhooks/twilio-studio/{channel_id:int}", status_code=200)
async def studio_incoming(request: Request, channel_id: FromPath[int]) -> Response:
    settings = request.app.state.settings
    try:
        body = await _read_body(request, settings.webhook_max_bytes)
        channel = await WEBHOOK_CHANNELS.get(channel_id)
        if channel is None or channel.provider != "twilio" or not studio_mode(channel.credentials):
            raise WebhookRejected(404, "No such Twilio channel in Studio mode.")
        if not channel.active:
            raise WebhookRejected(403, "This channel is disabled.")
        given = _password(request.headers.get("authorization") or "")
        if not given or not compare_digest(given.encode(), channel.webhook_secret.encode()):
            return Response(
                {"error": {"status": 401, "message": "Send the channel's webhook secret as the Basic password."}},
                status_code=401,
                headers={"WWW-Authenticate": 'Basic realm="switchboard"'},
            )
        content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
        form = _form(body, content_type)
        hook = WebhookRequest(url="", headers={"content-type": "application/x-www-form-urlencoded"}, body=form)
        try:
            parsed = channel.impl.parse(hook)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise WebhookRejected(400, "The post does not have the fields of a Twilio message.") from exc
        if not parsed.messages:
            raise WebhookRejected(400, "Post the customer's message: From, Body and MessageSid.")
    except WebhookRejected as exc:
        log.info("studio post refused: %s -> %s %s", channel_id, exc.status, exc.reason)
        return _reject(exc.status, exc.reason)
    result = await receive_webhook(channel, parsed)
    phone = normalise_phone(parsed.messages[0].phone) or ""
    params = dict(parse_qsl(form.decode("utf-8", "replace")))
    conv = await holder(channel.id, phone)
    if conv and str(params.get("handoff", "")).lower() in {"1", "true", "yes"} and conv["status"] == "bot":
        department_id = channel.default_department_id or params.get("department_id")
        if department_id:
            try:
                await queue_conversation(channel.company_id, conv["id"], int(department_id))
            except (ValueError, NotFound, ValidationError):
                return _reject(400, "department_id: no such department.")
            conv = await holder(channel.id, phone)
    status = conv["status"] if conv else "resolved"
    return Response(
        {
            "agent_mode": status in AGENT_STATUSES,
            "status": status,
            "conversation_id": conv["id"] if conv else None,
            "agent": (conv or {}).get("agent"),
            "stored": result.stored,
            "duplicates": result.duplicates,
        },
        status_code=200,
    )
