"""Extensions, trunks and queues: our ``pbx_object`` rows and Asterisk's Realtime rows.

An action writes, in one transaction, the ownership row (``pbx_object``: which company owns
which Asterisk name), the Asterisk Realtime rows a real Asterisk reads (PJSIP ``ps_*`` by
default, chan_sip ``sippeers`` when ``ASTERISK_SIP_DRIVER=sip``; ``queues`` / ``queue_members``),
and an audit line. Asterisk's names are global to the PBX: a number taken by another company,
or by a row we did not create, is refused as a duplicate.

Realtime quirks (ASTERISK-NOTES §1, ``res/res_config_pgsql.c``): values are split on ``;`` so a
literal ``;`` is stored as ``^3B``; ``queue_members.uniqueid`` has no default on PostgreSQL and
app_queue keys its write-backs on it, so members keep their uniqueid across edits.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass

import asyncpg

from app.domain import sql
from app.domain.errors import NotFound, ValidationError
from app.domain.tables import User
from app.domain.validation import Cleaner
from app.i18n import N_
from app.telephony.calls import audit
from app.telephony.live import account_code

CODECS = ["ulaw", "alaw", "g722", "opus", "g729", "gsm"]
STRATEGIES = ["ringall", "leastrecent", "fewestcalls", "random", "rrmemory", "linear", "wrandom", "rrordered"]
NUMBER_RE = re.compile(r"^[0-9]{2,10}$")
NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
QUEUE_RE = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
HOST_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,98}[A-Za-z0-9])?(?::[0-9]{1,5})?$")
CONTEXT_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
SECRET_RE = re.compile(r"^[!-~]{12,80}$")


def rt(value: str) -> str:
    """Escape a value for Asterisk Realtime, which splits values on ';' (idempotent)."""
    return value.replace(";", "^3B")


async def _rt_execute(query: str, *args: object) -> None:
    """Write Asterisk Realtime rows: every text value escaped, so no value can be cut at a ';'
    (``res/res_config_pgsql.c`` splits each value on ';'; a trunk password ``pass;1`` became ``1``)."""
    await sql.execute(query, *[rt(a) if isinstance(a, str) else a for a in args])


def new_secret() -> str:
    """A strong SIP password (24 URL-safe characters, ~144 bits), shown to the admin once."""
    return secrets.token_urlsafe(18)


@dataclass
class PbxObject:
    id: int
    kind: str
    name: str
    label: str
    details: dict


def _codecs(c: Cleaner, data: dict) -> list[str]:
    raw = data.get("codecs") or []
    if isinstance(raw, str):
        raw = [x for x in re.split(r"[,\s]+", raw) if x]
    if not isinstance(raw, list):
        c.fail("codecs", N_("Choose codecs from the list."))
        return []
    chosen = [str(x).strip().lower() for x in raw]
    if not chosen:
        c.fail("codecs", N_("Choose at least one codec."))
    elif any(x not in CODECS for x in chosen) or len(set(chosen)) != len(chosen):
        c.fail("codecs", N_("Choose codecs from the list."))
    return [x for x in CODECS if x in chosen]


async def _object(company_id: int, kind: str, object_id: int) -> PbxObject:
    row = await sql.fetchrow(
        "SELECT id, kind, name, label FROM pbx_object WHERE id = $1 AND company_id = $2 AND kind = $3",
        object_id,
        company_id,
        kind,
    )
    if row is None:
        raise NotFound(f"No such {kind}.")
    return PbxObject(row["id"], row["kind"], row["name"], row["label"], {})


async def _name_taken(kind: str, name: str) -> bool:
    if kind == "queue":
        return bool(
            await sql.fetchval("SELECT 1 FROM pbx_object WHERE kind = 'queue' AND name = $1", name)
            or await sql.fetchval("SELECT 1 FROM queues WHERE name = $1", name)
        )
    return bool(
        await sql.fetchval("SELECT 1 FROM pbx_object WHERE kind <> 'queue' AND name = $1", name)
        or await sql.fetchval("SELECT 1 FROM ps_endpoints WHERE id = $1", name)
        or await sql.fetchval("SELECT 1 FROM sippeers WHERE name = $1", name)
    )


async def _claim(company_id: int, kind: str, name: str, label: str, field: str) -> int:
    if await _name_taken(kind, name):
        raise ValidationError({field: N_("This name is already in use on the PBX.")})
    try:
        return await sql.fetchval(
            "INSERT INTO pbx_object (company_id, kind, name, label) VALUES ($1, $2, $3, $4) RETURNING id",
            company_id,
            kind,
            name,
            label,
        )
    except asyncpg.UniqueViolationError as exc:  # a concurrent create won the race
        raise ValidationError({field: N_("This name is already in use on the PBX.")}) from exc


async def _drop_contacts(name: str) -> None:
    """Forget the phones registered to endpoint ``name``: Asterisk keeps a registration in
    ``ps_contacts`` (id ``<aor>;@<hash>``, stored as ``<aor>^3B@<hash>``; ``res/res_pjsip/location.c``)
    and does not remove it when the endpoint goes, so a number re-created with a new password
    was "registered" by the old phone at once."""
    await sql.execute(
        """DELETE FROM ps_contacts WHERE endpoint = $1 OR left(id, length($1) + 4) = $1 || '^3B@'
           OR left(id, length($1) + 2) = $1 || ';@'""",
        name,
    )


async def _delete_endpoint_rows(name: str) -> None:
    for table in ("ps_endpoints", "ps_auths", "ps_aors", "ps_registrations", "ps_endpoint_id_ips"):
        await sql.execute(f"DELETE FROM {table} WHERE id = $1", name)  # noqa: S608 - fixed names
    await sql.execute("DELETE FROM sippeers WHERE name = $1", name)


# Extensions ----------------------------------------------------------------------------


def _clean_extension(data: dict, *, creating: bool) -> dict:
    c = Cleaner(data)
    values = {"label": c.text("name", max_len=24), "codecs": _codecs(c, data)}
    if creating:
        values["number"] = c.pattern("number", NUMBER_RE, N_("Use 2 to 10 digits."), max_len=10)
    values["regenerate"] = str(data.get("regenerate_secret") or "").lower() in {"1", "on", "true", "yes"}
    values["secret"] = str(data.get("secret") or "")  # an API client's own SIP password (seed 004)
    if values["secret"] and not SECRET_RE.match(values["secret"]):
        c.fail("secret", N_("A SIP password has 12 to 80 printable characters, without spaces."))
    c.raise_if_errors()
    return values


async def _write_extension(
    company_id: int, number: str, label: str, codecs: list[str], secret: str | None, *, driver: str, context: str
) -> None:
    callerid = rt(f'"{label}" <{number}>')
    account = account_code(company_id)
    if driver == "sip":
        await _rt_execute(
            """INSERT INTO sippeers (name, type, host, context, secret, disallow, allow, callerid, accountcode, defaultuser, qualify)
               VALUES ($1, 'friend', 'dynamic', $2, $3, 'all', $4, $5, $6, $1, 'yes')
               ON CONFLICT (name) DO UPDATE SET allow = $4, callerid = $5, context = $2,
                 secret = COALESCE(excluded.secret, sippeers.secret)""",
            number,
            context,
            secret,
            ",".join(codecs),
            callerid,
            account,
        )
        return
    await _rt_execute("DELETE FROM ps_endpoints WHERE id = $1", number)
    await _rt_execute("DELETE FROM ps_aors WHERE id = $1", number)
    await _rt_execute(
        """INSERT INTO ps_endpoints (id, transport, aors, auth, context, disallow, allow, direct_media, callerid, accountcode)
           VALUES ($1, NULL, $1, $1, $2, 'all', $3, 'no', $4, $5)""",
        number,
        context,
        ",".join(codecs),
        callerid,
        account,
    )
    await _rt_execute(
        "INSERT INTO ps_aors (id, max_contacts, remove_existing, qualify_frequency) VALUES ($1, 1, 'yes', 60)", number
    )
    if secret is not None:  # a new password: the phone registered with the old one is dropped
        await _drop_contacts(number)
        await _rt_execute("DELETE FROM ps_auths WHERE id = $1", number)
        await _rt_execute(
            "INSERT INTO ps_auths (id, auth_type, username, password) VALUES ($1, 'userpass', $1, $2)", number, secret
        )


async def create_extension(actor: User, data: dict, *, driver: str = "pjsip", context: str) -> tuple[PbxObject, str]:
    """Create an extension; returns it and its SIP password (generated unless given; shown once)."""
    v = _clean_extension(data, creating=True)
    secret = v["secret"] or new_secret()
    async with sql.transaction():
        object_id = await _claim(actor.company_id, "extension", v["number"], v["label"], "number")
        await _write_extension(
            actor.company_id, v["number"], v["label"], v["codecs"], secret, driver=driver, context=context
        )
        await audit(actor, "extension.create", v["number"], {"name": v["label"], "codecs": v["codecs"]})
    return await get_extension(actor.company_id, object_id), secret


async def update_extension(
    actor: User, object_id: int, data: dict, *, driver: str = "pjsip", context: str
) -> tuple[PbxObject, str | None]:
    obj = await _object(actor.company_id, "extension", object_id)
    v = _clean_extension(data, creating=False)
    generated = new_secret() if v["regenerate"] and not v["secret"] else None
    secret = v["secret"] or generated
    async with sql.transaction():
        await sql.execute("UPDATE pbx_object SET label = $2, updated_at = now() WHERE id = $1", obj.id, v["label"])
        await _write_extension(
            actor.company_id, obj.name, v["label"], v["codecs"], secret, driver=driver, context=context
        )
        await audit(
            actor, "extension.update", obj.name, {"name": v["label"], "codecs": v["codecs"], "new_secret": bool(secret)}
        )
    return await get_extension(actor.company_id, object_id), generated


async def delete_extension(actor: User, object_id: int) -> None:
    obj = await _object(actor.company_id, "extension", object_id)
    async with sql.transaction():
        await _delete_endpoint_rows(obj.name)
        await _drop_contacts(obj.name)
        await sql.execute(
            "DELETE FROM queue_members WHERE interface IN ($1, $2)", f"PJSIP/{obj.name}", f"SIP/{obj.name}"
        )
        await sql.execute("DELETE FROM pbx_object WHERE id = $1", obj.id)
        await audit(actor, "extension.delete", obj.name, {})


async def get_extension(company_id: int, object_id: int) -> PbxObject:
    obj = await _object(company_id, "extension", object_id)
    row = await sql.fetchrow("SELECT allow, context FROM ps_endpoints WHERE id = $1", obj.name) or await sql.fetchrow(
        "SELECT allow, context FROM sippeers WHERE name = $1", obj.name
    )
    obj.details = {"codecs": (row["allow"] or "").split(",") if row else [], "context": row["context"] if row else ""}
    return obj


async def list_objects(company_id: int, kind: str) -> list[PbxObject]:
    rows = await sql.fetch(
        "SELECT id, kind, name, label FROM pbx_object WHERE company_id = $1 AND kind = $2 ORDER BY name",
        company_id,
        kind,
    )
    return [PbxObject(r["id"], r["kind"], r["name"], r["label"], {}) for r in rows]


async def list_extensions(company_id: int) -> list[PbxObject]:
    rows = await sql.fetch(
        """SELECT o.id, o.name, o.label, COALESCE(e.allow, s.allow) AS allow FROM pbx_object o
           LEFT JOIN ps_endpoints e ON e.id = o.name LEFT JOIN sippeers s ON s.name = o.name
           WHERE o.company_id = $1 AND o.kind = 'extension' ORDER BY o.name""",
        company_id,
    )
    return [
        PbxObject(r["id"], "extension", r["name"], r["label"], {"codecs": (r["allow"] or "").split(",")}) for r in rows
    ]


# Trunks --------------------------------------------------------------------------------


def _clean_trunk(data: dict, *, creating: bool) -> dict:
    c = Cleaner(data)
    values = {
        "host": c.pattern("host", HOST_RE, N_("Enter a host name or address, optionally with :port."), max_len=100),
        "username": c.text("username", max_len=40, required=False),
        "password": str(data.get("password") or ""),
        "context": c.pattern("context", CONTEXT_RE, N_("Letters, digits, - and _ only."), max_len=40)
        if data.get("context")
        else "from-trunk",
        "register": str(data.get("register") or "").lower() in {"1", "on", "true", "yes"},
        "codecs": _codecs(c, data),
    }
    if creating:
        values["name"] = c.pattern("name", NAME_RE, N_("Letters, digits, - and _ only (at most 40)."), max_len=40)
    if len(values["password"]) > 80 or any(ch in values["password"] for ch in "\r\n\x00"):
        c.fail("password", N_("Use at most 80 characters on one line."))
    if any(ch in values["username"] for ch in "@:;<> "):
        c.fail("username", N_("A user name without spaces, @, : or ;."))
    if values["register"] and not values["username"]:
        c.fail("username", N_("Registration needs a user name."))
    c.raise_if_errors()
    return values


async def _write_trunk(company_id: int, name: str, v: dict, password: str | None, *, driver: str) -> None:
    host = v["host"]
    bare_host = host.split(":")[0]
    username = v["username"]
    if driver == "sip":
        await _rt_execute("DELETE FROM sippeers WHERE name = $1", name)
        await _rt_execute(
            """INSERT INTO sippeers (name, type, host, context, defaultuser, fromuser, secret, insecure, disallow, allow, accountcode, qualify)
               VALUES ($1, 'peer', $2, $3, NULLIF($4, ''), NULLIF($4, ''), $5, 'port,invite', 'all', $6, $7, 'yes')""",
            name,
            bare_host,
            v["context"],
            username,
            rt(password) if password else None,
            ",".join(v["codecs"]),
            account_code(company_id),
        )
        return
    old_password = await sql.fetchval("SELECT password FROM ps_auths WHERE id = $1", name)
    await _delete_endpoint_rows(name)
    password = password if password is not None else old_password
    has_auth = bool(username)
    await _rt_execute(
        """INSERT INTO ps_endpoints (id, aors, outbound_auth, context, disallow, allow, direct_media, from_user, accountcode)
           VALUES ($1, $1, $2, $3, 'all', $4, 'no', NULLIF($5, ''), $6)""",
        name,
        name if has_auth else None,
        v["context"],
        ",".join(v["codecs"]),
        username,
        account_code(company_id),
    )
    await _rt_execute(
        "INSERT INTO ps_aors (id, contact, qualify_frequency) VALUES ($1, $2, 60)", name, rt(f"sip:{host}")
    )
    if has_auth:
        await _rt_execute(
            "INSERT INTO ps_auths (id, auth_type, username, password) VALUES ($1, 'userpass', $2, $3)",
            name,
            username,
            password or "",
        )
    if v["register"]:
        await _rt_execute(
            """INSERT INTO ps_registrations (id, server_uri, client_uri, contact_user, outbound_auth, retry_interval,
                 forbidden_retry_interval, expiration, endpoint, line)
               VALUES ($1, $2, $3, $4, $1, 60, 300, 3600, $1, 'yes')""",
            name,
            rt(f"sip:{host}"),
            rt(f"sip:{username}@{host}"),
            username,
        )
    await _rt_execute("INSERT INTO ps_endpoint_id_ips (id, endpoint, match) VALUES ($1, $1, $2)", name, bare_host)


async def create_trunk(actor: User, data: dict, *, driver: str = "pjsip") -> PbxObject:
    v = _clean_trunk(data, creating=True)
    async with sql.transaction():
        object_id = await _claim(actor.company_id, "trunk", v["name"], str(data.get("label") or "")[:120], "name")
        await _write_trunk(actor.company_id, v["name"], v, v["password"], driver=driver)
        await audit(actor, "trunk.create", v["name"], {"host": v["host"], "register": v["register"]})
    return await get_trunk(actor.company_id, object_id)


async def update_trunk(actor: User, object_id: int, data: dict, *, driver: str = "pjsip") -> PbxObject:
    obj = await _object(actor.company_id, "trunk", object_id)
    v = _clean_trunk(data, creating=False)
    async with sql.transaction():
        await sql.execute(
            "UPDATE pbx_object SET label = coalesce($2, label), updated_at = now() WHERE id = $1",
            obj.id,
            str(data["label"])[:120] if data.get("label") is not None else None,
        )
        await _write_trunk(actor.company_id, obj.name, v, v["password"] or None, driver=driver)
        await audit(
            actor,
            "trunk.update",
            obj.name,
            {"host": v["host"], "register": v["register"], "new_password": bool(v["password"])},
        )
    return await get_trunk(actor.company_id, object_id)


async def delete_trunk(actor: User, object_id: int) -> None:
    obj = await _object(actor.company_id, "trunk", object_id)
    async with sql.transaction():
        await _delete_endpoint_rows(obj.name)
        await sql.execute("DELETE FROM pbx_object WHERE id = $1", obj.id)
        await audit(actor, "trunk.delete", obj.name, {})


# A trunk's details from Asterisk's tables (PJSIP rows, else a chan_sip peer), for one trunk or
# all of a company's in one query.
_TRUNKS = """
SELECT o.id, o.kind, o.name, o.label,
       ep.id IS NOT NULL AS pjsip, ep.allow AS ep_allow, ep.context AS ep_context, aor.contact, auth.username,
       reg.id IS NOT NULL AS registers,
       peer.name IS NOT NULL AS chan_sip, peer.allow AS peer_allow, peer.context AS peer_context, peer.host AS peer_host, peer.defaultuser
