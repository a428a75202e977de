"""Request bodies of the operator API (seed 004's ``/api/extensions``, ``/api/trunks``,
``/api/queues``, ``/api/calls``), as msgspec structs like ``app.api.schemas``.

Seed 004's front end sends on PUT the whole object it read (``Extension``, ``Trunk``, ``Queue``
with ``id``, ``status``, ``ipAddress``, ``userAgent``, ``waitingCalls``), so unknown and
read-only fields are accepted and ignored, and every field of an update may be left out:
what is left out keeps its current value (``UNSET``). The domain checks every value again.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

Digits = Annotated[str, Meta(pattern=r"^[0-9]{2,10}$", description="2 to 10 digits")]
Label = Annotated[str, Meta(min_length=1, max_length=24, description="Display name (caller id)")]
Codecs = Annotated[list[Annotated[str, Meta(max_length=10)]], Meta(max_length=6)] | Annotated[str, Meta(max_length=80)]
Secret = Annotated[
    str,
    Meta(
        min_length=12,
        max_length=80,
        pattern=r"^[!-~]+$",
        description="SIP password: 12 to 80 printable characters, no spaces",
    ),
]
Flag = bool | Literal["yes", "no", "on", "off", "true", "false", "1", "0", ""]


def flag(value: object) -> bool:
    return value is True or str(value).lower() in {"1", "on", "true", "yes"}


class ExtensionCreate(msgspec.Struct):
    """``codecs`` defaults to ulaw + alaw; ``secret`` (or ``password``) defaults to a generated
    one. The answer carries the SIP password once, as ``secret``."""

    number: Digits
    name: Label
    codecs: Codecs | UnsetType = UNSET
    secret: Secret | UnsetType = UNSET
    password: Secret | UnsetType = UNSET


class ExtensionUpdate(msgspec.Struct):
    """Fields left out keep their value. ``number`` cannot change (it is the SIP user name);
    ``regenerate_secret: true`` makes a new password, returned once as ``secret``."""

    number: Digits | UnsetType = UNSET
    name: Label | UnsetType = UNSET
    codecs: Codecs | UnsetType = UNSET
    secret: Secret | UnsetType = UNSET
    password: Secret | UnsetType = UNSET
    regenerate_secret: Flag = False


class TrunkCreate(msgspec.Struct):
    name: Annotated[str, Meta(pattern=r"^[A-Za-z0-9_-]{1,40}$", description="Asterisk name")]
    host: Annotated[str, Meta(min_length=1, max_length=100, description="Host or address, optionally :port")]
    label: Annotated[str, Meta(max_length=120)] = ""
    username: Annotated[str, Meta(max_length=40)] = ""
    password: Annotated[str, Meta(max_length=80)] = ""
    context: Annotated[str, Meta(max_length=40)] = "from-trunk"
    register: Flag = False
    codecs: Codecs | UnsetType = UNSET


class TrunkUpdate(msgspec.Struct):
    """Fields left out keep their value; an empty or missing ``password`` keeps the current one."""

    name: Annotated[str, Meta(max_length=40)] | UnsetType = UNSET
    host: Annotated[str, Meta(min_length=1, max_length=100)] | UnsetType = UNSET
    label: Annotated[str, Meta(max_length=120)] | UnsetType = UNSET
    username: Annotated[str, Meta(max_length=40)] | UnsetType = UNSET
    password: Annotated[str, Meta(max_length=80)] | UnsetType = UNSET
    context: Annotated[str, Meta(max_length=40)] | UnsetType = UNSET
    register: Flag | UnsetType = UNSET
    codecs: Codecs | UnsetType = UNSET


class MemberIn(msgspec.Struct):
    extension: Annotated[str, Meta(pattern=r"^[0-9]{2,10}$")]
    penalty: Annotated[int, Meta(ge=0, le=100)] = 0


Strategy = Literal["ringall", "leastrecent", "fewestcalls", "random", "rrmemory", "linear", "wrandom", "rrordered"]


class QueueCreate(msgspec.Struct):
    name: Annotated[str, Meta(pattern=r"^[A-Za-z0-9_-]{1,80}$")]
    strategy: Strategy = "ringall"
    timeout: Annotated[int, Meta(ge=1, le=600)] = 15
    wrapuptime: Annotated[int, Meta(ge=0, le=3600)] = 0
    maxlen: Annotated[int, Meta(ge=0, le=1000)] = 0
    members: Annotated[list[MemberIn], Meta(max_length=200)] = []


class QueueUpdate(msgspec.Struct):
    """Fields left out keep their value: a PUT without ``members`` keeps every member."""

    name: Annotated[str, Meta(max_length=80)] | UnsetType = UNSET
    strategy: Strategy | UnsetType = UNSET
    timeout: Annotated[int, Meta(ge=1, le=600)] | UnsetType = UNSET
    wrapuptime: Annotated[int, Meta(ge=0, le=3600)] | UnsetType = UNSET
    maxlen: Annotated[int, Meta(ge=0, le=1000)] | UnsetType = UNSET
    members: Annotated[list[MemberIn], Meta(max_length=200)] | UnsetType = UNSET


Channel = Annotated[str, Meta(min_length=1, max_length=80, description="The call's channel, e.g. PJSIP/1001-00000001")]


class HangupIn(msgspec.Struct):
    channel: Channel


class TransferIn(msgspec.Struct):
    channel: Channel
    destination: Annotated[str, Meta(pattern=r"^[0-9*#+]{1,32}$")]


class ActionOut(msgspec.Struct):
    ok: bool
    message: str
