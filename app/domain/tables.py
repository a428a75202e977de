"""The foundation's tables: companies, users, departments, sessions and login failures.

The schema itself is written as SQL in ``piccolo_migrations/`` (constraints, indexes and
foreign keys are easier to read there); these classes mirror it column for column so that
Piccolo can query it. Every company-owned row carries ``company_id``, and every read of such
a row in ``app.domain`` filters on it.
"""

from __future__ import annotations

from enum import Enum

from piccolo.columns import BigInt, Boolean, Bytea, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Company(Table, tablename="company"):
    """A tenant. Every other row belongs to exactly one company."""

    id = Serial(primary_key=True)
    name = Varchar(length=200)
    timezone = Varchar(length=64, default="UTC")
    language = Varchar(length=8, default="en")
    created_at = Timestamptz(default=TimestamptzNow())
    # Seconds the returning customer's yes/no question waits (sb_0016).
    returning_timeout = Integer(default=120)
    # When "<agent> is now with you" goes: assigned, answered or never (sb_0016).
    takeover_notice = Varchar(length=16, default="assigned")
    # Admins must log in with a second factor (TOTP) and are sent to enrol until they do.
    mfa_required_for_admins = Boolean(default=False)
    # ISO 3166 alpha-2 ('' = none): national phone numbers typed by people are read in it.
    country = Varchar(length=2, default="")


class User(Table, tablename="app_user"):
    """A person who logs in: an admin, a supervisor or an agent of one company."""

    id = Serial(primary_key=True)

    class Role(str, Enum):
        admin = "admin"
        supervisor = "supervisor"
        agent = "agent"

    class Presence(str, Enum):
        online = "online"
        busy = "busy"
        offline = "offline"

    company_id = Integer()
    email = Varchar(length=254)
    name = Varchar(length=120)
    password_hash = Text()
    role = Varchar(length=16, choices=Role, default=Role.agent)
    presence = Varchar(length=16, choices=Presence, default=Presence.offline)
    presence_changed_at = Timestamptz(default=TimestamptzNow())
    active = Boolean(default=True)
    # Most conversations the agent may hold open at once (dispatch never exceeds it).
    capacity = Integer(default=5)
    # Interface language; empty means the company's language.
    language = Varchar(length=8, default="")
    last_seen_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    # When dispatch last gave the agent a conversation (longest idle first among ties).
    last_assigned_at = Timestamptz(null=True, default=None)
    # The sound of the user's alerts (set on /profile): chime, bell, pop or none.
    notification_sound = Varchar(length=16, default="chime")
    # Two-factor login (app.domain.account): the TOTP secret, when it was turned on (None: off),
    # and the last time step accepted (a code is never accepted twice).
    mfa_secret = Varchar(length=64, default="")
    mfa_enabled_at = Timestamptz(null=True, default=None)
    mfa_last_step = BigInt(default=0)


class MfaRecoveryCode(Table, tablename="mfa_recovery_code"):
    """One-time codes that stand in for the authenticator (stored as SHA-256 digests)."""

    id = BigInt(primary_key=True)
    user_id = Integer()
    code_hash = Varchar(length=64)
    used_at = Timestamptz(null=True, default=None)


class Department(Table, tablename="department"):
    """A group of agents that conversations are routed to (seeds: poste, departamento)."""

    id = Serial(primary_key=True)
    company_id = Integer()
    name = Varchar(length=120)
    code = Varchar(length=32)
    colour = Varchar(length=7, default="#4f46e5")
    # Seconds an assigned agent has to answer before the conversation is reinjected.
    response_timeout = Integer(default=300)
    # Position in the customer-facing bot menu (1, 2, 3 ...).
    menu_position = Integer(default=0)
    created_at = Timestamptz(default=TimestamptzNow())
    # Dispatch strategy (app.dispatch.policy): least_load, round_robin or sticky.
    strategy = Varchar(length=16, default="least_load")
    # Supervisors are alerted when a conversation has been reinjected this many times.
    reinjection_alert = Integer(default=3)
    # A holder who goes offline: requeue (everything goes back) or keep_answered (sb_0016).
    offline_policy = Varchar(length=16, default="requeue")
    # Routing knobs of sb_0016 (README "Routing guarantees").
    reinjection_policy = Varchar(length=16, default="prefer_others")
    offline_alert_minutes = Integer(default=10)
    overflow_department_id = Integer(null=True, default=None)
    overflow_after = Integer(default=0)
    menu_timeout = Integer(default=0)


class UserDepartment(Table, tablename="user_department"):
    """Membership of an agent in a department."""

    id = Serial(primary_key=True)
    company_id = Integer()
    user_id = Integer()
    department_id = Integer()


class HttpSession(Table, tablename="http_session"):
    """Server-side login sessions, shared by every app process."""

    key = Varchar(length=128, primary_key=True)
    data = Bytea()
    expires_at = Timestamptz(null=True, default=None)
    # Whose session, since when, last seen when and where (the account page lists them).
    user_id = BigInt(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    last_seen_at = Timestamptz(default=TimestamptzNow())
    address = Varchar(length=64, default="")
    user_agent = Varchar(length=300, default="")


class LoginFailure(Table, tablename="login_failure"):
    """One failed login, counted per account and per address for throttling."""

    id = BigInt(primary_key=True)
    scope = Varchar(length=16)
    key = Varchar(length=254)
    at = Timestamptz(default=TimestamptzNow())


TABLES = [Company, User, Department, UserDepartment, HttpSession, LoginFailure, MfaRecoveryCode]
