"""argon2id password hashing, run in a thread: one hash costs about 0.2 s of CPU."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.i18n import N_, gettext

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters

# Verified when the e-mail is unknown, so that both answers take the same time.
_DUMMY_HASH = _hasher.hash("switchboard-timing-equaliser")

MIN_LENGTH = 10


def hash_password_sync(password: str) -> str:
    return _hasher.hash(password)


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str | None, password: str) -> bool:
    return await asyncio.to_thread(_verify, password_hash, password)


def password_problem(password: str) -> str | None:
    """The reason a new password is refused, or None."""
    if len(password) < MIN_LENGTH:
        return gettext("Use at least %(min)d characters.") % {"min": MIN_LENGTH}
    if len(password) > 256:
        return N_("Use at most 256 characters.")
    return None
