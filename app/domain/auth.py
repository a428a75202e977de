"""Login: password check with throttling per account and per address.

Successes, failures on existing accounts and logouts are audited (``app.domain.audit``).
Failures are rows in ``login_failure`` so that every process sees the same counts. An
address gets four times the account allowance, so that one office behind a NAT is not
locked out by one person's typos, while a guesser spraying many accounts still is.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.domain import sql
from app.domain.account import verify_second_factor
from app.domain.audit import Actor, actor_of, record_audit
from app.domain.errors import Throttled
from app.domain.passwords import verify_password
from app.domain.tables import User
from app.i18n import ngettext

ADDRESS_FACTOR = 4


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int = 5
    window_seconds: int = 900


async def _failures(scope: str, key: str, window: int) -> tuple[int, int]:
    row = await sql.fetchone(
        """SELECT count(*) AS n,
                  coalesce(ceil(extract(epoch FROM min(at) + make_interval(secs => $3) - now())), 0)::int AS wait
           FROM login_failure WHERE scope = $1 AND key = $2 AND at > now() - make_interval(secs => $3)""",
        scope,
        key,
        float(window),
    )
    return row["n"], max(1, row["wait"])


async def authenticate(email: str, password: str, address: str, policy: ThrottlePolicy) -> User | None:
    """The active user with these credentials, None for wrong ones; ``Throttled`` when locked."""
    email = (email or "").replace("\x00", "").strip().lower()[:254]
    address = (address or "unknown").replace("\x00", "")[:254]
    for scope, key, limit in (
        ("account", email, policy.max_failures),
        ("address", address, policy.max_failures * ADDRESS_FACTOR),
    ):
        count, wait = await _failures(scope, key, policy.window_seconds)
        if count >= limit:
            minutes = max(1, round(wait / 60))
            known = await User.objects().where(User.email == email).first() if email else None
            if known is not None:
                async with sql.transaction():
                    await record_audit(
                        known.company_id,
                        "login.throttled",
                        actor=Actor(None, email, address),
                        after={"by": scope},
                        **_target(known),
                    )
            message = ngettext(
                "Too many failed attempts. Try again in %(num)d minute.",
                "Too many failed attempts. Try again in %(num)d minutes.",
                minutes,
            )
            raise Throttled(message % {"num": minutes}, retry_after=wait)
    user = await User.objects().where(User.email == email).first() if email else None
    ok = await verify_password(user.password_hash if user else None, password or "")
    if ok and user is not None and user.active:
        async with sql.transaction():
            await sql.execute("DELETE FROM login_failure WHERE scope = 'account' AND key = $1", email)
            await record_audit(user.company_id, "login.succeeded", actor=actor_of(user, address), **_target(user))
        return user
    async with sql.transaction():
        await sql.execute(
            "INSERT INTO login_failure (scope, key) VALUES ('account', $1), ('address', $2)", email, address
        )
        if user is not None:  # an unknown e-mail has no company to file the attempt under
            reason = "wrong password" if not ok else "deactivated"
            await record_audit(
                user.company_id,
                "login.failed",
                actor=Actor(None, email, address),
                after={"reason": reason},
                **_target(user),
            )
    return None


def _target(user: User) -> dict:
    return {"target_type": "user", "target_id": user.id, "target_label": f"{user.name} <{user.email}>"}


async def record_logout(user: User, address: str) -> None:
    """Logging out is audited like logging in, and the person is offline at once (not after
    the presence grace period): nothing more is routed to them and the dispatcher moves on
    what they hold (app.dispatch.assignment.redistribute_from)."""
    from app.domain.presence import record_change

    async with sql.transaction():
        await record_audit(user.company_id, "logout", actor=actor_of(user, address), **_target(user))
        old = await sql.fetchval(
            """UPDATE app_user u SET presence = 'offline', presence_changed_at = now()
               FROM (SELECT id, presence FROM app_user WHERE id = $1 FOR UPDATE) o
               WHERE u.id = o.id AND o.presence <> 'offline' RETURNING o.presence""",
            user.id,
        )
        if old is not None:
            await record_change(user.company_id, user.id, old, "offline", "logout")


async def purge_old_failures(window_seconds: int) -> None:
    await sql.execute("DELETE FROM login_failure WHERE at < now() - make_interval(secs => $1)", float(window_seconds))


async def second_factor(user_id: int, code: str, address: str, policy: ThrottlePolicy) -> User | None:
    """The login's second step (TOTP or a recovery code) for a user whose password was right:
    the user when accepted, None when not; ``Throttled`` after too many wrong codes."""
    key = str(user_id)
    count, wait = await _failures("mfa", key, policy.window_seconds)
    user = await User.objects().where((User.id == user_id) & (User.active.eq(True))).first()
    if user is None:
        return None
    if count >= policy.max_failures:
        minutes = max(1, round(wait / 60))
        async with sql.transaction():
            await record_audit(
                user.company_id,
                "login.throttled",
                actor=actor_of(user, address),
                after={"step": "second factor"},
                **_target(user),
            )
        raise Throttled(
            ngettext(
                "Too many failed attempts. Try again in %(num)d minute.",
                "Too many failed attempts. Try again in %(num)d minutes.",
                minutes,
            )
            % {"num": minutes},
            retry_after=wait,
        )
    kind = await verify_second_factor(user_id, code)
    async with sql.transaction():
        if kind is None:
            await sql.execute("INSERT INTO login_failure (scope, key) VALUES ('mfa', $1)", key)
            await record_audit(user.company_id, "login.mfa_failed", actor=actor_of(user, address), **_target(user))
            return None
        await sql.execute("DELETE FROM login_failure WHERE scope = 'mfa' AND key = $1", key)
        await record_audit(
            user.company_id, "login.mfa_succeeded", actor=actor_of(user, address), after={"with": kind}, **_target(user)
        )
    return user
