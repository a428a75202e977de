"""Dispatch: strategies per department, queue and assignment times, reinjections, history."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.migration_sql import sql_migration

ID = "2026-11-22T06:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "dispatch"

SQL = """
ALTER TABLE department
    ADD COLUMN strategy varchar(16) NOT NULL DEFAULT 'least_load'
        CHECK (strategy IN ('least_load', 'round_robin', 'sticky')),
    -- Supervisors are alerted when a conversation has been reinjected this many times.
    ADD COLUMN reinjection_alert integer NOT NULL DEFAULT 3 CHECK (reinjection_alert BETWEEN 1 AND 100),
    -- What happens to an agent's answered conversations when the agent goes offline:
    -- keep (stay with the agent) or requeue (go back to the department's queue).
    ADD COLUMN offline_policy varchar(8) NOT NULL DEFAULT 'keep' CHECK (offline_policy IN ('keep', 'requeue'));

ALTER TABLE app_user ADD COLUMN last_assigned_at timestamptz;

ALTER TABLE conversation
    ADD COLUMN queued_at timestamptz,
    ADD COLUMN assigned_at timestamptz,
    -- Set while the assigned agent owes the customer an answer; cleared by the agent's reply.
    ADD COLUMN awaiting_agent_since timestamptz,
    ADD COLUMN first_response_at timestamptz,
    ADD COLUMN reinjections integer NOT NULL DEFAULT 0,
    -- The agent who let it time out last: reinjection never gives it back to them.
    ADD COLUMN timed_out_user_id integer REFERENCES app_user(id) ON DELETE SET NULL;
CREATE INDEX conversation_queue_idx ON conversation (company_id, department_id, queued_at, id) WHERE status = 'queued';
CREATE INDEX conversation_assigned_idx ON conversation (assigned_user_id) WHERE status = 'assigned';
CREATE INDEX conversation_awaiting_idx ON conversation (awaiting_agent_since) WHERE status = 'assigned';

-- Every transition of a conversation: who, when, from -> to (feeds metrics and the audit).
CREATE TABLE conversation_event (
    id bigserial PRIMARY KEY,
    company_id integer NOT NULL REFERENCES company(id) ON DELETE CASCADE,
    conversation_id integer NOT NULL REFERENCES conversation(id) ON DELETE CASCADE,
    kind varchar(16) NOT NULL,
    from_status varchar(16),
    to_status varchar(16) NOT NULL,
    from_user_id integer REFERENCES app_user(id) ON DELETE SET NULL,
    to_user_id integer REFERENCES app_user(id) ON DELETE SET NULL,
    from_department_id integer REFERENCES department(id) ON DELETE SET NULL,
    to_department_id integer REFERENCES department(id) ON DELETE SET NULL,
    -- NULL: the system (dispatcher, sweeper) did it.
    actor_user_id integer REFERENCES app_user(id) ON DELETE SET NULL,
    note text NOT NULL DEFAULT '',
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversation_event_conversation_idx ON conversation_event (conversation_id, id);
CREATE INDEX conversation_event_company_idx ON conversation_event (company_id, at);
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