FROM pbx_object o
LEFT JOIN ps_endpoints ep ON ep.id = o.name
LEFT JOIN ps_aors aor ON aor.id = o.name
LEFT JOIN ps_auths auth ON auth.id = o.name
LEFT JOIN ps_registrations reg ON reg.id = o.name
LEFT JOIN sippeers peer ON peer.name = o.name
WHERE o.company_id = $1 AND o.kind = 'trunk'
"""


def _trunk(r: asyncpg.Record) -> PbxObject:
    obj = PbxObject(r["id"], r["kind"], r["name"], r["label"], {})
    if r["pjsip"]:
        host = (r["contact"] or "").removeprefix("sip:").replace("^3B", ";")
        obj.details = {
            "codecs": (r["ep_allow"] or "").split(","),
            "context": r["ep_context"],
            "host": host,
            "username": r["username"] or "",
            "register": r["registers"],
        }
    elif r["chan_sip"]:
        obj.details = {
            "codecs": (r["peer_allow"] or "").split(","),
            "context": r["peer_context"],
            "host": r["peer_host"],
            "username": r["defaultuser"] or "",
            "register": False,
        }
    return obj


async def get_trunk(company_id: int, object_id: int) -> PbxObject:
    row = await sql.fetchrow(_TRUNKS + " AND o.id = $2", company_id, object_id)
    if row is None:
        raise NotFound("No such trunk.")
    return _trunk(row)


async def list_trunks(company_id: int) -> list[PbxObject]:
    """The company's trunks with their details, by name (one query)."""
    return [_trunk(r) for r in await sql.fetch(_TRUNKS + " ORDER BY o.name", company_id)]


