"""Contains-search of the call history (seed 004's search box, "456" finds 0612345678) without
the ``pg_trgm`` extension, which the bundled PostgreSQL lacks: a GIN index over an array of
the row's 3-character pieces of caller, callee, caller-id name and both channels' endpoints,
each prefixed with the
account code so that one company's search never walks another's entries. GIN's array operators
are built in. ``app.telephony.cdr`` asks for rows whose array contains all the pieces of the
searched text, then rechecks with LIKE. ``fastupdate = off``: Asterisk inserts CDRs one by one,
and GIN's pending list would otherwise be scanned in full by every search until a vacuum.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.migration_sql import sql_migration

ID = "2026-12-08T06:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "cdr contains-search index (account-scoped 3-grams, GIN)"

# Keep in step with app.telephony.cdr.grams (the Python side makes the searched pieces).
SQL = """
CREATE FUNCTION sb_cdr_grams(account text, src text, dst text, clid text, channel text, dstchannel text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT coalesce(account, '') || ':' || substr(s, i, 3)), '{}')
    FROM unnest(ARRAY[lower(coalesce(src, '')), lower(coalesce(dst, '')),
                      lower(btrim(split_part(coalesce(clid, ''), '<', 1), ' "')),
                      -- the endpoints of both channels ("PJSIP/1002-0000000a" -> "1002"): a queue
                      -- call's member is only there (app.telephony.cdr searches it too)
                      lower(split_part(split_part(coalesce(channel, ''), '/', 2), '-', 1)),
                      lower(split_part(split_part(coalesce(dstchannel, ''), '/', 2), '-', 1))]) AS s,
         generate_series(1, length(s) - 2) AS i
$$;
CREATE INDEX cdr_grams_idx ON cdr USING gin (sb_cdr_grams(accountcode, src, dst, clid, channel, dstchannel))
    WITH (fastupdate = off);
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
