"""Presence: online / busy / offline, heartbeats, the grace period, and its history.

An agent is kept online by an open event stream (each keep-alive counts as a heartbeat) or
by explicit heartbeats; ``expire_stale_presence`` (run by one leader process) sets offline
those not heard from within the grace period. Every change is one ``presence_change`` row
and one ``PresenceChanged`` event.
"""

from __future__ import annotations

from piccolo.columns import BigInt, Integer, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.domain import sql
from app.domain.errors import NotFound, ValidationError
from app.domain.events import PresenceChanged, emit
from app.domain.tables import User
from app.i18n import N_

PRESENCES = [p.value for p in User.Presence]


class PresenceChange(Table, tablename="presence_change"):
    """One change of one user's presence (reason: manual, timeout, deactivated)."""

    id = BigInt(primary_key=True)
    company_id = Integer()
    user_id = Integer()
    from_presence = Varchar(length=16)
    to_presence = Varchar(length=16)
    reason = Varchar(length=16)
    at = Timestamptz(default=TimestamptzNow())


async def record_change(company_id: int, user_id: int, old: str, new: str, reason: str) -> None:
    """Inside an action's transaction: the history row and the event."""
    await sql.execute(
        """INSERT INTO presence_change (company_id, user_id, from_presence, to_presence, reason)
           VALUES ($1, $2, $3, $4, $5)""",
        company_id,
        user_id,
        old,
        new,
        reason,
    )
    await emit(PresenceChanged(company_id=company_id, user_id=user_id, presence=new))


async def set_presence(user: User, presence: str) -> User:
    """Switch the user's own presence (online / busy / offline)."""
    if presence not in PRESENCES:
        raise ValidationError({"presence": N_("Choose online, busy or offline.")})
    async with sql.transaction():
        old = await sql.fetchval("SELECT presence FROM app_user WHERE id = $1 AND active FOR UPDATE", user.id)
        if old is None:
            raise NotFound(N_("No such user."))
        await sql.execute(
            """UPDATE app_user SET presence = $2::varchar, last_seen_at = now(),
                   presence_changed_at = CASE WHEN presence = $2::varchar THEN presence_changed_at ELSE now() END
               WHERE id = $1""",
            user.id,
            presence,
        )
        if old != presence:
            await record_change(user.company_id, user.id, old, presence, "manual")
    user.presence = presence
    return user


async def heartbeat(user_id: int) -> None:
    """The user is still there (an open stream's keep-alive, or the page's heartbeat)."""
    await sql.execute("UPDATE app_user SET last_seen_at = now() WHERE id = $1", user_id)


async def expire_stale_presence(grace_seconds: int) -> list[tuple[int, int]]:
    """Set offline everyone online or busy but not heard from within the grace period.

    Returns the (company_id, user_id) pairs that went offline. Rows being changed by another
    transaction are skipped and caught by the next sweep.
    """
    async with sql.transaction():
        rows = await sql.fetch(
            """WITH stale AS (
                   SELECT id, presence FROM app_user
                   WHERE presence <> 'offline' AND active
                     AND coalesce(last_seen_at, presence_changed_at) < now() - make_interval(secs => $1)
                   FOR UPDATE SKIP LOCKED)
               UPDATE app_user u SET presence = 'offline', presence_changed_at = now()
               FROM stale WHERE u.id = stale.id
               RETURNING u.company_id, u.id, stale.presence AS old""",
            float(grace_seconds),
        )
        for row in rows:
            await record_change(row["company_id"], row["id"], row["old"], "offline", "timeout")
    return [(r["company_id"], r["id"]) for r in rows]


# Reasons after which coming back restores what the agent had: they did not choose to be
# offline (their tab closed, the grace period ran out, they logged out for lunch).
RESTORABLE = ("timeout", "logout")


async def restore_presence(user: User) -> str:
    """At login: an agent set offline by a timeout or a logout earlier the same day (in the
    company's timezone) gets back the presence they had, so a closed laptop at lunch does not
    leave them invisible to dispatch all afternoon. An offline they chose themselves, or one
    from an earlier day, stays. Returns the presence the user now has."""
    async with sql.transaction():
        current = await sql.fetchval("SELECT presence FROM app_user WHERE id = $1 AND active FOR UPDATE", user.id)
        if current != "offline":
            return current or "offline"
        last = await sql.fetchrow(
            """SELECT pc.from_presence, pc.to_presence, pc.reason,
                      (pc.at AT TIME ZONE c.timezone)::date = (now() AT TIME ZONE c.timezone)::date AS same_day
               FROM presence_change pc JOIN company c ON c.id = pc.company_id
               WHERE pc.user_id = $1 ORDER BY pc.at DESC, pc.id DESC LIMIT 1""",
            user.id,
        )
        if (
            last is None
            or last["to_presence"] != "offline"
            or last["reason"] not in RESTORABLE
            or not last["same_day"]
            or last["from_presence"] not in ("online", "busy")
        ):
            return "offline"
        presence = last["from_presence"]
        await sql.execute(
            "UPDATE app_user SET presence = $2, last_seen_at = now(), presence_changed_at = now() WHERE id = $1",
            user.id,
            presence,
        )
        await record_change(user.company_id, user.id, "offline", presence, "restored")
    user.presence = presence
    return presence
