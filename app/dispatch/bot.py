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
from datetime import UTC, datetime

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
# Values of a Twilio channel's ``studio_in_front`` that put a Studio flow in front (app.web.studio).
STUDIO_ON = {"yes", "y", "on", "true", "1", "oui", "sim"}
# How long a previous conversation's department is offered again.
RETURNING_DAYS = 30
# A returning customer who does not answer the yes/no question gets the menu after the
# company's ``returning_timeout`` (seed: 2 minutes); app.dispatch.timers runs it.


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
            company_id,
            conversation_id,
        )
    if conv is None or conv["status"] not in ("bot", "queued"):
        return False
    schedule = await SCHEDULES.get(company_id, conv["department_id"])
    now = now or datetime.now(UTC)
    if schedule.is_open(now):
        return False
    sent = conv["out_of_hours_sent_at"]
    if sent is not None and schedule.business_seconds(sent, now) == 0:
        return False  # already told during this closed period
    claimed = await sql.fetchval(
        """UPDATE conversation SET out_of_hours_sent_at = $4
           WHERE company_id = $1 AND id = $2 AND out_of_hours_sent_at IS NOT DISTINCT FROM $3 RETURNING id""",
        company_id,
        conversation_id,
        sent,
        now,
    )
    if claimed is None:
        return False  # another process told them a moment ago
    company = await sql.fetchrow("SELECT name, timezone FROM company WHERE id = $1", company_id)
    language = await customer_language(company_id, conversation_id)
    opens = format_opening(schedule.next_opening(now), language, company["timezone"])
    await send_auto_message(company_id, conversation_id, "out_of_hours", company=company["name"], opens=opens)
    return True


async def _menu(company_id: int) -> list:
    """The departments offered to customers: in the menu and with at least one active member
    (a department nobody works in is never offered)."""
    return await sql.fetch(
        """SELECT d.id, d.name, d.menu_position FROM department d
           WHERE d.company_id = $1 AND d.menu_position > 0
             AND EXISTS (SELECT 1 FROM user_department ud JOIN app_user u ON u.id = ud.user_id
                         WHERE ud.department_id = d.id AND u.active)
           ORDER BY d.menu_position, d.name""",
        company_id,
    )


async def _first_department(company_id: int) -> int | None:
    """Where a customer goes when there is no menu to ask: the first staffed department."""
    return await sql.fetchval(
        """SELECT d.id FROM department d WHERE d.company_id = $1
             AND EXISTS (SELECT 1 FROM user_department ud JOIN app_user u ON u.id = ud.user_id
                         WHERE ud.department_id = d.id AND u.active)
           ORDER BY (d.menu_position > 0) DESC, d.menu_position, d.id LIMIT 1""",
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
        """SELECT c.status, c.department_id, c.contact_id, c.bot_state,
                  lower(coalesce(ch.credentials->>'studio_in_front', '')) AS studio
           FROM conversation c JOIN channel ch ON ch.id = c.channel_id WHERE c.company_id = $1 AND c.id = $2""",
        company_id,
        conversation_id,
    )
    if conv is None or conv["status"] != "bot" or conv["bot_state"]:
        return
    if conv["studio"] in STUDIO_ON:
        # A Twilio Studio flow is the bot on this channel (app.web.studio): ours stays silent.
        await sql.execute(
            """UPDATE conversation SET bot_state = 'studio'
               WHERE company_id = $1 AND id = $2 AND coalesce(bot_state, '') = ''""",
            company_id,
            conversation_id,
        )
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
    await send_menu(company_id, conversation_id, "welcome")


async def send_menu(company_id: int, conversation_id: int, kind: str) -> None:
    """Ask the department menu; with no menu to offer, queue to the first staffed department
    (a conversation never stays with the bot for want of a question)."""
    menu = await _menu(company_id)
    if not menu:
        first = await _first_department(company_id)
        if first is not None:
            await queue_conversation(company_id, conversation_id, first)
        else:  # no department anyone works in: nothing to route to (README, "Routing guarantees")
            await sql.execute(
                "UPDATE conversation SET bot_state = 'unrouted' WHERE company_id = $1 AND id = $2 "
                "AND status = 'bot' AND bot_state = ''",
                company_id,
                conversation_id,
            )
        return
    company = await sql.fetchval("SELECT name FROM company WHERE id = $1", company_id)
    await _ask(company_id, conversation_id, "menu", kind, company=company, menu=_menu_text(menu))


