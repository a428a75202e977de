"""The bot: the first minutes of a conversation, before a department has it (seeds 002, 003).

A new conversation of a channel with a default department goes straight to that queue. Else
the bot asks: a returning customer whether to continue with their last department (yes /
no, in English, French or Portuguese), anyone else the numbered menu of the company's
departments (those with a menu position). A valid answer queues the conversation there; an
invalid one re-asks. Only customer messages written after the question count as answers.
An agent may take a conversation from the bot at any time.

Out of hours (``tell_if_closed``): when a customer writes while the company (or the
conversation's department) is closed, the out-of-hours message goes out once per closed
period, then the flow goes on as usual: the menu is asked, the conversation queues, and an
agent who happens to be online may still take it; otherwise it waits in line for the opening.
The yes/no answer is recognised in the customer's language first, then in the others.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime, timezone

from app.dispatch.assignment import queue_conversation, send_auto_message
from app.dispatch.reads import message_context
from app.domain import sql
from app.domain.auto_messages import customer_language, format_opening
from app.domain.business_hours import SCHEDULES

# Yes / no per customer language (folded: lower case, no accents).
YES_WORDS = {
    "en": {"yes", "y", "yeah", "yep", "ok", "okay", "sure", "1"},
    "fr": {"oui", "o", "ouais", "ok", "d'accord", "daccord", "1"},
    "pt_BR": {"sim", "s", "claro", "ok", "pode ser", "1"},
}
NO_WORDS = {
    "en": {"no", "n", "nope", "2"},
    "fr": {"non", "n", "2"},
    "pt_BR": {"nao", "n", "2"},
}
YES = set().union(*YES_WORDS.values()) | {"si"}
NO = set().union(*NO_WORDS.values())
# How long a previous conversation's department is offered again.
RETURNING_DAYS = 30
# A returning customer who does not answer the yes/no question gets the menu after this.
RETURNING_TIMEOUT_SECONDS = 300


def _fold(text: str) -> str:
    """Lower case, no accents, no punctuation around: "Não!" -> "nao"."""
    text = unicodedata.normalize("NFKD", text.strip().lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return text.strip(" .!?,;:'\"()")


def yes_or_no(answer: str, language: str) -> bool | None:
    """True / False for a yes / no in the customer's language (else in any we know), None otherwise."""
    folded = _fold(answer)
    if folded in YES_WORDS.get(language, set()):
        return True
    if folded in NO_WORDS.get(language, set()):
        return False
    if folded in YES:
        return True
    if folded in NO:
        return False
    return None


async def tell_if_closed(company_id: int, conversation_id: int, now: datetime | None = None, conv=None) -> bool:
    """Send the out-of-hours message if the company (or the conversation's department) is
    closed now and this conversation was not told so during the current closed period.
    Only conversations still waiting (bot, queued) are told: an agent holding one is answering.
    ``conv`` (status, department_id, out_of_hours_sent_at), when the caller has just read them."""
    if conv is None:
        conv = await sql.fetchrow(
            "SELECT status, department_id, out_of_hours_sent_at FROM conversation WHERE company_id = $1 AND id = $2",
            company_id, conversation_id,
        )
    if conv is None or conv["status"] not in ("bot", "queued"):
        return False
    schedule = await SCHEDULES.get(company_id, conv["department_id"])
    now = now or datetime.now(timezone.utc)
    if schedule.is_open(now):
        return False
    sent = conv["out_of_hours_sent_at"]
    if sent is not None and schedule.business_seconds(sent, now) == 0:
        return False  # already told during this closed period
    claimed = await sql.fetchval(
        """UPDATE conversation SET out_of_hours_sent_at = $4
           WHERE company_id = $1 AND id = $2 AND out_of_hours_sent_at IS NOT DISTINCT FROM $3 RETURNING id""",
        company_id, conversation_id, sent, now,
    )
    if claimed is None:
        return False  # another process told them a moment ago
    company = await sql.fetchrow("SELECT name, timezone FROM company WHERE id = $1", company_id)
    language = await customer_language(company_id, conversation_id)
    opens = format_opening(schedule.next_opening(now), language, company["timezone"])
    await send_auto_message(company_id, conversation_id, "out_of_hours", company=company["name"], opens=opens)
    return True


async def _menu(company_id: int) -> list:
    return await sql.fetch(
        "SELECT id, name, menu_position FROM department WHERE company_id = $1 AND menu_position > 0 ORDER BY menu_position, name",
        company_id,
    )


def _menu_text(menu: list) -> str:
    return "\n".join(f"{d['menu_position']}. {d['name']}" for d in menu)


def choose_department(answer: str, menu: list) -> int | None:
    """The department a menu answer names: its number, or its name."""
    folded = _fold(answer)
    for d in menu:
        if folded == str(d["menu_position"]) or folded == _fold(d["name"]):
            return d["id"]
    return None


