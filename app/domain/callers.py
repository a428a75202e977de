"""Who is calling: a caller's number matched to a contact, and a contact's calls (issue 17).

Caller IDs arrive as the PBX and the operator write them: ``+33612345678``, ``0033612345678``,
``33612345678`` or the national ``0612345678``. Contacts are stored in E.164. A number with a
country code is matched exactly; a national one (leading 0, no country) by its significant
digits at the end of a contact's number. The other way, a contact's calls are the CDRs whose
``src`` or ``dst`` is one of the number's usual spellings (``variants``), which the CDR
prefix indexes answer.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

import phonenumbers

from app.domain import sql

_NON_DIGITS = re.compile(r"\D")
MIN_TAIL = 8  # significant digits needed to match a national number to a contact


def variants(e164: str) -> list[str]:
    """The spellings a PBX may use for an E.164 number (international, 00, bare, national)."""
    if not e164 or not e164.startswith("+"):
        return [e164] if e164 else []
    digits = e164[1:]
    out = [e164, digits, "00" + digits]
    try:
        national = phonenumbers.format_number(phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.NATIONAL)
        out.append(_NON_DIGITS.sub("", national))
    except phonenumbers.NumberParseException:
        pass
    return list(dict.fromkeys(v for v in out if v))


def e164_of(number: str) -> str | None:
    """A caller ID in E.164 when it carries its country (``+33…``, ``0033…``, ``33…``); None
    for a national number (``06…``), whose country the PBX does not say."""
    raw = (number or "").strip()
    digits = _NON_DIGITS.sub("", raw)
    if raw.startswith("+"):
        pass
    elif digits.startswith("00"):
        digits = digits[2:]
    elif digits.startswith("0"):
        return None
    return "+" + digits if 8 <= len(digits) <= 15 else None


async def find_contact(company_id: int, number: str) -> dict | None:
    """The contact a caller ID belongs to, or None."""
    raw = (number or "").strip()
    digits = _NON_DIGITS.sub("", raw)
    if len(digits) < 6:
        return None
    if raw.startswith("+") or digits.startswith("00"):
        exact = "+" + (digits[2:] if digits.startswith("00") and not raw.startswith("+") else digits)
        row = await sql.fetchrow(
            "SELECT id, name, phone FROM contact WHERE company_id = $1 AND phone = $2", company_id, exact
        )
        return dict(row) if row else None
    if not digits.startswith("0"):  # already with its country code, without the +
        row = await sql.fetchrow(
            "SELECT id, name, phone FROM contact WHERE company_id = $1 AND phone = $2", company_id, "+" + digits
        )
        if row:
            return dict(row)
    tail = digits.lstrip("0")
    if len(tail) < MIN_TAIL:
        return None
    row = await sql.fetchrow(
        """SELECT id, name, phone FROM contact WHERE company_id = $1 AND phone LIKE '%' || $2
           ORDER BY id DESC LIMIT 1""",
        company_id,
        tail,
    )
    return dict(row) if row else None


async def calls_of_number(company_id: int, e164: str, *, limit: int = 20) -> list[dict]:
    """The CDRs of calls from or to this number, newest first: direction, agent's extension,
    duration, disposition, queue (the dialplan application) and the wait before the answer."""
    spellings = variants(e164)
    if not spellings:
        return []
    rows = await sql.fetch(
        """SELECT start, answer, "end", src, dst, channel, dstchannel, lastapp, lastdata, duration, billsec,
                  disposition, uniqueid, linkedid
           FROM cdr WHERE accountcode = $1 AND (src = ANY($2::text[]) OR dst = ANY($2::text[]))
           ORDER BY start DESC LIMIT $3""",
        f"sb{company_id}",
        spellings,
        limit,
    )
    out = []
    for r in rows:
        inbound = r["src"] in spellings
        agent_channel = r["dstchannel"] if inbound else r["channel"]
        tech, _, rest = (agent_channel or "").partition("/")
        out.append(
            {
                "start": r["start"],
                "direction": "in" if inbound else "out",
                "extension": rest.rsplit("-", 1)[0] if tech in ("PJSIP", "SIP") and rest else "",
                "duration": r["duration"] or 0,
                "talk": r["billsec"] or 0,
                "wait": max((r["duration"] or 0) - (r["billsec"] or 0), 0),
                "disposition": r["disposition"] or "",
                "queue": (r["lastdata"] or "").split(",")[0] if (r["lastapp"] or "") == "Queue" else "",
                "uniqueid": r["uniqueid"],
                "linkedid": r["linkedid"],
            }
        )
    return out


async def caller_card(company_id: int, number: str) -> dict:
    """Everything the screen-pop shows about a caller (the four reads after the match run side
    by side: the pop's latency is one round trip more than the contact's match)."""
    contact = await find_contact(company_id, number)
    card: dict = {
        "number": number,
        "contact": contact,
        "open": None,
        "recent": [],
        "orders": [],
        "notes": [],
        "calls": [],
    }
    if contact is None:
        return card
    convs, orders, notes, calls = await asyncio.gather(
        sql.fetch(
            """SELECT c.id, c.status, c.last_message_at, c.assigned_user_id, u.name AS agent_name, ch.name AS channel_name
               FROM conversation c JOIN channel ch ON ch.id = c.channel_id LEFT JOIN app_user u ON u.id = c.assigned_user_id
               WHERE c.company_id = $1 AND c.contact_id = $2 ORDER BY c.last_message_at DESC LIMIT 5""",
            company_id,
            contact["id"],
        ),
        sql.fetch(
            """SELECT id, external_id, status, created_at FROM shop_order WHERE company_id = $1 AND contact_id = $2
               ORDER BY id DESC LIMIT 3""",
            company_id,
            contact["id"],
        ),
        sql.fetch(
            """SELECT n.text, n.created_at, u.name AS author FROM conversation_note n
               JOIN conversation c ON c.id = n.conversation_id LEFT JOIN app_user u ON u.id = n.author_user_id
               WHERE n.company_id = $1 AND c.contact_id = $2 ORDER BY n.created_at DESC LIMIT 3""",
            company_id,
            contact["id"],
        ),
        calls_of_number(company_id, contact["phone"], limit=5),
    )
    card["recent"] = [dict(r) for r in convs]
    card["open"] = next((dict(r) for r in convs if r["status"] != "resolved"), None)
    card["orders"] = [dict(r) for r in orders]
    card["notes"] = [dict(r) for r in notes]
    card["calls"] = calls
    return card


async def calls_in_conversation(
    company_id: int, conversation_id: int, low: datetime | None, high: datetime | None
) -> list[dict]:
    """The contact's calls during the conversation (creation to resolution), within a timeline
    page's window [low, high) (None: open-ended); ``at`` is aware UTC like the other items."""
    conv = await sql.fetchrow(
        """SELECT c.created_at, c.resolved_at, ct.phone FROM conversation c JOIN contact ct ON ct.id = c.contact_id
           WHERE c.company_id = $1 AND c.id = $2""",
        company_id,
        conversation_id,
    )
    if conv is None or not conv["phone"]:
        return []
    start = max(x for x in (conv["created_at"], low) if x is not None)
    ends = [x for x in (conv["resolved_at"], high) if x is not None]
    end = min(ends) if ends else datetime.now(UTC)
    naive = [t.astimezone(UTC).replace(tzinfo=None) for t in (start, end)]
    rows = await sql.fetch(
        """SELECT start, answer, src, dst, channel, dstchannel, lastapp, lastdata, duration, billsec, disposition, uniqueid
           FROM cdr WHERE accountcode = $1 AND (src = ANY($2::text[]) OR dst = ANY($2::text[]))
             AND start >= $3 AND start < $4 ORDER BY start LIMIT 200""",
        f"sb{company_id}",
        variants(conv["phone"]),
        *naive,
    )
    spellings = set(variants(conv["phone"]))
    out = []
    for r in rows:
        inbound = r["src"] in spellings
        agent_channel = r["dstchannel"] if inbound else r["channel"]
        tech, _, rest = (agent_channel or "").partition("/")
        out.append(
            {
                "id": 0,
                "at": r["start"].replace(tzinfo=UTC),
                "direction": "in" if inbound else "out",
                "extension": rest.rsplit("-", 1)[0] if tech in ("PJSIP", "SIP") and rest else "",
                "duration": r["duration"] or 0,
                "talk": r["billsec"] or 0,
                "wait": max((r["duration"] or 0) - (r["billsec"] or 0), 0),
                "disposition": r["disposition"] or "",
                "queue": (r["lastdata"] or "").split(",")[0] if (r["lastapp"] or "") == "Queue" else "",
                "uniqueid": r["uniqueid"],
                "number": conv["phone"],
            }
        )
    return out
