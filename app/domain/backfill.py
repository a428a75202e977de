"""Backfill: read the provider's recent history of the channel's active chats and store what the
webhooks missed (an outage, a session that had to be paired again), exactly once, in order.

Each message goes through the same ingestion as a webhook (``receive_webhook``), so the unique
``(channel, provider_message_id)`` key makes a message already stored, or fetched twice, a
no-op. Recovered messages carry ``data.recovered`` and the provider's own time. WAHA and Whapi
list a chat's messages; Twilio lists messages by sender; Meta has no history API (the channel
page says so).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx

from app.domain import sql
from app.domain.channels import ChannelInfo
from app.domain.messages import receive_webhook
from app.providers.base import Parsed, SendError

log = logging.getLogger(__name__)

ACTIVE_DAYS = 7
MAX_CHATS = 50


@dataclass
class BackfillResult:
    chats: int = 0
    recovered: int = 0
    already: int = 0
    errors: int = 0
    supported: bool = True


def supports_backfill(channel: ChannelInfo) -> bool:
    impl = type(channel.impl)
    from app.providers.base import Provider

    return impl.recent_messages is not Provider.recent_messages


async def backfill(
    channel: ChannelInfo, client: httpx.AsyncClient, *, per_chat: int = 50, max_chats: int = MAX_CHATS
) -> BackfillResult:
    """Fetch and store the missed messages of the chats active on ``channel`` lately."""
    result = BackfillResult(supported=supports_backfill(channel))
    if not result.supported or not channel.active:
        return result
    chats = await sql.fetch(
        """SELECT ct.id, ct.phone,
                  coalesce((SELECT a.alias FROM contact_alias a WHERE a.contact_id = ct.id ORDER BY a.id LIMIT 1), '') AS alias
           FROM contact ct
           WHERE ct.company_id = $1 AND ct.deleted_at IS NULL AND EXISTS (
                 SELECT 1 FROM conversation c WHERE c.contact_id = ct.id AND c.channel_id = $2
                   AND (c.status <> 'resolved' OR c.last_message_at > now() - make_interval(days => $3)))
           ORDER BY ct.id LIMIT $4""",
        channel.company_id,
        channel.id,
        ACTIVE_DAYS,
        max_chats,
    )
    for chat in chats:
        if not chat["phone"] and not chat["alias"]:
            continue
        result.chats += 1
        try:
            messages = await channel.impl.recent_messages(
                client, channel.credentials, chat["phone"] or "", chat["alias"], per_chat
            )
        except (SendError, httpx.HTTPError, NotImplementedError) as exc:
            log.info("backfill of channel %s chat %s failed: %r", channel.id, chat["id"], exc)
            result.errors += 1
            continue
        # Oldest first, each in its own transaction: the order they are stored in is the order
        # they were written in, and one bad message does not lose the others.
        for m in sorted(messages, key=lambda m: (m.timestamp or 0, m.provider_message_id)):
            ingested = await receive_webhook(channel, Parsed(messages=[m]))
            result.recovered += ingested.stored
            result.already += ingested.duplicates
    return result