# Queues --------------------------------------------------------------------------------


async def _clean_queue(company_id: int, data: dict, *, creating: bool) -> dict:
    c = Cleaner(data)
    values = {
        "strategy": c.choice("strategy", STRATEGIES, default="ringall"),
        "timeout": c.integer("timeout", low=1, high=600, default=15),
        "wrapuptime": c.integer("wrapuptime", low=0, high=3600, default=0),
        "maxlen": c.integer("maxlen", low=0, high=1000, default=0),
    }
    if creating:
        values["name"] = c.pattern("name", QUEUE_RE, N_("Letters, digits, - and _ only (at most 80)."), max_len=80)
    members = data.get("members")
    own = {o.name: o for o in await list_objects(company_id, "extension")}
    chosen: dict[str, int] = {}
    if isinstance(members, list):  # API: [{"extension": "1001", "penalty": 0}, ...]
        for item in members[:200]:
            if not isinstance(item, dict) or str(item.get("extension")) not in own:
                c.fail("members", N_("Choose members among your extensions."))
                continue
            try:
                penalty = int(item.get("penalty") or 0)
            except (TypeError, ValueError):
                penalty = -1
            if not 0 <= penalty <= 100:
                c.fail("members", N_("A penalty is a number from 0 to 100."))
            chosen[str(item["extension"])] = penalty
    elif members is not None:
        c.fail("members", N_("Choose members among your extensions."))
    else:  # form: member_<ext>=on, penalty_<ext>=n
        for key in data:
            if key.startswith("member_"):
                ext = key.removeprefix("member_")
                if ext not in own:
                    c.fail("members", N_("Choose members among your extensions."))
                    continue
                chosen[ext] = c.integer(f"penalty_{ext}", low=0, high=100, default=0)
    values["members"] = chosen
    values["labels"] = {n: o.label for n, o in own.items()}
    c.raise_if_errors()
    return values


