"""Alerts that follow an agent on every page: a conversation just assigned to them, a customer
writing in one they hold, a colleague mentioning them in a note (the note's words are quoted).

Every page's event stream carries them (topic None in ``app.web.live``) as ``my-alert`` with a
small JSON body; ``static/js/app.js`` plays the agent's sound, shows a desktop notification and
counts them in the page title. Texts name the customer and quote the customer's own words (the
last message *they* wrote), never the bot's menu. What the alert needs is read once per event
and process (``FragmentCache``), whatever the number of open pages.
"""

from __future__ import annotations

import json

from litestar.response import ServerSentEventMessage

from app.domain import sql
from app.domain.events import ConversationRouted, Event, MessageReceived
from app.domain.mentions import MentionAdded
from app.domain.tables import User
from app.i18n import gettext as _
from app.web.live import CACHE

PREVIEW = 140  # characters of the customer's words in a notification

ALERT_SQL = """
SELECT c.id, c.status, c.assigned_user_id, coalesce(nullif(ct.name, ''), ct.phone, '') AS customer,
       m.id AS message_id, m.author, m.type, m.text
FROM conversation c
JOIN contact ct ON ct.id = c.contact_id
LEFT JOIN LATERAL (
    SELECT id, author, type, text FROM message
    WHERE conversation_id = c.id AND author = 'customer' {message_filter}
    ORDER BY id DESC LIMIT 1
) m ON true
WHERE c.company_id = $1 AND c.id = $2
"""


async def _facts(event: ConversationRouted | MessageReceived) -> dict | None:
    if isinstance(event, MessageReceived):
        row = await sql.fetchrow(
            ALERT_SQL.format(message_filter="AND id = $3"),
            event.company_id,
            event.conversation_id,
            event.message_id,
        )
    else:
        row = await sql.fetchrow(ALERT_SQL.format(message_filter=""), event.company_id, event.conversation_id)
    return dict(row) if row is not None else None


def customer_words(kind: str | None, text: str | None) -> str:
    """What the customer said, for a notification: their text, else the kind of thing they sent."""
    text = " ".join((text or "").split())
    if text:
        return text if len(text) <= PREVIEW else text[: PREVIEW - 1] + "…"
    names = {
        "image": _("Photo"),
        "document": _("Document"),
        "audio": _("Audio"),
        "voice": _("Voice message"),
        "video": _("Video"),
        "location": _("Location"),
    }
    return names.get(kind or "", "")


async def _mention_alert(event: MentionAdded, viewer: User) -> list[ServerSentEventMessage]:
    from app.domain.mentions import get_mention

    if event.user_id != viewer.id:
        return []
    mention = await get_mention(event.company_id, viewer.id, event.mention_id)
    author = mention["author_name"] or _("someone")
    data = {
        "kind": "mention",
        "conversation": mention["conversation_id"],
        "customer": mention["customer"],
        "text": customer_words("text", mention["text"]),
        "title": _("%(author)s mentioned you about %(customer)s") % {"author": author, "customer": mention["customer"]},
        "url": f"/inbox/mentions/{event.mention_id}",
    }
    return [
        ServerSentEventMessage(event="my-alert", data=json.dumps(data, ensure_ascii=False)),
        ServerSentEventMessage(event="mentions-changed", data="changed"),
    ]


async def render_alert(event: Event, viewer: User) -> list[ServerSentEventMessage]:
    if isinstance(event, MentionAdded):
        return await _mention_alert(event, viewer)
    if isinstance(event, ConversationRouted):
        if event.status != "assigned" or event.user_id != viewer.id or event.previous_user_id == viewer.id:
            return []
        kind = "assigned"
    elif isinstance(event, MessageReceived):
        kind = "message"
    else:
        return []

    async def make() -> str:
        facts = await _facts(event)  # type: ignore[arg-type]
        return json.dumps(facts, default=str) if facts else "null"

    facts = json.loads(await CACHE.get((event, "alert-facts"), make))
    if not facts or facts["assigned_user_id"] != viewer.id or facts["status"] != "assigned":
        return []
    if kind == "message" and facts["message_id"] is None:
        return []  # the bot's, an agent's or a system message: nothing to alert about
    title = (
        _("New conversation assigned to you")
        if kind == "assigned"
        else _("New message from %(name)s") % {"name": facts["customer"]}
    )
    data = {
        "kind": kind,
        "conversation": facts["id"],
        "customer": facts["customer"],
        "text": customer_words(facts["type"], facts["text"]),
        "title": title,
        "url": f"/inbox/{facts['id']}",
    }
    return [ServerSentEventMessage(event="my-alert", data=json.dumps(data, ensure_ascii=False))]
