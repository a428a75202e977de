"""Piccolo mirrors of the tables admins configure: automatic messages, business hours,
holidays, quick replies, API keys and their rate counters.

The schema is SQL in ``piccolo_migrations/`` (sb_0007, sb_0010, sb_0011, sb_0012);
``tests/test_schema.py`` checks these classes against it column by column. The reads and
writes live in the matching domain modules (``auto_messages``, ``business_hours``,
``quick_replies``, ``api_keys``).
"""

from __future__ import annotations

from piccolo.columns import Array, Boolean, Date, Integer, Serial, SmallInt, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Char(Varchar):
    """PostgreSQL's fixed-length ``char(n)`` (Piccolo has none)."""

    @property
    def column_type(self) -> str:
        return f"CHAR({self.length})"


class AutoMessage(Table, tablename="auto_message"):
    """A company's text for one automatic message kind (welcome, takeover ...) in one language."""

    id = Serial(primary_key=True)
    company_id = Integer()
    kind = Varchar(length=16)
    text = Varchar(length=1000)
    enabled = Boolean(default=True)
    language = Varchar(length=8, default="en")


class BusinessHours(Table, tablename="business_hours"):
    """One opening span of a weekday (minutes since midnight), for the company or one department."""

    id = Serial(primary_key=True)
    company_id = Integer()
    department_id = Integer(null=True, default=None)
    weekday = SmallInt()
    opens = SmallInt()
    closes = SmallInt()


class Holiday(Table, tablename="holiday"):
    """A day the company is closed."""

    id = Serial(primary_key=True)
    company_id = Integer()
    day = Date()
    label = Varchar(length=120, default="")


class QuickReply(Table, tablename="quick_reply"):
    """A canned answer with a shortcut, for every department or one."""

    id = Serial(primary_key=True)
    company_id = Integer()
    department_id = Integer(null=True, default=None)
    shortcut = Varchar(length=32)
    text = Text()
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class ApiKey(Table, tablename="api_key"):
    """An integrator's key: a public prefix and the SHA-256 of the secret, never the secret."""

    id = Serial(primary_key=True)
    company_id = Integer()
    name = Varchar(length=100)
    prefix = Varchar(length=16)
    secret_hash = Char(length=64)
    scopes = Array(Text())
    rate_limit = Integer(null=True, default=None)
    created_by_user_id = Integer(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    last_used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)


class ApiRate(Table, tablename="api_rate"):
    """Requests of one key in one minute (the rate limit, shared by every process).

    The primary key is ``(key_id, window_start)``; Piccolo knows single-column keys only."""

    key_id = Integer(primary_key=True)
    window_start = Timestamptz()
    hits = Integer()


ADMIN_TABLES = [AutoMessage, BusinessHours, Holiday, QuickReply, ApiKey, ApiRate]
