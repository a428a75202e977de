"""One person, one availability: an agent's extension and what their phone is doing.

* ``agent_extension`` links a user to one of the company's extensions (an extension belongs
  to at most one user, a user has at most one extension).
* ``agent_phone`` is the linked extension's state (idle / ringing / busy / unavailable, the
  call and the other party, the queue pause), written only by the AMI leader
  (``app.telephony.agents``) and read by dispatch, the screen-pop and the wallboard.
* ``voice_settings`` says what a call does to chat routing, per company.

Dispatch reads the phone through one SQL fragment, ``PHONE_CAPACITY_CUT``: how many chat slots
a ringing or talking agent loses (all of them by default). Conversations they hold stay theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from piccolo.columns import Boolean, Integer, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.domain import sql
from app.domain.audit import record_audit
from app.domain.errors import ValidationError
from app.domain.events import CHANNEL, Event, UserChanged, emit
from app.domain.tables import User
from app.domain.validation import Cleaner
from app.i18n import N_

ON_THE_PHONE = ("ringing", "busy")
DURING_CALL = ("no_chats", "fewer", "same")
PAUSE_WHEN = ("offline", "not_online")


class AgentExtension(Table, tablename="agent_extension"):
    """Which extension is an agent's phone (one user per extension)."""

    user_id = Integer(primary_key=True)
    company_id = Integer()
    extension_id = Integer(unique=True)


class AgentPhone(Table, tablename="agent_phone"):
    """A linked agent's phone, as the AMI leader last saw it."""

    user_id = Integer(primary_key=True)
    company_id = Integer()
    extension = Varchar(length=80, default="")
    state = Varchar(length=16, default="idle")
    call_id = Varchar(length=64, default="")
    peer_num = Varchar(length=80, default="")
    peer_name = Varchar(length=120, default="")
    paused = Boolean(default=False)
    paused_reason = Varchar(length=80, default="")
    since = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class VoiceSettings(Table, tablename="voice_settings"):
    """What a call does to chat routing and presence, and the missed-call message, per company."""

    company_id = Integer(primary_key=True)
    during_call = Varchar(length=16, default="no_chats")
    capacity_cut = Integer(default=1)
    pause_when = Varchar(length=16, default="offline")
    missed_call_template = Varchar(length=512, default="")
    missed_call_language = Varchar(length=16, default="en")
    missed_call_auto = Boolean(default=False)


PHONE_TABLES = [AgentExtension, AgentPhone, VoiceSettings]


@dataclass(frozen=True)
class AgentPhoneChanged(Event):
    """A linked agent's phone rang, was answered, hung up, or was paused (by anyone)."""

    name: ClassVar[str] = "agent-phone-changed"
    user_id: int
    state: str
    call_id: str = ""
    version: int = 0


# Chat slots an agent loses while their phone rings or is in a call; ``u`` is the app_user row
# of dispatch's candidate query. No voice_settings row means the default: no new chats.
PHONE_CAPACITY_CUT = """coalesce((SELECT CASE vs.during_call WHEN 'fewer' THEN vs.capacity_cut
                                              WHEN 'same' THEN 0 ELSE u.capacity END
            FROM agent_phone ap LEFT JOIN voice_settings vs ON vs.company_id = ap.company_id
            WHERE ap.user_id = u.id AND ap.state IN ('ringing', 'busy')), 0)"""


# Links ----------------------------------------------------------------------------------


async def linked_extension(company_id: int, user_id: int) -> dict | None:
    row = await sql.fetchrow(
        """SELECT o.id, o.name, o.label FROM agent_extension a JOIN pbx_object o ON o.id = a.extension_id
           WHERE a.company_id = $1 AND a.user_id = $2""",
        company_id,
        user_id,
    )
    return dict(row) if row else None


