"""Messages in and out: the inbound ingestion action, delivery statuses, queueing replies, reads.

Inbound (``receive_webhook``): one transaction stores the contact, the open conversation and
each message, keyed by the unique ``(channel_id, provider_message_id)``; a retried or duplicated
webhook stores nothing new. Statuses only move forward (pending → sent → delivered → read, or
failed) and a status for a message we do not have yet waits in ``pending_status`` until the
message (or its provider id) arrives. Both paths take a transaction-scoped advisory lock on
(channel, provider id) so that a status and its message racing in two requests cannot miss
each other. Outbound (``queue_message``): stored ``pending`` and shown at once; the sender
worker (``app.providers.sender``) does the sending.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta

import asyncpg

from app.domain import sql
from app.domain.channels import ChannelInfo, get_channel
from app.domain.errors import NotFound, ValidationError
from app.domain.events import (
    CHANNEL,
    ContactChanged,
    ConversationOpened,
    MessageQueued,
    MessageReceived,
    MessageStatusChanged,
    emit,
)
from app.domain.group_commit import GroupCommit
from app.i18n import N_
from app.providers.base import STATUS_RANK, InboundMessage, Parsed, StatusUpdate, clean_text

WINDOW = timedelta(hours=24)


@dataclass
class IngestResult:
    stored: int = 0
    duplicates: int = 0
    statuses: int = 0
    early_statuses: int = 0
    ignored: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


# Inbound ------------------------------------------------------------------------------------


_LOCK = "SELECT pg_advisory_xact_lock($1, hashtext($2))"

# A known contact writing again: the WhatsApp profile name is kept in profile_name; name follows
# it only while nobody renamed the contact (name still equal to the previous profile name).
_PROFILE_NAME = """
    name = CASE WHEN excluded.profile_name <> '' AND (contact.name = '' OR contact.name = contact.profile_name)
                THEN excluded.profile_name ELSE contact.name END,
    profile_name = CASE WHEN excluded.profile_name <> '' THEN excluded.profile_name ELSE contact.profile_name END"""


async def _lock(channel_id: int, provider_message_id: str) -> None:
    await sql.execute(_LOCK, channel_id, provider_message_id)


async def _contact_id(company_id: int, phone: str | None, alias: str, name: str) -> int:
    if phone:
        contact_id = await sql.fetchval(
            """INSERT INTO contact (company_id, phone, name, profile_name) VALUES ($1, $2, $3, $3)
               ON CONFLICT (company_id, phone) DO UPDATE SET """
            + _PROFILE_NAME
            + """
               RETURNING id""",
            company_id,
            phone,
            name[:200],
        )
        if alias:
            await sql.execute(
                "INSERT INTO contact_alias (company_id, contact_id, alias) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                company_id,
                contact_id,
                alias,
            )
        return contact_id
    if not alias:
        raise ValueError("a contact needs a phone or an alias")
    found = await sql.fetchval(
        "SELECT contact_id FROM contact_alias WHERE company_id = $1 AND alias = $2", company_id, alias
    )
    if found:
        return found
    contact_id = await sql.fetchval(
        "INSERT INTO contact (company_id, phone, name, profile_name) VALUES ($1, NULL, $2, $2) RETURNING id",
        company_id,
        name[:200],
    )
    await sql.execute(
        "INSERT INTO contact_alias (company_id, contact_id, alias) VALUES ($1, $2, $3)", company_id, contact_id, alias
    )
    return contact_id


def _data(m: InboundMessage) -> dict:
    data: dict = {}
    if m.media:
        data["media"] = {k: v for k, v in asdict(m.media).items() if v}
    if m.location:
        data["location"] = m.location
    if m.reaction_to:
        data["reaction_to"] = m.reaction_to
    if m.button:
        data["button"] = m.button[:256]
    if m.referral:
        data["referral"] = m.referral
    if m.recovered:
        data["recovered"] = True
    return data


def _nul(value: str) -> str:
    """Text PostgreSQL can store: no NUL, and lone UTF-16 surrogates replaced by U+FFFD."""
    value = value.replace("\x00", "") if "\x00" in value else value
    return clean_text(value)


async def _adopt_alias(company_id: int, phone: str, alias: str) -> None:
    """A message carries both a phone and an alias (e.g. WAHA's remoteJidAlt): make them one
    contact. A contact known only by the alias takes the phone, or is folded into the contact
    that already has it (its open conversations resolved where both had one on a channel)."""
    owner = await sql.fetchrow(
        """SELECT ct.id, ct.phone FROM contact_alias a JOIN contact ct ON ct.id = a.contact_id
           WHERE a.company_id = $1 AND a.alias = $2 FOR UPDATE OF ct""",
        company_id,
        alias,
    )
    if owner is None or owner["phone"] == phone:
        return
    if owner["phone"] is not None:
        return  # the alias belongs to someone with another number: leave both alone
    keep = await sql.fetchval(
        "SELECT id FROM contact WHERE company_id = $1 AND phone = $2 FOR UPDATE", company_id, phone
    )
    if keep is None:
        await sql.execute(
            "UPDATE contact SET phone = $3 WHERE company_id = $1 AND id = $2", company_id, owner["id"], phone
        )
        await emit(ContactChanged(company_id, owner["id"]))
        return
    from app.domain.contacts import merge_contacts

    # Two open conversations on one channel cannot be one: the alias's one is resolved (it stays
    # as history of the merged contact) and the customer's next messages go to the other.
    await sql.execute(
        """UPDATE conversation d SET status = 'resolved', resolved_at = now()
           FROM conversation k
           WHERE d.company_id = $1 AND d.contact_id = $2 AND d.status <> 'resolved'
             AND k.contact_id = $3 AND k.channel_id = d.channel_id AND k.status <> 'resolved'""",
        company_id,
        owner["id"],
        keep,
    )
    await merge_contacts(company_id, keep, owner["id"])


async def _store(channel: ChannelInfo, m: InboundMessage) -> bool:
    # PostgreSQL text cannot hold NUL; providers' JSON may carry "\u0000".
    m = replace(
        m,
        text=_nul(m.text),
        name=_nul(m.name),
        provider_message_id=_nul(m.provider_message_id),
        reply_to=_nul(m.reply_to),
        alias=_nul(m.alias),
    )
    if m.outbound:
        # Only outbound messages race with statuses (and with our own send response).
        await _lock(channel.id, m.provider_message_id)
    if await sql.fetchval(
        "SELECT 1 FROM message WHERE channel_id = $1 AND provider_message_id = $2", channel.id, m.provider_message_id
    ):
        return False
    if m.phone and m.alias:
        await _adopt_alias(channel.company_id, m.phone, m.alias)
    if m.phone:
        # Hot path: contact and open conversation in one statement.
        conv = await sql.fetchrow(
            """WITH ct AS (
                   INSERT INTO contact (company_id, phone, name, profile_name) VALUES ($1, $5, $6, $6)
                   ON CONFLICT (company_id, phone) DO UPDATE SET """
            + _PROFILE_NAME
            + """
                   RETURNING id)
               INSERT INTO conversation (company_id, channel_id, contact_id, department_id, last_inbound_at)
               SELECT $1, $2, ct.id, $3, CASE WHEN $4 THEN now() END FROM ct
               ON CONFLICT (channel_id, contact_id) WHERE status <> 'resolved' DO UPDATE
               SET last_message_at = now(),
                   last_inbound_at = CASE WHEN $4 THEN now() ELSE conversation.last_inbound_at END,
                   awaiting_agent_since = CASE WHEN $4 AND conversation.status = 'assigned'
                                               THEN coalesce(conversation.awaiting_agent_since, now())
                                               ELSE conversation.awaiting_agent_since END
               RETURNING id, contact_id, (xmax = 0) AS created""",
            channel.company_id,
            channel.id,
            channel.default_department_id,
            not m.outbound,
            m.phone,
            m.name[:200],
        )
        if m.alias:
            await _contact_id(channel.company_id, m.phone, m.alias, m.name)
    else:
        contact_id = await _contact_id(channel.company_id, m.phone, m.alias, m.name)
        conv = await sql.fetchrow(
            """INSERT INTO conversation (company_id, channel_id, contact_id, department_id, last_inbound_at)
               VALUES ($1, $2, $3, $4, CASE WHEN $5 THEN now() END)
               ON CONFLICT (channel_id, contact_id) WHERE status <> 'resolved' DO UPDATE
               SET last_message_at = now(),
                   last_inbound_at = CASE WHEN $5 THEN now() ELSE conversation.last_inbound_at END,
                   awaiting_agent_since = CASE WHEN $5 AND conversation.status = 'assigned'
                                               THEN coalesce(conversation.awaiting_agent_since, now())
                                               ELSE conversation.awaiting_agent_since END
               RETURNING id, contact_id, (xmax = 0) AS created""",
            channel.company_id,
            channel.id,
            contact_id,
            channel.default_department_id,
            not m.outbound,
        )
    if m.outbound and await _adopt_echo(channel, conv["id"], m):
        return True
    if conv["created"]:
        await emit(ConversationOpened(channel.company_id, conv["id"], channel.id))
    # The insert and its event in one round trip (the NOTIFY leaves at commit, like emit()).
    message_id = await sql.fetchval(
        """WITH m AS (
               INSERT INTO message (company_id, channel_id, conversation_id, direction, author, type, text, data,
                                    reply_to, provider_message_id, status, sent_at, created_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, CASE WHEN $12 THEN now() END,
                       coalesce($15::timestamptz, now()))
               ON CONFLICT (channel_id, provider_message_id) DO NOTHING RETURNING id)
           SELECT m.id FROM m, pg_notify($13, json_build_object('name', $14::text, 'company_id', $1::int,
                                                                'conversation_id', $3::int, 'message_id', m.id)::text)""",
        channel.company_id,
        channel.id,
        conv["id"],
        "out" if m.outbound else "in",
        "agent" if m.outbound else "customer",
        m.type,
        m.text,
        json.dumps(_data(m)),
        m.reply_to[:200],
        m.provider_message_id,
        "sent" if m.outbound else "received",
        m.outbound,
        CHANNEL,
        MessageReceived.name,
        _recovered_at(m),
    )
    if message_id is None:
        return False
    if m.outbound:
        await _drain_pending(channel, m.provider_message_id)
    if m.type == "reaction":
        # One reaction per author and message: a new one (or an empty one: taken back) replaces it.
        await sql.execute(
            """UPDATE message SET data = data || '{"superseded": true}'::jsonb
               WHERE conversation_id = $1 AND type = 'reaction' AND direction = $2 AND id < $3
                 AND data->>'reaction_to' = $4 AND NOT data ? 'superseded'""",
            conv["id"],
            "out" if m.outbound else "in",
            message_id,
            m.reaction_to,
        )
    return True


def _recovered_at(m: InboundMessage) -> datetime | None:
    """A recovered message (backfill) keeps the provider's time, so it sits where it was written."""
    if not m.recovered or not m.timestamp or m.timestamp <= 0:
        return None
    ts = m.timestamp / 1000 if m.timestamp > 1e11 else m.timestamp  # milliseconds or seconds
    when = datetime.fromtimestamp(ts, UTC)
    return min(when, datetime.now(UTC))


async def _adopt_echo(channel: ChannelInfo, conversation_id: int, m: InboundMessage) -> bool:
    """The provider's echo of a message we sent whose outcome we did not learn (the process died
    mid-send, or the provider's answer was lost): it becomes that message's provider id and
    ``sent`` status rather than a second row; the message is never sent again."""
    row = await sql.fetchrow(
        """UPDATE message SET provider_message_id = $3, status = 'sent', sent_at = coalesce(sent_at, now()),
                              send_started_at = NULL, error_code = '', error_reason = ''
           WHERE id = (SELECT id FROM message
                       WHERE conversation_id = $1 AND channel_id = $2 AND direction = 'out' AND provider_message_id IS NULL
                         AND text = $4 AND (send_started_at IS NOT NULL AND status = 'pending'
                                            OR status = 'failed' AND error_code = 'unknown')
                       ORDER BY id LIMIT 1 FOR UPDATE)
           RETURNING id""",
        conversation_id,
        channel.id,
        m.provider_message_id,
        m.text,
    )
    if row is None:
        return False
    await emit(MessageStatusChanged(channel.company_id, conversation_id, row["id"], "sent"))
    await _drain_pending(channel, m.provider_message_id)
    return True


async def _drain_pending(channel: ChannelInfo, provider_message_id: str) -> None:
    """Apply statuses that arrived before the message (or before we knew its provider id)."""
    rows = await sql.fetch(
        """DELETE FROM pending_status WHERE channel_id = $1 AND provider_message_id = $2
           RETURNING status, error_code, error_reason""",
        channel.id,
        provider_message_id,
    )
    for r in sorted(rows, key=lambda r: STATUS_RANK.get(r["status"], -1)):
        await sql.fetchval(
            _STATUS_ONE,
            *_status_args(channel, StatusUpdate(provider_message_id, r["status"], r["error_code"], r["error_reason"])),
        )


PENDING_STATUS_TTL = timedelta(days=7)


async def expire_pending_statuses(max_age: timedelta = PENDING_STATUS_TTL) -> int:
    """Forget statuses whose message never came (e.g. sent from another tool); the count removed."""
    done = await sql.execute("DELETE FROM pending_status WHERE received_at < now() - $1::interval", max_age)
    return int(done.split()[-1])


async def _apply_status(channel: ChannelInfo, s: StatusUpdate, result: IngestResult) -> None:
    await _lock(channel.id, _nul(s.provider_message_id))
    _count_status(await sql.fetchval(_STATUS_ONE, *_status_args(channel, s)), result)


def _count_status(outcome: str, result: IngestResult) -> None:
    if outcome == "applied":
        result.statuses += 1
    elif outcome == "early":
        result.early_statuses += 1


def _status_args(channel: ChannelInfo, s: StatusUpdate) -> tuple:
    return (
        channel.company_id,
        channel.id,
        _nul(s.provider_message_id),
        s.status,
        _nul(s.error_code)[:32],
        _nul(s.error_reason),
        CHANNEL,
        MessageStatusChanged.name,
    )


# One status, after its (channel, provider id) lock, in one statement: it moves the message
# forward (and queues MessageStatusChanged), or waits in pending_status for a message we do not
# have yet (or whose provider id we do not know yet), or is stale: statuses never move
# backwards. The lock is a statement of its own, before this one, so that this one's snapshot
# follows it (a message and its status racing in two requests cannot miss each other).
_STATUS_ONE = """
WITH up AS (
    UPDATE message SET status = $4, error_code = $5, error_reason = $6
    WHERE channel_id = $2 AND provider_message_id = $3 AND direction = 'out'
      AND sb_status_rank(status) < sb_status_rank($4)
    RETURNING id, conversation_id
), early AS (
    INSERT INTO pending_status (company_id, channel_id, provider_message_id, status, error_code, error_reason)
    SELECT $1, $2, $3, $4, $5, $6
    WHERE NOT EXISTS (SELECT 1 FROM message WHERE channel_id = $2 AND provider_message_id = $3)
    ON CONFLICT (channel_id, provider_message_id) DO UPDATE
    SET status = excluded.status, error_code = excluded.error_code, error_reason = excluded.error_reason,
        received_at = now()
    WHERE sb_status_rank(pending_status.status) < sb_status_rank(excluded.status)
    RETURNING 1
)
SELECT CASE WHEN EXISTS (SELECT 1 FROM up) THEN 'applied' WHEN EXISTS (SELECT 1 FROM early) THEN 'early' ELSE 'stale' END,
       (SELECT pg_notify($7, json_build_object('name', $8::text, 'company_id', $1::int, 'conversation_id', up.conversation_id,
                                               'message_id', up.id, 'status', $4::text)::text) FROM up)
"""


# The common webhook (one customer message with a phone number) in one statement, hence one
# round trip and its own implicit transaction: skip a duplicate, upsert the contact and the open
# conversation, insert the message, and queue ConversationOpened (when the conversation is new)
# then MessageReceived; NOTIFY delivers both at commit, in that order. Same rows and events as
# ``_store``; PostgreSQL runs all data-modifying CTEs even when the final SELECT ignores them.
_INBOUND_ONE = (
    """
WITH dup AS (
    SELECT 1 FROM message WHERE channel_id = $2 AND provider_message_id = $7
), ct AS (
    INSERT INTO contact (company_id, phone, name, profile_name)
    SELECT $1, $4, $5, $5 WHERE NOT EXISTS (SELECT 1 FROM dup)
    ON CONFLICT (company_id, phone) DO UPDATE SET """
    + _PROFILE_NAME
    + """
    RETURNING id
), cv AS (
    INSERT INTO conversation (company_id, channel_id, contact_id, department_id, last_inbound_at)
    SELECT $1, $2, ct.id, $3, now() FROM ct
    ON CONFLICT (channel_id, contact_id) WHERE status <> 'resolved' DO UPDATE
    SET last_message_at = now(), last_inbound_at = now(),
        awaiting_agent_since = CASE WHEN conversation.status = 'assigned'
                                    THEN coalesce(conversation.awaiting_agent_since, now())
                                    ELSE conversation.awaiting_agent_since END
    RETURNING id, (xmax = 0) AS created
), m AS (
    INSERT INTO message (company_id, channel_id, conversation_id, direction, author, type, text, data,
                         reply_to, provider_message_id, status)
    SELECT $1, $2, cv.id, 'in', 'customer', $6, $8, $9::jsonb, $10, $7, 'received' FROM cv
    ON CONFLICT (channel_id, provider_message_id) DO NOTHING
    RETURNING id, conversation_id
)
SELECT m.id,
       CASE WHEN cv.created THEN pg_notify($11, json_build_object(
           'name', $12::text, 'company_id', $1::int, 'conversation_id', cv.id, 'channel_id', $2::int)::text) END,
       pg_notify($11, json_build_object(
           'name', $13::text, 'company_id', $1::int, 'conversation_id', m.conversation_id, 'message_id', m.id)::text)
FROM m JOIN cv ON cv.id = m.conversation_id
"""
)

# Concurrent webhooks share a transaction and its commit (see app.domain.group_commit); one
# instance per kind, since a batch is sorted by one kind of lock key.
INBOUND = GroupCommit()
STATUSES = GroupCommit()


def _single_inbound(parsed: Parsed) -> InboundMessage | None:
    """The one inbound message of a webhook the one-statement path can store, else None."""
    if len(parsed.messages) != 1 or parsed.statuses:
        return None
    m = parsed.messages[0]
    if m.outbound or not m.phone or m.alias or m.type == "reaction" or m.recovered:
        return None
    return m


async def receive_webhook(channel: ChannelInfo, parsed: Parsed) -> IngestResult:
    """Store everything a verified webhook carries, in one transaction (the caller answers 200
    only after it returns, i.e. after commit)."""
    result = IngestResult(ignored=len(parsed.ignored))
    one = _single_inbound(parsed)
    if one is not None:
        m = one
        phone = _nul(m.phone)
        stored = await INBOUND.run(
            # The rows it locks, in order: the contact (company, phone), then its conversation
            # on this channel (see app.domain.group_commit: no deadlocks between batches).
            (channel.company_id, phone, channel.id),
            (
                _INBOUND_ONE,
                (
                    channel.company_id,
                    channel.id,
                    channel.default_department_id,
                    phone,
                    _nul(m.name)[:200],
                    m.type,
                    _nul(m.provider_message_id),
                    _nul(m.text),
                    json.dumps(_data(m)),
                    _nul(m.reply_to)[:200],
                    CHANNEL,
                    ConversationOpened.name,
                    MessageReceived.name,
                ),
            ),
        )
        if stored is None:
            result.duplicates += 1
        else:
            result.stored += 1
        return result
    if len(parsed.statuses) == 1 and not parsed.messages:
        s = parsed.statuses[0]
        pid = _nul(s.provider_message_id)
        outcome = await STATUSES.run(
            # The lock and the row it takes: (channel, provider id), one of each.
            (channel.id, pid),
            (_LOCK, (channel.id, pid)),
            (_STATUS_ONE, _status_args(channel, s)),
        )
        _count_status(outcome, result)
        return result
    async with sql.transaction():
        for m in parsed.messages:
            if not m.phone and not m.alias:  # never a contact nobody can write to
                result.ignored += 1
            elif await _store(channel, m):
                result.stored += 1
            else:
                result.duplicates += 1
        for s in parsed.statuses:
            await _apply_status(channel, s, result)
    return result


async def resolve_alias_contacts(client, limit: int = 5) -> int:
    """Ask providers for the phone behind aliases of contacts that have none (WAHA's lids API),
    at most once an hour per alias; a phone found joins the alias's contact to it. Run by the
    sender worker, never in a webhook (which must not wait on the provider). Returns how many
    aliases were looked up."""
    from app.domain.channels import get_channel_for_webhook

    rows = await sql.fetch(
        """UPDATE contact_alias a SET checked_at = now()
           FROM (SELECT a.id, (SELECT c.channel_id FROM conversation c WHERE c.contact_id = ct.id
                               ORDER BY c.id DESC LIMIT 1) AS channel_id
                 FROM contact_alias a JOIN contact ct ON ct.id = a.contact_id
                 WHERE ct.phone IS NULL AND ct.deleted_at IS NULL
                   AND (a.checked_at IS NULL OR a.checked_at < now() - interval '1 hour')
                 ORDER BY a.id LIMIT $1 FOR UPDATE OF a SKIP LOCKED) due
           WHERE a.id = due.id AND due.channel_id IS NOT NULL
           RETURNING a.company_id, a.alias, due.channel_id""",
        limit,
    )
    for r in rows:
        channel = await get_channel_for_webhook(r["channel_id"])
        if channel is None or channel.company_id != r["company_id"]:
            continue
        phone = await channel.impl.resolve_alias(client, channel.credentials, r["alias"])
        if phone:
            async with sql.transaction():
                await _adopt_alias(r["company_id"], phone, r["alias"])
    return len(rows)


async def attach_provider_id(channel: ChannelInfo, message_id: int, provider_message_id: str, status: str) -> None:
    """The sender got the provider's id for our message: record it and apply early statuses.

    If the provider's echo of this very message was stored first (it raced the send response),
    the echo row is dropped: ours carries the author and the history."""
    async with sql.transaction():
        await _lock(channel.id, provider_message_id)
        await sql.execute(
            "DELETE FROM message WHERE channel_id = $1 AND provider_message_id = $2 AND id <> $3 AND direction = 'out'",
            channel.id,
            provider_message_id,
            message_id,
        )
        row = await sql.fetchrow(
            """UPDATE message SET provider_message_id = $2, status = $3, sent_at = now(), error_code = '', error_reason = '',
                                  send_started_at = NULL
               WHERE id = $1 AND status = 'pending' RETURNING conversation_id""",
            message_id,
            provider_message_id,
            status,
        )
        if row is None:
            return
        await emit(MessageStatusChanged(channel.company_id, row["conversation_id"], message_id, status))
        await _drain_pending(channel, provider_message_id)


# Outbound -----------------------------------------------------------------------------------


def window_open(last_inbound_at: datetime | None, now: datetime | None = None) -> bool:
    """The 24-hour customer service window (Meta, Twilio): free text only within 24 h of the
    customer's last message; outside it only an approved template may be sent."""
    if last_inbound_at is None:
        return False
    return (now or datetime.now(UTC)) - last_inbound_at < WINDOW


def _template(provider: str, data: dict, c_errors: dict) -> dict | None:
    if provider == "meta" and (data.get("template_name") or "").strip():
        params = [p.strip() for p in str(data.get("template_params") or "").split("\n") if p.strip()]
        return {
            "name": data["template_name"].strip()[:512],
            "language": (data.get("template_language") or "en_US").strip()[:16],
            "params": params,
        }
    if provider == "twilio" and (data.get("content_sid") or "").strip():
        sid = data["content_sid"].strip()
        if not (sid.startswith("HX") and len(sid) == 34):
            c_errors["content_sid"] = N_("A Content SID looks like HX followed by 32 characters.")
        variables: dict = {}
        raw = (data.get("content_variables") or "").strip()
        if raw:
            try:
                variables = json.loads(raw)
                if not isinstance(variables, dict):
                    raise ValueError
            except ValueError:
                c_errors["content_variables"] = 'Use JSON such as {"1": "12/1"}.'
        return {"content_sid": sid, "variables": {str(k): str(v) for k, v in variables.items()}}
    return None


async def queue_message(
    company_id: int,
    conversation_id: int,
    data: dict,
    *,
    user_id: int | None,
    author: str = "agent",
    media: dict | None = None,
) -> int:
    """Store an outbound message ``pending`` (the outbox). Checks the provider's text limit and,
    for Meta and Twilio, the 24-hour window (outside it a template is required)."""
    from app.domain.conversations import get_conversation  # the conversation module builds on this one

    conv = await get_conversation(company_id, conversation_id)
    channel = await get_channel(company_id, conv["channel_id"])
    errors: dict[str, str] = {}
    text = str(data.get("text") or "").replace("\x00", "").strip()
    template = _template(channel.provider, data, errors)
    if conv["status"] == "resolved":
        errors["text"] = N_("This conversation is resolved: the customer's next message opens a new one.")
    if not channel.active:
        errors["text"] = N_("This channel is disabled.")
    if template is None:
        if not text and not media:
            errors.setdefault("text", N_("Write a message."))
        elif len(text) > channel.impl.text_limit:
            errors.setdefault("text", f"{channel.impl.label} accepts at most {channel.impl.text_limit} characters.")
        if channel.impl.has_window and not window_open(conv["last_inbound_at"]):
            errors.setdefault(
                "text", N_("More than 24 hours since the customer last wrote: send an approved template instead.")
            )
    if errors:
        raise ValidationError(errors)
    kind = "template" if template else (media or {}).get("type", "text")
    payload: dict = {}
    if template:
        payload["template"] = template
        text = text or template.get("name") or template.get("content_sid", "")
    if media:
        payload["media"] = {k: v for k, v in media.items() if k != "type"}
    async with sql.transaction():
        message_id = await sql.fetchval(
            """INSERT INTO message (company_id, channel_id, conversation_id, direction, author, author_user_id,
                                    type, text, data, reply_to, status)
               VALUES ($1, $2, $3, 'out', $4, $5, $6, $7, $8::jsonb, $9, 'pending') RETURNING id""",
            company_id,
            channel.id,
            conversation_id,
            author,
            user_id,
            kind,
            text,
            json.dumps(payload),
            str(data.get("reply_to") or "")[:200],
        )
        await sql.execute("UPDATE conversation SET last_message_at = now() WHERE id = $1", conversation_id)
        await emit(MessageQueued(company_id, conversation_id, message_id))
    return message_id


async def resend_message(company_id: int, message_id: int) -> None:
    """Queue a failed outbound message again (the agent's "resend" button)."""
    msg = await get_message(company_id, message_id)
    if msg["direction"] != "out" or msg["status"] != "failed":
        raise ValidationError({"message": N_("Only a failed message can be sent again.")})
    async with sql.transaction():
        await sql.execute(
            """UPDATE message SET status = 'pending', attempts = 0, next_attempt_at = now(), error_code = '',
                                  error_reason = '', provider_message_id = NULL, send_started_at = NULL
               WHERE company_id = $1 AND id = $2 AND status = 'failed'""",
            company_id,
            message_id,
        )
        await emit(MessageStatusChanged(company_id, msg["conversation_id"], message_id, "pending"))


# Reads --------------------------------------------------------------------------------------


def _decode(row: asyncpg.Record) -> dict:
    item = dict(row)
    if isinstance(item.get("data"), str):
        item["data"] = json.loads(item["data"])
    return item


async def get_message(company_id: int, message_id: int) -> dict:
    if not 0 < message_id < 2**63:
        raise NotFound(N_("No such message."))
    row = await sql.fetchrow("SELECT * FROM message WHERE company_id = $1 AND id = $2", company_id, message_id)
    if row is None:
        raise NotFound(N_("No such message."))
    return _decode(row)


async def get_messages(company_id: int, message_ids: list[int]) -> dict[int, dict]:
    """Several messages of one company by id, in one query (ids of other companies are skipped)."""
    ids = sorted({i for i in message_ids if 0 < i < 2**63})
    if not ids:
        return {}
    rows = await sql.fetch("SELECT * FROM message WHERE company_id = $1 AND id = ANY($2::bigint[])", company_id, ids)
    return {r["id"]: _decode(r) for r in rows}
