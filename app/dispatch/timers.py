"""Every pending step of the dispatcher, read from the database alone.

The dispatcher reacts to events at once, but events live in memory: a crash, a restart or a
lost database connection drops them. So every step the dispatcher owes a conversation is a
due time computed from columns (``DUE_SQL``, one statement), and every sweep runs what is due
(``run_due``), whatever was lost:

- ``start``: a conversation with the bot that the bot never greeted (``bot_state`` empty);
- ``answer``: a customer message to the bot's question that the bot never read;
- ``menu``: a customer silent after the menu, past the fallback department's ``menu_timeout``
  (or ``DEFAULT_MENU_TIMEOUT`` for the first menu department): it goes to that department;
- ``returning``: a returning customer silent past the company's ``returning_timeout``: the menu;
- ``response``: an agent who did not answer within the department's ``response_timeout``
  (reinjected by ``assignment.reinject_overdue``).

A conversation opened for a shop order (``bot_state = 'order'``) waits for the customer's
reply to the order, with no timer of the bot's (README, "Routing guarantees"). The same
statement gives the invariant checker and the chaos benchmark their "overdue" figures.
"""

from __future__ import annotations

import logging

from app.domain import sql

log = logging.getLogger(__name__)

# Seconds the event path has to do a step before the sweep does it instead.
EVENT_GRACE = 3
DEFAULT_MENU_TIMEOUT = 300

# The department a silent customer goes to after the menu: the first with a menu_timeout, else
# the first of the menu, else the first department (only departments with members count).
FALLBACK_SQL = """LEFT JOIN LATERAL (
    SELECT fd.id, CASE WHEN fd.menu_timeout > 0 THEN fd.menu_timeout ELSE {default} END AS timeout
    FROM department fd WHERE fd.company_id = c.company_id
      AND EXISTS (SELECT 1 FROM user_department fu JOIN app_user fa ON fa.id = fu.user_id
                  WHERE fu.department_id = fd.id AND fa.active)
    ORDER BY (fd.menu_timeout > 0) DESC, (fd.menu_position > 0) DESC, fd.menu_position, fd.id LIMIT 1) fb ON true
""".format(default=DEFAULT_MENU_TIMEOUT)

DUE_SQL = f"""
SELECT c.company_id, c.id, s.kind, s.due_at, fb.id AS fallback_department_id
FROM conversation c JOIN company co ON co.id = c.company_id
LEFT JOIN department d ON d.id = c.department_id
{FALLBACK_SQL}
CROSS JOIN LATERAL (VALUES
    ('start', CASE WHEN c.status = 'bot' AND c.bot_state = ''
                   THEN c.created_at + make_interval(secs => {EVENT_GRACE}) END),
    ('answer', CASE WHEN c.status = 'bot' AND c.bot_state IN ('menu', 'returning')
                         AND c.last_inbound_at > c.bot_asked_at
                    THEN c.last_inbound_at + make_interval(secs => {EVENT_GRACE}) END),
    ('menu', CASE WHEN c.status = 'bot' AND c.bot_state = 'menu' AND fb.id IS NOT NULL
                  THEN c.bot_asked_at + make_interval(secs => fb.timeout) END),
    ('returning', CASE WHEN c.status = 'bot' AND c.bot_state = 'returning'
                       THEN c.bot_asked_at + make_interval(secs => co.returning_timeout) END),
    ('response', CASE WHEN c.status = 'assigned' AND c.awaiting_agent_since IS NOT NULL
                      THEN c.awaiting_agent_since + make_interval(secs => d.response_timeout) END)
) AS s(kind, due_at)
WHERE c.status IN ('bot', 'assigned') AND s.due_at IS NOT NULL
"""


async def list_due(*, company_id: int | None = None, overdue_only: bool = True) -> list:
    """The pending steps (company_id, id, kind, due_at, fallback_department_id), earliest first."""
    where = []
    if overdue_only:
        where.append("s.due_at <= now()")
    if company_id is not None:
        where.append(f"c.company_id = {int(company_id)}")
    tail = (" AND " + " AND ".join(where)) if where else ""
    return await sql.fetch(DUE_SQL + tail + " ORDER BY s.due_at, c.id")


async def run_due() -> dict[str, int]:
    """Run every overdue step once (a step done meanwhile by the event path is a no-op)."""
    from app.dispatch import bot
    from app.dispatch.assignment import queue_conversation, reinject_overdue

    done: dict[str, int] = {}
    for row in await list_due():
        kind, company_id, conversation_id = row["kind"], row["company_id"], row["id"]
        try:
            if kind == "start":
                await bot.start(company_id, conversation_id)
            elif kind == "answer":
                await bot.answer_latest(company_id, conversation_id)
            elif kind == "menu":
                if await bot.still_asking(company_id, conversation_id, "menu", row["due_at"]):
                    await queue_conversation(company_id, conversation_id, row["fallback_department_id"])
            elif kind == "returning":
                if await bot.still_asking(company_id, conversation_id, "returning", row["due_at"]):
                    await bot.send_menu(company_id, conversation_id, "welcome")
            elif kind == "response":
                continue  # reinject_overdue below takes them all under its own checks
        except Exception:  # noqa: BLE001 - one conversation must not stop the others
            log.exception("due step %s of conversation %s failed", kind, conversation_id)
            continue
        done[kind] = done.get(kind, 0) + 1
    reinjected = await reinject_overdue()
    if reinjected:
        done["response"] = len(reinjected)
    return done