async def _write_queue(name: str, v: dict, *, tech: str) -> None:
    await _rt_execute(
        """INSERT INTO queues (name, strategy, timeout, wrapuptime, maxlen, ringinuse, joinempty, leavewhenempty)
           VALUES ($1, $2, $3, $4, $5, 'no', 'yes', 'no')
           ON CONFLICT (name) DO UPDATE SET strategy = $2, timeout = $3, wrapuptime = $4, maxlen = $5""",
        name,
        v["strategy"],
        v["timeout"],
        v["wrapuptime"],
        v["maxlen"],
    )
    interfaces = {f"{tech}/{ext}": (ext, penalty) for ext, penalty in v["members"].items()}
    await _rt_execute(
        "DELETE FROM queue_members WHERE queue_name = $1 AND NOT (interface = ANY($2::text[]))", name, list(interfaces)
    )
    for interface, (ext, penalty) in interfaces.items():
        # Existing members keep their uniqueid (app_queue's key for write-backs such as paused).
        await _rt_execute(
            """INSERT INTO queue_members (queue_name, interface, membername, state_interface, penalty, paused, uniqueid)
               VALUES ($1, $2, $3, $2, $4, 0, nextval('pbx_queue_member_uniqueid_seq'))
               ON CONFLICT (queue_name, interface) DO UPDATE SET penalty = $4, membername = $3""",
            name,
            interface,
            rt(v["labels"].get(ext) or ext),
            penalty,
        )


