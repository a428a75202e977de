"""@mentions in internal notes.

Writing ``@Bruno Costa`` (or ``@Bruno`` when only one colleague is called Bruno) in a note
mentions that colleague: one ``mention`` row, stored in the note's transaction, and a
``MentionAdded`` event that alerts them live on any page (``app.web.alerts``) and counts in
their inbox's *Mentions* tab, which lists them even for conversations they cannot otherwise
open (read-only there, unless they take the conversation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import asyncpg
from piccolo.columns import BigInt, Integer, Timestamptz
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.domain import sql
from app.domain.errors import NotFound
from app.domain.events import Event, emit
from app.domain.notes import add_note
from app.i18n import N_

MAX_PER_NOTE = 20


class Mention(Table, tablename="mention"):
    """A colleague named in a note (unique per note and person)."""

    id = BigInt(primary_key=True)
    company_id = Integer()
    note_id = BigInt()
    conversation_id = Integer()
    user_id = Integer()
    author_user_id = Integer(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    read_at = Timestamptz(null=True, default=None)


@dataclass(frozen=True)
class MentionAdded(Event):
    """A colleague was mentioned in a note (their alert and their Mentions tab)."""

    name: ClassVar[str] = "mention-added"
    mention_id: int
    user_id: int
    conversation_id: int


def find_mentions(text: str, people: list[tuple[int, str]]) -> list[int]:
    """Ids of the people named after an ``@`` in ``text``: the longest full name that follows,
    else a first name that only one person has. Case and accents as written are compared
    case-insensitively; a name must end at a word boundary."""
    folded = text.casefold()
    names = sorted(
        ((name.casefold().strip(), uid) for uid, name in people if name.strip()),
        key=lambda p: -len(p[0]),
    )
    firsts: dict[str, list[int]] = {}
    for name, uid in names:
        firsts.setdefault(name.split()[0], []).append(uid)
    found: list[int] = []

    def ends_word(at: int) -> bool:
        return at >= len(folded) or not (folded[at].isalnum() or folded[at] == "_")

    start = folded.find("@")
    while start >= 0 and len(found) < MAX_PER_NOTE:
        rest = folded[start + 1 :]
        match = next(
            (uid for name, uid in names if rest.startswith(name) and ends_word(start + 1 + len(name))),
            None,
        )
        if match is None:
            word = "".join(ch for ch in rest.split(" ", 1)[0] if ch.isalnum() or ch in "-'_")
            owners = firsts.get(word, [])
            if word and len(owners) == 1 and ends_word(start + 1 + len(word)):
                match = owners[0]
        if match is not None and match not in found:
            found.append(match)
        start = folded.find("@", start + 1)
    return found


async def add_note_with_mentions(company_id: int, conversation_id: int, author_user_id: int, data: dict) -> int:
    """``app.domain.notes.add_note`` and, in the same transaction, its mentions."""
    async with sql.transaction():
        note_id = await add_note(company_id, conversation_id, author_user_id, data)
        text = await sql.fetchval("SELECT text FROM conversation_note WHERE id = $1", note_id)
        if "@" not in text:
            return note_id
        people = await sql.fetch(
            "SELECT id, name FROM app_user WHERE company_id = $1 AND active AND id <> $2",
            company_id,
            author_user_id,
        )
        for user_id in find_mentions(text, [(p["id"], p["name"]) for p in people]):
            mention_id = await sql.fetchval(
                """INSERT INTO mention (company_id, note_id, conversation_id, user_id, author_user_id)
                   VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING id""",
                company_id,
                note_id,
                conversation_id,
                user_id,
                author_user_id,
            )
            if mention_id:
                await emit(MentionAdded(company_id, mention_id, user_id, conversation_id))
    return note_id


MENTION_SQL = """
SELECT m.id, m.conversation_id, m.created_at, m.read_at, n.text, a.name AS author_name,
       coalesce(nullif(ct.name, ''), ct.phone, '') AS customer, c.status, c.assigned_user_id, c.department_id,
       d.name AS department_name
FROM mention m JOIN conversation_note n ON n.id = m.note_id JOIN conversation c ON c.id = m.conversation_id
JOIN contact ct ON ct.id = c.contact_id LEFT JOIN app_user a ON a.id = m.author_user_id
LEFT JOIN department d ON d.id = c.department_id
"""


async def list_mentions(company_id: int, user_id: int, limit: int = 50) -> list[asyncpg.Record]:
    return await sql.fetch(
        MENTION_SQL + " WHERE m.company_id = $1 AND m.user_id = $2 ORDER BY m.id DESC LIMIT $3",
        company_id,
        user_id,
        limit,
    )


async def get_mention(company_id: int, user_id: int, mention_id: int) -> asyncpg.Record:
    row = None
    if 0 < mention_id < 2**62:
        row = await sql.fetchrow(
            MENTION_SQL + " WHERE m.company_id = $1 AND m.user_id = $2 AND m.id = $3",
            company_id,
            user_id,
            mention_id,
        )
    if row is None:
        raise NotFound(N_("No such mention."))
    return row


async def unread_mentions(company_id: int, user_id: int) -> int:
    return await sql.fetchval(
        "SELECT count(*) FROM mention WHERE company_id = $1 AND user_id = $2 AND read_at IS NULL",
        company_id,
        user_id,
    )


async def mark_mention_read(company_id: int, user_id: int, mention_id: int) -> None:
    await sql.execute(
        "UPDATE mention SET read_at = now() WHERE company_id = $1 AND user_id = $2 AND id = $3 AND read_at IS NULL",
        company_id,
        user_id,
        mention_id,
    )