async def _ask(company_id: int, conversation_id: int, state: str, kind: str, **values: object) -> None:
    await sql.execute(
        "UPDATE conversation SET bot_state = $3, bot_asked_at = now() WHERE company_id = $1 AND id = $2",
        company_id,
        conversation_id,
        state,
    )
    await send_auto_message(company_id, conversation_id, kind, **values)


async def start(company_id: int, conversation_id: int) -> None:
    """A conversation just opened with the bot."""
    conv = await sql.fetchrow(
        "SELECT status, department_id, contact_id, bot_state FROM conversation WHERE company_id = $1 AND id = $2",
        company_id,
        conversation_id,
    )
    if conv is None or conv["status"] != "bot" or conv["bot_state"]:
        return
    if conv["department_id"]:
        await queue_conversation(company_id, conversation_id, conv["department_id"])
        await tell_if_closed(company_id, conversation_id)  # unless an agent took it at once
        return
    await tell_if_closed(company_id, conversation_id)
    last = await sql.fetchrow(
        """SELECT d.id, d.name FROM conversation p JOIN department d ON d.id = p.department_id
           WHERE p.company_id = $1 AND p.contact_id = $2 AND p.id <> $3 AND p.status = 'resolved'
             AND p.resolved_at > now() - make_interval(days => $4)
           ORDER BY p.resolved_at DESC LIMIT 1""",
        company_id,
        conv["contact_id"],
        conversation_id,
        RETURNING_DAYS,
    )
    if last is not None:
        await _ask(company_id, conversation_id, "returning", "returning", department=last["name"])
        return
    await _send_menu(company_id, conversation_id, "welcome")


async def _send_menu(company_id: int, conversation_id: int, kind: str) -> None:
    menu = await _menu(company_id)
    if not menu:
        return  # no menu configured: the conversation waits for an agent to take it
    company = await sql.fetchval("SELECT name FROM company WHERE id = $1", company_id)
    await _ask(company_id, conversation_id, "menu", kind, company=company, menu=_menu_text(menu))


async def answer(company_id: int, conversation_id: int, message_id: int, row=None) -> None:
    """A customer message arrived in a conversation the bot holds. ``row``: the message's
    context (``app.dispatch.reads.message_context``) when the caller has just read it."""
    if row is None:
        row = await message_context(company_id, conversation_id, message_id)
    if row is not None and row["direction"] == "in":
        await tell_if_closed(company_id, conversation_id, conv=row)
    if row is None or row["status"] != "bot" or not row["bot_state"] or row["direction"] != "in":
        return
    if row["bot_asked_at"] is None or row["created_at"] <= row["bot_asked_at"]:
        return  # written before the question: not an answer
    if row["bot_state"] == "returning":
        if yes_or_no(row["text"], await customer_language(company_id, conversation_id)):
            last = await sql.fetchval(
                """SELECT department_id FROM conversation WHERE company_id = $1 AND contact_id = $2 AND id <> $3
                     AND status = 'resolved' AND department_id IS NOT NULL ORDER BY resolved_at DESC LIMIT 1""",
                company_id,
                row["contact_id"],
                conversation_id,
            )
            if last:
                await queue_conversation(company_id, conversation_id, last)
                return
        await _send_menu(company_id, conversation_id, "welcome")
        return
    menu = await _menu(company_id)
    department_id = choose_department(row["text"], menu)
    if department_id is None:
        await _send_menu(company_id, conversation_id, "invalid")
        return
    await queue_conversation(company_id, conversation_id, department_id)


# How long a new conversation's opening is left to the live path (its ConversationOpened event)
# before the sweep takes it for missed.
MISSED_START_SECONDS = 10


async def start_missed(grace_seconds: int = MISSED_START_SECONDS) -> list[int]:
    """Conversations opened with a department that the bot never started: their opening event
    died with a dispatcher leader killed while holding it (events are not replayed). Queued now,
    as ``start`` would have (tests/dispatch/test_missed_start.py, bench_failover.py)."""
    rows = await sql.fetch(
        """SELECT company_id, id FROM conversation
           WHERE status = 'bot' AND bot_state = '' AND department_id IS NOT NULL
             AND created_at < now() - make_interval(secs => $1)
           ORDER BY id LIMIT 500""",
        float(grace_seconds),
    )
    for row in rows:
        await start(row["company_id"], row["id"])
    return [r["id"] for r in rows]


async def expire_returning_questions(timeout_seconds: int = RETURNING_TIMEOUT_SECONDS) -> list[int]:
    """Returning customers silent since the yes/no question get the department menu."""
    rows = await sql.fetch(
        """SELECT company_id, id FROM conversation
           WHERE status = 'bot' AND bot_state = 'returning'
             AND bot_asked_at < now() - make_interval(secs => $1)""",
        float(timeout_seconds),
    )
    for row in rows:
        await _send_menu(row["company_id"], row["id"], "welcome")
    return [r["id"] for r in rows]
