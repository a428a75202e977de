"""A person's own settings: the name colleagues see, the interface language, the alert sound.

Anyone logged in changes their own, and only these (role, capacity, departments and e-mail
stay with admins, in ``app.domain.users``). Password and two-factor login live with account
security. The change is audited and announced (``UserChanged``) like an admin's edit.
"""

from __future__ import annotations

from app.domain import sql
from app.domain.audit import record_audit
from app.domain.events import UserChanged, emit
from app.domain.tables import User
from app.domain.users import LANGUAGES
from app.domain.validation import Cleaner
from app.i18n import N_

SOUNDS = {
    "chime": N_("Chime"),
    "bell": N_("Bell"),
    "pop": N_("Pop"),
    "none": N_("No sound"),
}


def profile_values(user: User) -> dict:
    return {
        "name": user.name,
        "language": user.language or "",
        "notification_sound": user.notification_sound or "chime",
    }


async def update_profile(user: User, data: dict) -> dict:
    """Validate and save the user's own name, language and notification sound."""
    c = Cleaner(data)
    values = {
        "name": c.text("name", max_len=120),
        "language": c.choice("language", LANGUAGES, default=""),
        "notification_sound": c.choice("notification_sound", SOUNDS, default="chime"),
    }
    c.raise_if_errors()
    async with sql.transaction():
        row = await sql.fetchrow(
            "SELECT name, language, notification_sound FROM app_user WHERE id = $1 AND active FOR UPDATE",
            user.id,
        )
        before = {
            "name": row["name"],
            "language": row["language"],
            "notification_sound": row["notification_sound"],
        }
        if before == values:
            return values
        await sql.execute(
            "UPDATE app_user SET name = $2, language = $3, notification_sound = $4 WHERE id = $1",
            user.id,
            values["name"],
            values["language"],
            values["notification_sound"],
        )
        await record_audit(
            user.company_id,
            "user.profile_updated",
            target_type="user",
            target_id=user.id,
            target_label=f"{values['name']} <{user.email}>",
            before=before,
            after=values,
        )
        await emit(UserChanged(company_id=user.company_id, user_id=user.id))
    return values
