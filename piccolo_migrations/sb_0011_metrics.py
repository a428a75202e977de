"""Indexes for the supervisor wallboard and the metrics: reads by company and time.

The wallboard recomputes today's figures at most once a second per company while
supervisors watch; the metrics page reads whole periods. Without these, both would scan
every message of every company.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.migration_sql import sql_migration

ID = "2026-11-22T08:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "metrics indexes"

SQL = """
-- Messages of a company in a period (messages per hour, first replies in a period).
CREATE INDEX message_company_created_idx ON message (company_id, created_at);
-- An agent's latest reply ("time since their last reply" on the wallboard).
CREATE INDEX message_agent_reply_idx ON message (author_user_id, created_at) WHERE author = 'agent';
-- Conversations opened in a period.
CREATE INDEX conversation_company_created_idx ON conversation (company_id, created_at);
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