async def extension_choices(company_id: int) -> list[dict]:
    """The company's extensions with the user each is linked to (for the user form)."""
    rows = await sql.fetch(
        """SELECT o.id, o.name, o.label, a.user_id, u.name AS user_name FROM pbx_object o
           LEFT JOIN agent_extension a ON a.extension_id = o.id LEFT JOIN app_user u ON u.id = a.user_id
           WHERE o.company_id = $1 AND o.kind = 'extension' ORDER BY o.name""",
        company_id,
    )
    return [dict(r) for r in rows]


async def clean_extension_link(company_id: int, user_id: int | None, raw: object) -> int | None:
    """The extension id chosen in the user form ('' = none), or ValidationError."""
    text = str(raw or "").strip()
    if not text:
        return None
    try:
        extension_id = int(text)
    except ValueError:
        raise ValidationError({"extension_id": N_("Choose one of your extensions.")}) from None
    row = await sql.fetchrow(
        """SELECT o.name, a.user_id FROM pbx_object o LEFT JOIN agent_extension a ON a.extension_id = o.id
           WHERE o.id = $1 AND o.company_id = $2 AND o.kind = 'extension'""",
        extension_id,
        company_id,
    )
    if row is None:
        raise ValidationError({"extension_id": N_("Choose one of your extensions.")})
    if row["user_id"] not in (None, user_id):
        raise ValidationError({"extension_id": N_("This extension is already someone else's phone.")})
    return extension_id


async def link_extension(actor: User, user_id: int, raw: object) -> None:
    """Link ``user_id`` to the extension with id ``raw`` ('' unlinks); an extension linked to
    someone else is refused (and the unique key stops two admins racing for it)."""
    extension_id = await clean_extension_link(actor.company_id, user_id, raw)
    before = await linked_extension(actor.company_id, user_id)
    if (before or {}).get("id") == extension_id:
        return
    async with sql.transaction():
        if not await sql.fetchval(
            "SELECT 1 FROM app_user WHERE id = $1 AND company_id = $2", user_id, actor.company_id
        ):
            raise ValidationError({"extension_id": N_("No such user.")})
        await sql.execute(
            "DELETE FROM agent_extension WHERE user_id = $1 AND company_id = $2", user_id, actor.company_id
        )
        await sql.execute("DELETE FROM agent_phone WHERE user_id = $1 AND company_id = $2", user_id, actor.company_id)
        if extension_id is not None:
            await sql.execute(
                "INSERT INTO agent_extension (user_id, company_id, extension_id) VALUES ($1, $2, $3)",
                user_id,
                actor.company_id,
                extension_id,
            )
        # The AMI leader keeps the links in memory and re-reads them on this event (issue 17).
        await emit(UserChanged(company_id=actor.company_id, user_id=user_id))
        await record_audit(
            actor.company_id,
            "user.extension",
            target_type="user",
            target_id=user_id,
            target_label=f"#{user_id}",
            before={"extension": (before or {}).get("name")},
            after={"extension": extension_id},
        )


# Settings -------------------------------------------------------------------------------


async def get_voice_settings(company_id: int) -> dict:
    row = await sql.fetchrow("SELECT * FROM voice_settings WHERE company_id = $1", company_id)
    defaults = {
        "company_id": company_id,
        "during_call": "no_chats",
        "capacity_cut": 1,
        "pause_when": "offline",
        "missed_call_template": "",
        "missed_call_language": "en",
        "missed_call_auto": False,
    }
    return {**defaults, **(dict(row) if row else {})}


