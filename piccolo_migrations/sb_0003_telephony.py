"""Telephony: Asterisk's own Realtime and CDR tables, plus ours (ownership, audit, live state).

Asterisk's tables are created by running the DDL that Asterisk's ``contrib/ast-db-manage``
alembic scripts emit for PostgreSQL (tag 22.10.1, offline ``--sql`` output, shipped verbatim in
``app/telephony/sql/``), so names, types and enums are exactly what a real Asterisk with
``res_config_pgsql`` expects. Alembic's bookkeeping table is renamed to the names Asterisk's own
``config.ini.sample`` / ``cdr.ini.sample`` use (``alembic_version_config``, ``alembic_version_cdr``)
so that Asterisk's tooling can upgrade these tables later.
"""

from pathlib import Path

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.migration_sql import sql_migration

ID = "2026-11-22T06:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "telephony: Asterisk realtime + cdr tables, pbx ownership, audit, live state"

SQL_DIR = Path(__file__).resolve().parent.parent / "app" / "telephony" / "sql"


def asterisk_ddl(filename: str, version_table: str) -> str:
    """The alembic offline SQL without its own BEGIN/COMMIT (we run inside the migration's)."""
    lines = []
    for line in (SQL_DIR / filename).read_text().splitlines():
        if line.strip() in {"BEGIN;", "COMMIT;"}:
            continue
        lines.append(line.replace("alembic_version", version_table))
    return "\n".join(lines)


OURS = """
-- Which company owns which Asterisk object. Asterisk's tables cannot carry a company_id
-- (their columns must stay exactly Asterisk's), so ownership lives here: one PBX per
-- install, Asterisk names are global (an extension number is unique across companies).
CREATE TABLE pbx_object (
    id serial PRIMARY KEY,
    company_id integer NOT NULL REFERENCES company(id) ON DELETE CASCADE,
    kind varchar(16) NOT NULL CHECK (kind IN ('extension', 'trunk', 'queue')),
    name varchar(80) NOT NULL,
    label varchar(120) NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- Extensions and trunks share PJSIP's endpoint namespace; queues have their own.
CREATE UNIQUE INDEX pbx_object_name_key ON pbx_object ((kind = 'queue'), name);
CREATE INDEX pbx_object_company_idx ON pbx_object (company_id, kind, name);

-- queue_members.uniqueid has no default on PostgreSQL (Asterisk's migration 5139253c0423
-- only makes it AUTO_INCREMENT on MySQL): we draw it from this sequence.
CREATE SEQUENCE pbx_queue_member_uniqueid_seq;

-- Who changed what on the PBX, and every live action taken (hangup, transfer...).
CREATE TABLE pbx_audit (
    id bigserial PRIMARY KEY,
    company_id integer NOT NULL REFERENCES company(id) ON DELETE CASCADE,
    user_id integer REFERENCES app_user(id) ON DELETE SET NULL,
    action varchar(40) NOT NULL,
    target varchar(200) NOT NULL DEFAULT '',
    detail jsonb NOT NULL DEFAULT '{}',
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pbx_audit_company_idx ON pbx_audit (company_id, at DESC);

-- The AMI leader's view of live calls / peers / queues, per company, flushed a few times a
-- second at most. A cache of Asterisk's state, rebuilt on every AMI (re)connect: unlogged.
CREATE UNLOGGED TABLE pbx_live (
    company_id integer PRIMARY KEY REFERENCES company(id) ON DELETE CASCADE,
    version bigint NOT NULL DEFAULT 0,
    snapshot jsonb NOT NULL DEFAULT '{}',
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The AMI connection's state as the leader sees it (one row).
CREATE UNLOGGED TABLE pbx_status (
    id integer PRIMARY KEY CHECK (id = 1),
    state varchar(20) NOT NULL,
    detail text NOT NULL DEFAULT '',
    leader text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Call history: newest first per company (accountcode), keyset pagination on
-- (start, uniqueid); prefix search on caller, callee and caller-id name.
CREATE INDEX cdr_account_start_idx ON cdr (accountcode, start DESC, uniqueid DESC);
CREATE INDEX cdr_account_src_idx ON cdr (accountcode, src text_pattern_ops);
CREATE INDEX cdr_account_dst_idx ON cdr (accountcode, dst text_pattern_ops);
CREATE INDEX cdr_account_clid_idx ON cdr (accountcode, lower(btrim(split_part(clid, '<', 1), ' "')) text_pattern_ops);
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, asterisk_ddl("asterisk_config_22.10.1.sql", "alembic_version_config"),
                         asterisk_ddl("asterisk_cdr_22.10.1.sql", "alembic_version_cdr"), OURS)
