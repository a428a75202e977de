"""Confirming or cancelling an order by hand (issue 16, low): an agent may do it only for an
order whose conversation they may see; supervisors and admins for any of their company's."""

from __future__ import annotations

from app.domain import sql
from app.domain.orders import create_order
from tests.api.conftest import make_shop
from tests.factories import make_user
from tests.helpers import login, post_form

ITEMS = [{"name": "Shoes", "price": "5.00", "quantity": 1}]


async def test_only_those_who_may_see_the_conversation_decide(client, app):
    shop = await make_shop()
    agent, colleague = (
        await make_user(shop.company, "agent"),
        await make_user(shop.company, "agent"),
    )
    supervisor = await make_user(shop.company, "supervisor")
    order, _ = await create_order(shop.company.id, {"phone": "+33612345678", "name": "Zoé", "items": ITEMS})
    await sql.execute(
        "UPDATE conversation SET status = 'assigned', assigned_user_id = $1 WHERE id = $2",
        colleague.id,
        order["conversation_id"],
    )
    await login(client, agent.email)
    r = await post_form(client, f"/orders/{order['id']}/decision", {"decision": "confirm"})
    assert r.status_code == 404
    assert await sql.fetchval("SELECT status FROM shop_order WHERE id = $1", order["id"]) == "pending"

    await sql.execute(
        "UPDATE conversation SET assigned_user_id = $1 WHERE id = $2",
        agent.id,
        order["conversation_id"],
    )
    assert (await post_form(client, f"/orders/{order['id']}/decision", {"decision": "cancel"})).status_code == 303
    assert await sql.fetchval("SELECT status FROM shop_order WHERE id = $1", order["id"]) == "cancelled"

    second, _ = await create_order(shop.company.id, {"phone": "+33612345679", "items": ITEMS})
    await sql.execute(
        "UPDATE conversation SET status = 'assigned', assigned_user_id = $1 WHERE id = $2",
        colleague.id,
        second["conversation_id"],
    )
    await login(client, supervisor.email)
    assert (await post_form(client, f"/orders/{second['id']}/decision", {"decision": "confirm"})).status_code == 303
