"""A conversation whose opening event was never handled (its dispatcher leader was killed with
the event in memory, issue 21) is picked up by the sweep: DESIGN says the dispatcher's memory
is only a cache and a sweep recovers everything from the database after a crash (since this
merge, through app.dispatch.timers; the scenario is tests/benchmarks/bench_failover.py's)."""

from app.dispatch.sweeper import sweep_once
from app.domain import sql
from tests.dispatch.factories import conversation, make_channel, make_conversation
from tests.factories import make_company, make_department, make_user


async def test_the_sweep_queues_and_assigns_a_conversation_whose_opening_was_missed(app, settings):
    company = await make_company()
    support = await make_department(company, "Support")
    agent = await make_user(company, presence="online", departments=[support])
    channel = await make_channel(company, department=support)
    missed = await make_conversation(company, channel, department=support)  # status "bot", never started
    await sql.execute("UPDATE conversation SET created_at = now() - interval '1 minute' WHERE id = $1", missed)
    just_opened = await make_conversation(company, channel, department=support)  # its event may be on its way

    await sweep_once(settings)

    row = await conversation(missed)
    assert (row["status"], row["assigned_user_id"]) == ("assigned", agent.id)
    assert (await conversation(just_opened))["status"] == "bot"  # left to the live path for now
