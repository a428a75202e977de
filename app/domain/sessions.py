"""Login sessions seen from the user's side: list them, end them, and what a live stream checks.

The rows are written by the session store (``app.web.security.PostgresStore``) with the user,
address and browser of the login; a session lives ``SESSION_MAX_AGE`` seconds after its last
request (idle) and never more than ``SESSION_ABSOLUTE_MAX_AGE`` after the login (absolute).
Ending a session deletes its row; a database trigger then announces ``AccessChanged`` so the
session's open live streams end on every process (app.web.stream).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from app.domain import sql
from app.domain.audit import record_audit

# Seconds a login session may last whatever its use (SESSION_ABSOLUTE_MAX_AGE; set at start-up).
ABSOLUTE_MAX_AGE = 12 * 3600


def configure(absolute_max_age: int) -> None:
    global ABSOLUTE_MAX_AGE
    ABSOLUTE_MAX_AGE = absolute_max_age


def handle_of(key: str) -> str:
    """The public name of a session (its id itself is a secret and never shown)."""
    return hashlib.sha256(key.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class SessionInfo:
    handle: str
    created_at: datetime
    last_seen_at: datetime
    address: str
    user_agent: str
    current: bool


ALIVE = "expires_at > now() AND created_at > now() - make_interval(secs => {})"


async def list_sessions(user_id: int, current_key: str | None) -> list[SessionInfo]:
    rows = await sql.fetch(
        f"""SELECT key, created_at, last_seen_at, address, user_agent FROM http_session
            WHERE user_id = $1 AND {ALIVE.format("$2")} ORDER BY last_seen_at DESC""",
        user_id,
        float(ABSOLUTE_MAX_AGE),
    )
    return [
        SessionInfo(
            handle_of(r["key"]),
            r["created_at"],
            r["last_seen_at"],
            r["address"],
            r["user_agent"],
            r["key"] == current_key,
        )
        for r in rows
    ]


async def end_session(company_id: int, user_id: int, handle: str) -> bool:
    """End one of the user's own sessions by its handle (False: no such session)."""
    async with sql.transaction():
        keys = await sql.fetch("SELECT key FROM http_session WHERE user_id = $1", user_id)
        key = next((r["key"] for r in keys if handle_of(r["key"]) == handle), None)
        if key is None:
            return False
        await sql.execute("DELETE FROM http_session WHERE key = $1", key)
        await record_audit(
            company_id,
            "session.ended",
            target_type="user",
            target_id=user_id,
            after={"session": handle},
        )
    return True


async def end_user_sessions(
    company_id: int,
    user_id: int,
    *,
    except_key: str | None = None,
    reason: str = "ended",
) -> int:
    """End every session of a user of ``company_id`` (but ``except_key``): how many ended."""
    async with sql.transaction():
        status = await sql.execute(
            """DELETE FROM http_session s USING app_user u
               WHERE s.user_id = u.id AND u.id = $1 AND u.company_id = $2 AND s.key IS DISTINCT FROM $3""",
            user_id,
            company_id,
            except_key,
        )
        count = int(status.split()[-1])
        await record_audit(
            company_id,
            "session.all_ended",
            target_type="user",
            target_id=user_id,
            after={"count": count, "reason": reason},
        )
    return count


@dataclass(frozen=True)
class Access:
    """What a live stream was opened with: it ends when any of it changes."""

    role: str
    departments: tuple[int, ...]


async def stream_access(user_id: int, session_key: str | None) -> Access | None:
    """The user's access now, or None when the user is inactive or this session is over
    (logged out, ended, idle or absolute lifetime passed)."""
    row = await sql.fetchrow(
        f"""SELECT u.role,
                   array(SELECT department_id FROM user_department WHERE user_id = u.id ORDER BY 1) AS departments
            FROM app_user u
            WHERE u.id = $1 AND u.active
              AND EXISTS (SELECT 1 FROM http_session WHERE key = $2 AND {ALIVE.format("$3")})""",
        user_id,
        session_key or "",
        float(ABSOLUTE_MAX_AGE),
    )
    return None if row is None else Access(row["role"], tuple(row["departments"]))