async def update_voice_settings(actor: User, data: dict) -> dict:
    c = Cleaner(data)
    values = {
        "during_call": c.choice("during_call", list(DURING_CALL), default="no_chats"),
        "capacity_cut": c.integer("capacity_cut", low=0, high=100, default=1),
        "pause_when": c.choice("pause_when", list(PAUSE_WHEN), default="offline"),
        "missed_call_template": c.text("missed_call_template", max_len=512, required=False),
        "missed_call_language": c.text("missed_call_language", max_len=16, required=False, default="en") or "en",
        "missed_call_auto": str(data.get("missed_call_auto") or "").lower() in {"1", "on", "true", "yes"},
    }
    if values["missed_call_auto"] and not values["missed_call_template"]:
        c.fail("missed_call_template", N_("Name the template to send."))
    c.raise_if_errors()
    before = await get_voice_settings(actor.company_id)
    async with sql.transaction():
        await sql.execute(
            """INSERT INTO voice_settings (company_id, during_call, capacity_cut, pause_when, missed_call_template,
                   missed_call_language, missed_call_auto) VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (company_id) DO UPDATE SET during_call = $2, capacity_cut = $3, pause_when = $4,
                   missed_call_template = $5, missed_call_language = $6, missed_call_auto = $7""",
            actor.company_id,
            *values.values(),
        )
        await record_audit(
            actor.company_id,
            "voice.settings",
            target_type="company",
            target_id=actor.company_id,
            before={k: before[k] for k in values},
            after=values,
        )
    return await get_voice_settings(actor.company_id)


# Phone state (written by the AMI leader) -------------------------------------------------


@dataclass(frozen=True)
class PhoneState:
    user_id: int
    company_id: int
    extension: str
    state: str
    call_id: str = ""
    peer_num: str = ""
    peer_name: str = ""
    paused: bool = False
    paused_reason: str = ""


async def record_phone_states(states: list[PhoneState]) -> None:
    """Store changed phone states and send one event each, in one transaction of three
    statements whatever their number (the AMI leader calls it at once after the AMI event, so
    the screen-pop leaves within milliseconds). ``synchronous_commit`` is off for it: a phone
    state is recomputed from Asterisk after any restart, so losing the last few milliseconds of
    them in a crash costs nothing, and not waiting for the WAL flush halves the latency."""
    if not states:
        return
    cols = list(
        zip(
            *[
                (
                    s.user_id,
                    s.company_id,
                    s.extension,
                    s.state,
                    s.call_id[:64],
                    s.peer_num[:80],
                    s.peer_name[:120],
                    s.paused,
                    s.paused_reason[:80],
                )
                for s in states
            ]
        )
    )
    async with sql.transaction():
        await sql.execute("SET LOCAL synchronous_commit = off")
        rows = await sql.fetch(
            """INSERT INTO agent_phone (user_id, company_id, extension, state, call_id, peer_num, peer_name, paused,
                   paused_reason)
               SELECT p.* FROM unnest($1::int[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                                      $8::bool[], $9::text[])
                    AS p(user_id, company_id, extension, state, call_id, peer_num, peer_name, paused, paused_reason)
               JOIN app_user u ON u.id = p.user_id AND u.company_id = p.company_id
               ON CONFLICT (user_id) DO UPDATE SET extension = excluded.extension, state = excluded.state,
                   call_id = excluded.call_id, peer_num = excluded.peer_num, peer_name = excluded.peer_name,
                   paused = excluded.paused, paused_reason = excluded.paused_reason, updated_at = now(),
                   since = CASE WHEN agent_phone.state = excluded.state THEN agent_phone.since ELSE now() END
               RETURNING user_id, company_id, state, call_id""",
            *[list(c) for c in cols],
        )
        events = [
            AgentPhoneChanged(company_id=r["company_id"], user_id=r["user_id"], state=r["state"], call_id=r["call_id"])
            for r in rows
        ]
        # emit() for all of them in one statement (the NOTIFYs leave at commit, as emit's do).
        await sql.execute("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p", CHANNEL, [e.encode() for e in events])


async def get_phone(company_id: int, user_id: int) -> dict | None:
    row = await sql.fetchrow("SELECT * FROM agent_phone WHERE company_id = $1 AND user_id = $2", company_id, user_id)
    return dict(row) if row else None


async def phones_of(company_id: int) -> dict[int, dict]:
    rows = await sql.fetch("SELECT * FROM agent_phone WHERE company_id = $1", company_id)
    return {r["user_id"]: dict(r) for r in rows}