async def create_queue(actor: User, data: dict, *, driver: str = "pjsip") -> PbxObject:
    v = await _clean_queue(actor.company_id, data, creating=True)
    async with sql.transaction():
        object_id = await _claim(actor.company_id, "queue", v["name"], "", "name")
        await _write_queue(v["name"], v, tech="SIP" if driver == "sip" else "PJSIP")
        await audit(actor, "queue.create", v["name"], {"strategy": v["strategy"], "members": v["members"]})
    return await get_queue(actor.company_id, object_id)


async def update_queue(actor: User, object_id: int, data: dict, *, driver: str = "pjsip") -> PbxObject:
    obj = await _object(actor.company_id, "queue", object_id)
    v = await _clean_queue(actor.company_id, data, creating=False)
    async with sql.transaction():
        await sql.execute("UPDATE pbx_object SET updated_at = now() WHERE id = $1", obj.id)
        await _write_queue(obj.name, v, tech="SIP" if driver == "sip" else "PJSIP")
        await audit(actor, "queue.update", obj.name, {"strategy": v["strategy"], "members": v["members"]})
    return await get_queue(actor.company_id, object_id)


async def delete_queue(actor: User, object_id: int) -> None:
    obj = await _object(actor.company_id, "queue", object_id)
    async with sql.transaction():
        await sql.execute("DELETE FROM queue_members WHERE queue_name = $1", obj.name)
        await sql.execute("DELETE FROM queues WHERE name = $1", obj.name)
        await sql.execute("DELETE FROM pbx_object WHERE id = $1", obj.id)
        await audit(actor, "queue.delete", obj.name, {})


