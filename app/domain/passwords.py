"""argon2id password hashing, run in a thread: one hash costs about 0.2 s of CPU."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

from app.i18n import N_, gettext

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters

# Verified when the e-mail is unknown, so that both answers take the same time.
_DUMMY_HASH = _hasher.hash("switchboard-timing-equaliser")


# ASVS 2.1.1: at least 12 characters; 2.1.7: refuse common and guessable ones (zxcvbn's
# dictionaries and its score, 0-4: 3 is "safely unguessable: moderate protection from an
# offline slow-hash scenario").
MIN_LENGTH = 12
MIN_SCORE = 3
# zxcvbn measures the first 72 characters (its own limit; longer ones are strong by length).
ZXCVBN_MAX = 72


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


def password_problem(password: str, user_inputs: tuple[str, ...] = ()) -> str | None:
    """The reason a new password is refused, or None. ``user_inputs`` (the user's e-mail, name,
    the company's name) count as guessable words; zxcvbn's own advice is shown with the refusal."""
    if len(password) < MIN_LENGTH:
        return gettext("Use at least %(min)d characters.") % {"min": MIN_LENGTH}
    if len(password) > 256:
        return N_("Use at most 256 characters.")
    words = [w for value in user_inputs for w in [value, *value.replace("@", " ").replace(".", " ").split()] if w]
    result = zxcvbn(password[:ZXCVBN_MAX], user_inputs=words)
    if result["score"] < MIN_SCORE:
        feedback = result.get("feedback") or {}
        advice = " ".join(x for x in [feedback.get("warning") or "", *(feedback.get("suggestions") or [])] if x)
        return " ".join(x for x in [gettext("This password is too easy to guess."), advice] if x)
    return None
