"""Where a company's phones are registered from: address and user agent, for the operator API.

Asterisk keeps them in its Realtime tables when contacts are stored there: PJSIP's
``ps_contacts`` (``endpoint``, ``via_addr``, ``user_agent``, ``uri``), chan_sip's ``sippeers``
(``ipaddr``, ``useragent``, written back on REGISTER with ``rtupdate=yes``). Whether a phone is
registered now comes from the live AMI snapshot (``app.telephony.live``), not from these rows:
Asterisk leaves a deleted endpoint's contact behind (ASTERISK-NOTES).
"""

from __future__ import annotations

import re

from app.domain import sql

_URI_HOST = re.compile(r"@\[?([0-9A-Fa-f.:]+?)\]?(?::[0-9]+)?(?:;|$)")


def _host_of(uri: str) -> str:
    match = _URI_HOST.search(uri or "")
    return match.group(1) if match else ""


async def list_registrations(names: list[str]) -> dict[str, dict]:
    """``{name: {"ip": ..., "user_agent": ...}}`` for the endpoints among ``names`` that have a
    contact row (the newest contact when a phone has several)."""
    if not names:
        return {}
    rows = await sql.fetch(
        """SELECT DISTINCT ON (endpoint) endpoint AS name, via_addr, uri, user_agent FROM ps_contacts
           WHERE endpoint = ANY($1::text[]) ORDER BY endpoint, expiration_time DESC NULLS LAST""",
        names,
    )
    found = {r["name"]: {"ip": r["via_addr"] or _host_of(r["uri"]), "user_agent": r["user_agent"] or ""} for r in rows}
    for r in await sql.fetch(
        "SELECT name, ipaddr, useragent FROM sippeers WHERE name = ANY($1::text[]) AND coalesce(ipaddr, '') <> ''",
        names,
    ):
        found.setdefault(r["name"], {"ip": r["ipaddr"], "user_agent": r["useragent"] or ""})
    return found