_QUEUES = """
SELECT o.id, o.kind, o.name, o.label, q.name IS NOT NULL AS configured, q.strategy::text, q.timeout, q.wrapuptime, q.maxlen,
       coalesce((SELECT json_agg(json_build_object('interface', m.interface, 'membername', m.membername,
                                                   'penalty', m.penalty, 'paused', m.paused, 'uniqueid', m.uniqueid)
                                 ORDER BY m.interface)
                 FROM queue_members m WHERE m.queue_name = o.name), '[]') AS members
FROM pbx_object o LEFT JOIN queues q ON q.name = o.name
WHERE o.company_id = $1 AND o.kind = 'queue'
"""


def _queue(r: asyncpg.Record) -> PbxObject:
    obj = PbxObject(r["id"], r["kind"], r["name"], r["label"], {})
    settings = {k: r[k] for k in ("strategy", "timeout", "wrapuptime", "maxlen")} if r["configured"] else {}
    obj.details = {
        **settings,
        "members": [
            {
                "extension": m["interface"].split("/", 1)[-1],
                "interface": m["interface"],
                "name": m["membername"],
                "penalty": m["penalty"],
                "paused": bool(m["paused"]),
                "uniqueid": m["uniqueid"],
            }
            for m in json.loads(r["members"])
        ],
    }
    return obj


