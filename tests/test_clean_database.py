"""Each test starts on empty tables (tests/conftest.py), also when the emptying is skipped
because nothing was written since the last one. The tests here run in this order."""

from app.domain import sql


async def test_a_write_to_a_logged_table(app):
    await sql.execute("INSERT INTO company (name) VALUES ('Left behind')")


async def test_the_next_test_finds_it_gone(app):
    assert await sql.fetchval("SELECT count(*) FROM company") == 0


async def test_a_write_to_an_unlogged_table(app):
    await sql.execute("INSERT INTO pbx_status (id, state) VALUES (1, 'connected') ON CONFLICT (id) DO NOTHING")


async def test_the_next_test_finds_that_gone_too(app):
    assert await sql.fetchval("SELECT count(*) FROM pbx_status") == 0


def test_a_test_that_writes_nothing():
    pass


async def test_still_empty_after_one_that_wrote_nothing(app):
    assert await sql.fetchval("SELECT count(*) FROM company") == 0
    assert await sql.fetchval("SELECT count(*) FROM pbx_status") == 0
