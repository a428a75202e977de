"""A second process for the race tests: queues conversations and flips agents, as fast as it can.

python -m tests.dispatch.race_worker DSN DEPARTMENT_ID CONVERSATION_IDS AGENT_IDS
(ids comma-separated). Prints "ok" when done.
"""

import asyncio
import random
import sys

from app import db
from app.dispatch.assignment import queue_conversation
from app.dispatch.sweeper import react
from app.domain import sql
from app.domain.events import PresenceChanged
from app.domain.presence import set_presence
from app.domain.tables import User


async def main(dsn: str, department_id: int, conversations: list[int], agents: list[int]) -> None:
    db.configure(dsn)
    await db.open_pool(min_size=4, max_size=8)
    try:
        company_id = await sql.fetchval("SELECT company_id FROM department WHERE id = $1", department_id)

        async def queue(conv: int) -> None:
            await queue_conversation(company_id, conv, department_id)

        async def flip(agent_id: int) -> None:
            user = await User.objects().where(User.id == agent_id).first()
            for _ in range(3):
                presence = random.choice(["online", "online", "busy", "offline"])
                await set_presence(user, presence)
                await react(PresenceChanged(company_id=company_id, user_id=agent_id, presence=presence))

        await asyncio.gather(*(queue(c) for c in conversations), *(flip(a) for a in agents))
    finally:
        await db.close_pool()
    print("ok")


if __name__ == "__main__":
    dsn, dep, convs, agents = sys.argv[1:5]
    asyncio.run(main(dsn, int(dep), [int(x) for x in convs.split(",")], [int(x) for x in agents.split(",") if x]))
