"""Adopting Asterisk rows configured before Switchboard (rows no ``pbx_object`` owns).

A PBX that ran before Switchboard has endpoints (PJSIP ``ps_endpoints`` or chan_sip
``sippeers``) and queues that no company owns: the console ignores them and names are refused
as duplicates. An admin adopts one into their company: the ownership row is written, the
endpoint's ``accountcode`` becomes the company's (so its new calls' CDRs are the company's),
and the CDRs it made before, which carry no account code, are given the company's account
code too (matched on the endpoint's channel name, ``PJSIP/<name>-…`` or ``SIP/<name>-…``).
Asterisk only ever inserts CDRs, so filling an empty ``accountcode`` changes nothing it reads.
An endpoint named by digits is offered as an extension, anything else as a trunk.

Adoption is first come, first served between the companies of one PBX (the unique name of
``pbx_object``), and every adoption is in the PBX audit log.
"""

from __future__ import annotations

import asyncpg

from app.domain import sql
from app.domain.errors import NotFound, ValidationError
from app.domain.tables import User
from app.i18n import N_
from app.telephony.calls import audit
from app.telephony.live import account_code
from app.telephony.pbx import NUMBER_RE, rt

_UNOWNED = """
SELECT name, driver, label FROM (
    SELECT e.id AS name, 'pjsip' AS driver, coalesce(e.callerid, '') AS label FROM ps_endpoints e
    UNION ALL
    SELECT s.name, 'sip', coalesce(s.callerid, '') FROM sippeers s
    WHERE NOT EXISTS (SELECT 1 FROM ps_endpoints e WHERE e.id = s.name)
) found
WHERE NOT EXISTS (SELECT 1 FROM pbx_object o WHERE o.kind <> 'queue' AND o.name = found.name)
ORDER BY name
"""


def _label(callerid: str) -> str:
    """``"Alice" <1001>`` -> ``Alice`` (Realtime's ^3B back to ;)."""
    text = callerid.replace("^3B", ";").split("<", 1)[0].strip().strip('"').strip()
    return text[:24]


async def list_unowned() -> dict[str, list[dict]]:
    """Endpoints (as extensions or trunks) and queues of the PBX that no company owns."""
    found: dict[str, list[dict]] = {"extension": [], "trunk": [], "queue": []}
    for r in await sql.fetch(_UNOWNED):
        kind = "extension" if NUMBER_RE.match(r["name"]) else "trunk"
        found[kind].append({"name": r["name"], "driver": r["driver"], "label": _label(r["label"])})
    for r in await sql.fetch(
        """SELECT q.name FROM queues q
           WHERE NOT EXISTS (SELECT 1 FROM pbx_object o WHERE o.kind = 'queue' AND o.name = q.name)
           ORDER BY q.name"""
    ):
        found["queue"].append({"name": r["name"], "driver": "", "label": ""})
    return found


async def adopt(actor: User, kind: str, name: str) -> int:
    """Make ``name`` (an unowned Asterisk row) the actor's company's; returns the new object id
    and how many earlier CDRs it brought along (in the audit)."""
    if kind not in ("extension", "trunk", "queue"):
        raise ValidationError({"kind": N_("Choose one of the options.")})
    unowned = await list_unowned()
    row = next((r for r in unowned[kind] if r["name"] == name), None)
    if row is None:
        raise NotFound(N_("This PBX object does not exist or already belongs to a company."))
    account = account_code(actor.company_id)
    async with sql.transaction():
        try:
            object_id = await sql.fetchval(
                "INSERT INTO pbx_object (company_id, kind, name, label) VALUES ($1, $2, $3, $4) RETURNING id",
                actor.company_id,
                kind,
                name,
                row["label"] if kind == "extension" else "",
            )
        except asyncpg.UniqueViolationError as exc:  # another company adopted it a moment ago
            raise NotFound(N_("This PBX object does not exist or already belongs to a company.")) from exc
        calls = 0
        if kind != "queue":
            await sql.execute("UPDATE ps_endpoints SET accountcode = $2 WHERE id = $1", name, account)
            await sql.execute("UPDATE sippeers SET accountcode = $2 WHERE name = $1", name, rt(account))
            prefixes = [f"PJSIP/{name}-%", f"SIP/{name}-%"]
            calls = int(
                (
                    await sql.fetchval(
                        """WITH claimed AS (
                       UPDATE cdr SET accountcode = $1 WHERE coalesce(accountcode, '') = ''
                         AND (channel LIKE ANY($2::text[]) OR dstchannel LIKE ANY($2::text[])) RETURNING 1)
                   SELECT count(*) FROM claimed""",
                        account,
                        prefixes,
                    )
                )
                or 0
            )
        await audit(actor, f"{kind}.adopt", name, {"earlier_calls": calls})
    return object_id