async def get_queue(company_id: int, object_id: int) -> PbxObject:
    row = await sql.fetchrow(_QUEUES + " AND o.id = $2", company_id, object_id)
    if row is None:
        raise NotFound("No such queue.")
    return _queue(row)


async def list_queues(company_id: int) -> list[PbxObject]:
    """The company's queues with their settings and members, by name (one query)."""
    return [_queue(r) for r in await sql.fetch(_QUEUES + " ORDER BY o.name", company_id)]


# The dialplan ---------------------------------------------------------------------------


async def dialplan(company_id: int, context: str, *, driver: str = "pjsip") -> str:
    """extensions.conf lines for one company's context: its extensions, its queues (as a
    comment: a queue needs a number the admin chooses) and, with a trunk, outside numbers."""
    tech = "SIP" if driver == "sip" else "PJSIP"
    rows = await sql.fetch(
        "SELECT kind, name, label FROM pbx_object WHERE company_id = $1 ORDER BY kind, name", company_id
    )
    lines = [f"; Switchboard company {company_id}: its phones dial only this context", f"[{context}]"]
    for r in rows:
        if r["kind"] == "extension":
            lines.append(f"exten => {r['name']},1,Dial({tech}/{r['name']},30)")
    for r in rows:
        if r["kind"] == "queue":
            lines.append(f"; exten => <number>,1,Queue({r['name']})")
    trunks = [r["name"] for r in rows if r["kind"] == "trunk"]
    if trunks:
        lines.append(f"exten => _X.,1,Dial({tech}/${{EXTEN}}@{trunks[0]},60)")
        lines.append(f"exten => _+X.,1,Dial({tech}/${{EXTEN}}@{trunks[0]},60)  ; click-to-call dials E.164")
    return "\n".join(lines) + "\n"