async def answer(company_id: int, conversation_id: int, message_id: int, row=None) -> None:
    """A customer message arrived in a conversation the bot holds. ``row``: the message's
    context (``app.dispatch.reads.message_context``) when the caller has just read it."""
    if row is None:
        row = await message_context(company_id, conversation_id, message_id)
    if row is not None and row["direction"] == "in" and row["bot_state"] != "studio":
        await tell_if_closed(company_id, conversation_id, conv=row)
    if row is not None and row["status"] == "bot" and not row["bot_state"] and row["direction"] == "in":
        await start(company_id, conversation_id)  # never greeted (its opening event was lost): now
        return
    if row is None or row["status"] != "bot" or not row["bot_state"] or row["direction"] != "in":
        return
    if row["bot_asked_at"] is None or row["created_at"] <= row["bot_asked_at"]:
        return  # written before the question: not an answer
    if row["bot_state"] == "returning":
        if yes_or_no(row["text"], await customer_language(company_id, conversation_id)):
            last = await sql.fetchrow(
                """SELECT department_id, assigned_user_id FROM conversation WHERE company_id = $1 AND contact_id = $2
                     AND id <> $3 AND status = 'resolved' AND department_id IS NOT NULL
                   ORDER BY resolved_at DESC LIMIT 1""",
                company_id,
                row["contact_id"],
                conversation_id,
            )
            if last:
                # Seed 003: "previous department and agent": straight back to them when they can.
                await queue_conversation(
                    company_id, conversation_id, last["department_id"], prefer_user_id=last["assigned_user_id"]
                )
                return
        await send_menu(company_id, conversation_id, "welcome")
        return
    menu = await _menu(company_id)
    department_id = choose_department(row["text"], menu)
    if department_id is None:
        await send_menu(company_id, conversation_id, "invalid")
        return
    await queue_conversation(company_id, conversation_id, department_id)


async def hand_to_agents(company_id: int, conversation_id: int) -> None:
    """An unclear reply to an order confirmation: a person must read it, so the conversation
    goes to an agent queue (its department, else the first staffed one), never to the menu."""
    department_id = await sql.fetchval(
        """SELECT coalesce(c.department_id, ch.default_department_id) FROM conversation c
           JOIN channel ch ON ch.id = c.channel_id WHERE c.company_id = $1 AND c.id = $2 AND c.status = 'bot'""",
        company_id,
        conversation_id,
    ) or await _first_department(company_id)
    if department_id is not None:
        await queue_conversation(company_id, conversation_id, department_id)
    else:
        await send_menu(company_id, conversation_id, "welcome")


async def answer_latest(company_id: int, conversation_id: int) -> None:
    """Read the customer's latest message as the answer to the bot's question (the sweep's
    way to an answer whose event was lost)."""
    message_id = await sql.fetchval(
        """SELECT max(id) FROM message WHERE company_id = $1 AND conversation_id = $2 AND direction = 'in'""",
        company_id,
        conversation_id,
    )
    if message_id is not None:
        await answer(company_id, conversation_id, message_id)


async def still_asking(company_id: int, conversation_id: int, state: str, due_at: datetime) -> bool:
    """Whether the bot's question (``state``) is still unanswered and its time is up."""
    return bool(
        await sql.fetchval(
            """SELECT 1 FROM conversation WHERE company_id = $1 AND id = $2 AND status = 'bot' AND bot_state = $3
             AND (last_inbound_at IS NULL OR last_inbound_at <= bot_asked_at) AND $4 <= now()""",
            company_id,
            conversation_id,
            state,
            due_at,
        )
    )


async def expire_returning_questions(timeout_seconds: int | None = None) -> list[int]:
    """Returning customers silent since the yes/no question (past ``timeout_seconds``, else
    their company's ``returning_timeout``) get the department menu."""
    rows = await sql.fetch(
        """SELECT c.company_id, c.id FROM conversation c JOIN company co ON co.id = c.company_id
           WHERE c.status = 'bot' AND c.bot_state = 'returning'
             AND c.bot_asked_at < now() - make_interval(secs => coalesce($1::float8, co.returning_timeout))""",
        None if timeout_seconds is None else float(timeout_seconds),
    )
    for row in rows:
        await send_menu(row["company_id"], row["id"], "welcome")
    return [r["id"] for r in rows]
