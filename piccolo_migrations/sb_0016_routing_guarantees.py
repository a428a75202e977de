"""Routing that never strands a customer (issue 14): the knobs the engine reads and the columns
that make every pending step of the dispatcher readable from the database alone."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.migration_sql import sql_migration

ID = "2026-12-08T01:16:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "routing guarantees"

# department:
#   reinjection_policy  after a timeout on agent X: 'prefer_others' (X gets it back only when
#                       nobody else can) or 'wait' (it waits for someone else, with an alert)
#   offline_policy      'requeue' (every conversation of a holder who goes offline goes back)
#                       or 'keep_answered' (answered ones stay, shown "holder offline", with an
#                       alert after offline_alert_minutes); the old 'keep' becomes 'requeue'
#   overflow_*          after overflow_after seconds in line, agents of the overflow department
#                       may get it too
#   menu_timeout        a customer silent after the menu goes to this department after that
#                       many seconds (0: not a fallback; the first menu department after 300 s)
# company:
#   returning_timeout   seconds the returning customer's yes/no question waits (seed: 2 minutes)
#   takeover_notice     when "<agent> is now with you" goes: 'assigned' (the first time a
#                       person gets it), 'answered' (with their first reply) or 'never'
# conversation:
#   line_at             when the customer first joined a queue: their place in line
#   avoid_user_id       the agent who just transferred it to a department (prefer others)
#   takeover_sent_at    the take-over text went (at most once per conversation)
#   unstaffed_alert_at  the supervisors were told its department has nobody to take it
SQL = """
ALTER TABLE department
    ADD COLUMN reinjection_policy varchar(16) NOT NULL DEFAULT 'prefer_others'
        CHECK (reinjection_policy IN ('prefer_others', 'wait')),
    ADD COLUMN offline_alert_minutes integer NOT NULL DEFAULT 10 CHECK (offline_alert_minutes BETWEEN 1 AND 1440),
    ADD COLUMN overflow_department_id integer REFERENCES department (id) ON DELETE SET NULL,
    ADD COLUMN overflow_after integer NOT NULL DEFAULT 0 CHECK (overflow_after BETWEEN 0 AND 86400),
    ADD COLUMN menu_timeout integer NOT NULL DEFAULT 0 CHECK (menu_timeout BETWEEN 0 AND 86400);
ALTER TABLE department DROP CONSTRAINT IF EXISTS department_offline_policy_check;
UPDATE department SET offline_policy = 'requeue';
ALTER TABLE department ALTER COLUMN offline_policy TYPE varchar(16),
    ALTER COLUMN offline_policy SET DEFAULT 'requeue',
    ADD CONSTRAINT department_offline_policy_check CHECK (offline_policy IN ('requeue', 'keep_answered'));
ALTER TABLE company
    ADD COLUMN returning_timeout integer NOT NULL DEFAULT 120 CHECK (returning_timeout BETWEEN 10 AND 86400),
    ADD COLUMN takeover_notice varchar(16) NOT NULL DEFAULT 'assigned'
        CHECK (takeover_notice IN ('assigned', 'answered', 'never'));
ALTER TABLE conversation
    ADD COLUMN line_at timestamptz,
    ADD COLUMN avoid_user_id integer,
    ADD COLUMN takeover_sent_at timestamptz,
    ADD COLUMN unstaffed_alert_at timestamptz;
UPDATE conversation SET line_at = coalesce(queued_at, created_at) WHERE status <> 'resolved';
CREATE INDEX conversation_bot_open ON conversation (company_id) WHERE status = 'bot';
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
