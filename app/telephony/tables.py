"""Piccolo mirrors of our telephony tables (the schema itself is SQL in sb_0003_telephony).

Asterisk's own tables (``ps_*``, ``sippeers``, ``queues``, ``queue_members``, ``cdr``) are not
mirrored: several have no primary key, which Piccolo requires, and they are reached with plain
SQL in ``app.telephony.pbx`` and ``app.telephony.cdr``.
"""

from __future__ import annotations

from piccolo.columns import JSONB, BigInt, Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class PbxOwnership(Table, tablename="pbx_object"):
    """Which company owns which Asterisk object (an extension, a trunk or a queue)."""

    company_id = Integer()
    kind = Varchar(length=16)
    name = Varchar(length=80)
    label = Varchar(length=120, default="")
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class PbxAudit(Table, tablename="pbx_audit"):
    """One PBX change or live call action, with Asterisk's answer."""

    id = BigInt(primary_key=True)
    company_id = Integer()
    user_id = Integer(null=True)
    action = Varchar(length=40)
    target = Varchar(length=200, default="")
    detail = JSONB(default={})
    at = Timestamptz(default=TimestamptzNow())


class PbxLive(Table, tablename="pbx_live"):
    """A company's latest live PBX snapshot, published by the AMI leader."""

    company_id = Integer(primary_key=True)
    version = BigInt(default=0)
    snapshot = JSONB(default={})
    updated_at = Timestamptz(default=TimestamptzNow())


class PbxStatus(Table, tablename="pbx_status"):
    """The AMI connection's state (one row)."""

    id = Integer(primary_key=True)
    state = Varchar(length=20)
    detail = Text(default="")
    leader = Text(default="")
    updated_at = Timestamptz(default=TimestamptzNow())


from app.domain.phone import PHONE_TABLES  # noqa: E402 - the agent-phone tables (issue 17)

TELEPHONY_TABLES = [PbxOwnership, PbxAudit, PbxLive, PbxStatus, *PHONE_TABLES]
