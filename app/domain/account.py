"""A user's own security: changing their password and two-factor login (TOTP + recovery codes).

TOTP follows RFC 6238 with authenticator-app defaults (SHA-1, 6 digits, 30 s; pyotp), one step
of clock drift either way, and no code accepted twice (``mfa_last_step``). Ten recovery codes
are made at enrolment and shown once; each works once. The enrolment QR code is inline SVG
(segno), so no image service ever sees the secret. What does not live here: login throttling
(``app.domain.auth``) and sessions (``app.domain.sessions``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import pyotp
import segno

from app.domain import sql
from app.domain.audit import record_audit
from app.domain.errors import ValidationError
from app.domain.passwords import hash_password, password_problem, verify_password
from app.domain.sessions import end_user_sessions
from app.domain.tables import User
from app.i18n import N_

ISSUER = "Switchboard"
RECOVERY_CODES = 10
STEP = 30


async def change_password(user: User, current: str, new: str, confirm: str, keep_session: str | None) -> None:
    """The user's own password change: the current one is required, the new one must pass the
    policy, and every other session of the user ends (a thief's session does not survive)."""
    errors: dict[str, str] = {}
    if not await verify_password(user.password_hash, current or ""):
        errors["current_password"] = N_("This is not your current password.")
    problem = password_problem(new or "", (user.email, user.name))
    if problem:
        errors["new_password"] = problem
    elif new != confirm:
        errors["confirm_password"] = N_("The two new passwords differ.")
    elif new == current:
        errors["new_password"] = N_("Choose a password you have not used here.")
    if errors:
        raise ValidationError(errors)
    password_hash = await hash_password(new)
    async with sql.transaction():
        await sql.execute(
            "UPDATE app_user SET password_hash = $2 WHERE id = $1",
            user.id,
            password_hash,
        )
        await record_audit(
            user.company_id,
            "password.changed",
            target_type="user",
            target_id=user.id,
            target_label=user.email,
        )
    await end_user_sessions(user.company_id, user.id, except_key=keep_session, reason="password changed")


# Two-factor --------------------------------------------------------------------------------


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str, company: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=f"{ISSUER} ({company})" if company else ISSUER)


def qr_svg(uri: str) -> str:
    """The enrolment QR code as an inline <svg> element (no external image)."""
    return segno.make(uri, error="m").svg_inline(scale=4, dark="#111827", light="#ffffff")


def _step_of(secret: str, code: str, last_step: int, at: float | None = None) -> int | None:
    """The time step ``code`` belongs to (now, or one step either side), if newer than ``last_step``."""
    code = "".join(ch for ch in (code or "") if ch.isdigit())
    if len(code) != 6 or not secret:
        return None
    totp = pyotp.TOTP(secret)
    now = at if at is not None else time.time()
    for offset in (0, -1, 1):
        step = int(now // STEP) + offset
        if step > last_step and hmac.compare_digest(totp.at(step * STEP), code):
            return step
    return None


def _digest(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").replace(" ", "").lower().encode()).hexdigest()


def _recovery_codes() -> list[str]:
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(alphabet) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


async def enable_mfa(user: User, secret: str, code: str) -> list[str]:
    """Turn two-factor login on once the user proved their app shows ``code``: the recovery codes."""
    step = _step_of(secret, code, 0)
    if step is None:
        raise ValidationError({"code": N_("That code is not the one your app shows now. Try the next one.")})
    codes = _recovery_codes()
    async with sql.transaction():
        await sql.execute(
            "UPDATE app_user SET mfa_secret = $2, mfa_enabled_at = now(), mfa_last_step = $3 WHERE id = $1",
            user.id,
            secret,
            step,
        )
        await sql.execute("DELETE FROM mfa_recovery_code WHERE user_id = $1", user.id)
        await sql.execute(
            "INSERT INTO mfa_recovery_code (user_id, code_hash) SELECT $1, unnest($2::text[])",
            user.id,
            [_digest(c) for c in codes],
        )
        await record_audit(
            user.company_id,
            "mfa.enabled",
            target_type="user",
            target_id=user.id,
            target_label=user.email,
        )
    return codes


async def disable_mfa(user: User, password: str) -> None:
    if not await verify_password(user.password_hash, password or ""):
        raise ValidationError({"password": N_("This is not your current password.")})
    if user.role == "admin" and await sql.fetchval(
        "SELECT mfa_required_for_admins FROM company WHERE id = $1", user.company_id
    ):
        raise ValidationError({"password": N_("Your company requires two-factor login for admins.")})
    async with sql.transaction():
        await sql.execute(
            "UPDATE app_user SET mfa_secret = '', mfa_enabled_at = NULL, mfa_last_step = 0 WHERE id = $1",
            user.id,
        )
        await sql.execute("DELETE FROM mfa_recovery_code WHERE user_id = $1", user.id)
        await record_audit(
            user.company_id,
            "mfa.disabled",
            target_type="user",
            target_id=user.id,
            target_label=user.email,
        )


async def verify_second_factor(user_id: int, code: str) -> str | None:
    """Check a login's second step: "totp" or "recovery" when ``code`` is accepted (it cannot
    be used again), None when not. The caller throttles and audits."""
    async with sql.transaction():
        row = await sql.fetchrow(
            "SELECT mfa_secret, mfa_last_step FROM app_user WHERE id = $1 AND mfa_enabled_at IS NOT NULL FOR UPDATE",
            user_id,
        )
        if row is None:
            return None
        step = _step_of(row["mfa_secret"], code, row["mfa_last_step"])
        if step is not None:
            await sql.execute("UPDATE app_user SET mfa_last_step = $2 WHERE id = $1", user_id, step)
            return "totp"
        used = await sql.fetchval(
            """UPDATE mfa_recovery_code SET used_at = now()
               WHERE id = (SELECT id FROM mfa_recovery_code WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL
                           LIMIT 1) RETURNING id""",
            user_id,
            _digest(code or ""),
        )
        return "recovery" if used else None


async def recovery_codes_left(user_id: int) -> int:
    left: int = await sql.fetchval(
        "SELECT count(*) FROM mfa_recovery_code WHERE user_id = $1 AND used_at IS NULL",
        user_id,
    )
    return left


async def mfa_required(user: User) -> bool:
    """Whether this user must have two-factor login (admins, when their company says so)."""
    if user.role != "admin":
        return False
    return bool(await sql.fetchval("SELECT mfa_required_for_admins FROM company WHERE id = $1", user.company_id))
