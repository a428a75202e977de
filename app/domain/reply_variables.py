"""Variables in quick replies: ``{customer_name}``, ``{agent_name}``, ``{company}`` …

A quick reply's text may name them; when an agent inserts it, the composer shows it filled in
for this conversation (the agent reads and may edit it before sending: nothing is sent
unseen). A variable with no value (no order yet) stays as written, for the agent to fill.
"""

from __future__ import annotations

from app.domain import sql
from app.i18n import N_

# Name -> what it holds (shown in the quick replies admin).
VARIABLES = {
    "customer_name": N_("the customer's name"),
    "customer_first_name": N_("the customer's first name"),
    "customer_phone": N_("the customer's phone number"),
    "agent_name": N_("your name"),
    "agent_first_name": N_("your first name"),
    "company": N_("the company's name"),
    "department": N_("the conversation's department"),
    "order_number": N_("the customer's latest order (its reference)"),
    "order_total": N_("the latest order's total"),
}


async def reply_values(company_id: int, conversation_id: int, agent_name: str) -> dict[str, str]:
    """The values of every variable for this conversation (empty string when unknown)."""
    row = await sql.fetchrow(
        """SELECT ct.name AS customer, ct.phone, co.name AS company, d.name AS department,
                  o.reference, o.total, o.currency
           FROM conversation c JOIN contact ct ON ct.id = c.contact_id JOIN company co ON co.id = c.company_id
           LEFT JOIN department d ON d.id = c.department_id
           LEFT JOIN LATERAL (
               SELECT coalesce(nullif(so.external_id, ''), '#' || so.id) AS reference, so.currency,
                      (SELECT sum((i->>'price')::numeric * (i->>'quantity')::numeric)
                       FROM jsonb_array_elements(so.items) i) AS total
               FROM shop_order so WHERE so.company_id = c.company_id AND so.contact_id = c.contact_id
               ORDER BY so.id DESC LIMIT 1) o ON true
           WHERE c.company_id = $1 AND c.id = $2""",
        company_id,
        conversation_id,
    )
    if row is None:
        return {}
    customer = (row["customer"] or "").strip()
    agent = (agent_name or "").strip()
    total = f"{row['total']:.2f} {row['currency']}" if row["total"] is not None else ""
    return {
        "customer_name": customer,
        "customer_first_name": customer.split()[0] if customer else "",
        "customer_phone": row["phone"] or "",
        "agent_name": agent,
        "agent_first_name": agent.split()[0] if agent else "",
        "company": row["company"] or "",
        "department": row["department"] or "",
        "order_number": row["reference"] or "",
        "order_total": total,
    }


def fill(text: str, values: dict[str, str]) -> str:
    """``text`` with each known, non-empty ``{variable}`` replaced (the composer does the same)."""
    for name, value in values.items():
        if value:
            text = text.replace("{" + name + "}", value)
    return text
