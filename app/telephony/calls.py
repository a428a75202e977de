"""Live call actions an operator takes: hang up, blind transfer, click-to-call, queue pause.

Each action checks that its target belongs to the actor's company (a live call must be in the
company's published snapshot; an extension or queue must be one of its ``pbx_object`` rows),
sends one AMI action through ``app.telephony.ami.send_action``, and records the attempt and
Asterisk's answer in ``pbx_audit``. Asterisk's refusals are raised as ``AmiError`` with
Asterisk's own message, so that the operator sees what Asterisk said.
"""

from __future__ import annotations

import json
import re

from app.domain import sql
from app.domain.errors import NotFound, ValidationError
from app.domain.tables import User
from app.i18n import N_
from app.settings import Settings
from app.telephony.ami import AmiError, AmiResult, send_action
from app.telephony.live import get_live

CHANNEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9/_.@:;+=-]{0,79}$")
DESTINATION_RE = re.compile(r"^[0-9*#+]{1,32}$")
HANGUP_NORMAL_CLEARING = "16"  # Q.850 cause, as the lab's Hangup action used


async def audit(actor: User, action: str, target: str, detail: dict) -> None:
    """One line of the PBX audit trail (who, what, on which object, with what result)."""
    await sql.execute(
        "INSERT INTO pbx_audit (company_id, user_id, action, target, detail) VALUES ($1, $2, $3, $4, $5::jsonb)",
        actor.company_id,
        actor.id,
        action,
        target[:200],
        json.dumps(detail),
    )


async def list_audit(company_id: int, limit: int = 50) -> list[dict]:
    rows = await sql.fetch(
        """SELECT a.at, a.action, a.target, a.detail, u.name AS user_name FROM pbx_audit a
           LEFT JOIN app_user u ON u.id = a.user_id WHERE a.company_id = $1 ORDER BY a.at DESC, a.id DESC LIMIT $2""",
        company_id,
        limit,
    )
    return [dict(r) for r in rows]


def _channel(data: dict) -> str:
    channel = str(data.get("channel") or "").strip()
    if not CHANNEL_RE.match(channel):
        raise ValidationError({"channel": N_("Choose a live call.")})
    return channel


def _destination(data: dict) -> str:
    destination = str(data.get("destination") or "").strip()
    if not DESTINATION_RE.match(destination):
        raise ValidationError({"destination": N_("Enter a number: digits, * or # (at most 32).")})
    return destination


async def _live_call(company_id: int, channel: str) -> dict:
    for call in (await get_live(company_id))["calls"]:
        if channel in call["channels"]:
            return call
    raise NotFound(N_("No such live call (it may have just ended)."))


async def _run(settings: Settings, actor: User, name: str, target: str, action: dict, detail: dict) -> AmiResult:
    try:
        result = await send_action(settings, action)
    except AmiError as exc:
        await audit(actor, name, target, {**detail, "ok": False, "error": str(exc)})
        raise
    await audit(actor, name, target, {**detail, "ok": result.ok, "message": result.message})
    if not result.ok:
        raise AmiError(f"Asterisk refused {action['Action']}: {result.message or 'error'}")
    return result


async def hangup_call(settings: Settings, actor: User, data: dict) -> AmiResult:
    channel = _channel(data)
    await _live_call(actor.company_id, channel)
    action = {"Action": "Hangup", "Channel": channel, "Cause": HANGUP_NORMAL_CLEARING}
    return await _run(settings, actor, "call.hangup", channel, action, {})


async def _check_dialplan(settings: Settings, context: str, destination: str) -> None:
    """Refuse a destination the dialplan lacks: a Redirect there is answered "Redirect
    successful" and the call is then dropped. ``ShowDialPlan`` with Context and Extension
    matches patterns as dialling does and answers an Error "Did not find extension" when
    nothing matches (``manager_show_dialplan`` in main/pbx.c; needs the AMI ``reporting`` read right)."""
    found = await send_action(settings, {"Action": "ShowDialPlan", "Context": context, "Extension": destination})
    if not found.ok:
        raise ValidationError({"destination": N_("No such number in the dialplan: the call would be dropped.")})


async def transfer_call(settings: Settings, actor: User, data: dict) -> AmiResult:
    """Blind transfer: Redirect sends the channel into the dialplan at ``destination``."""
    channel = _channel(data)
    destination = _destination(data)
    await _live_call(actor.company_id, channel)
    context = settings.context_for(actor.company_id)
    await _check_dialplan(settings, context, destination)
    action = {"Action": "Redirect", "Channel": channel, "Context": context, "Exten": destination, "Priority": "1"}
    return await _run(settings, actor, "call.transfer", channel, action, {"destination": destination})


async def originate_call(settings: Settings, actor: User, data: dict) -> AmiResult:
    """Click-to-call: ring the extension, and when it answers dial ``destination``."""
    extension = str(data.get("extension") or "").strip()
    destination = _destination(data)
    label = await sql.fetchval(
        "SELECT label FROM pbx_object WHERE company_id = $1 AND kind = 'extension' AND name = $2",
        actor.company_id,
        extension,
    )
    if label is None:
        raise ValidationError({"extension": N_("Choose one of your extensions.")})
    tech = "SIP" if settings.asterisk_sip_driver == "sip" else "PJSIP"
    # The caller is the extension, as if its phone had dialled: Asterisk gives the originated
    # channel this caller ID, and Dial() passes it on to the callee and into the CDR's src.
    name = (label or extension).replace('"', "").replace("<", "").replace(">", "")
    action = {
        "Action": "Originate",
        "Channel": f"{tech}/{extension}",
        "Context": settings.context_for(actor.company_id),
        "Exten": destination,
        "Priority": "1",
        "CallerID": f'"{name}" <{extension}>',
        "Timeout": "30000",
        "Async": "true",
    }
    return await _run(settings, actor, "call.originate", extension, action, {"destination": destination})


async def pause_queue_member(settings: Settings, actor: User, data: dict) -> AmiResult:
    queue = str(data.get("queue") or "").strip()
    interface = str(data.get("interface") or "").strip()
    paused = str(data.get("paused") or "").lower() in {"1", "true", "yes", "on"}
    owned = await sql.fetchval(
        "SELECT 1 FROM pbx_object WHERE company_id = $1 AND kind = 'queue' AND name = $2", actor.company_id, queue
    )
    if not owned:
        raise NotFound(N_("No such queue."))
    if not CHANNEL_RE.match(interface):
        raise ValidationError({"interface": N_("Choose a queue member.")})
    action = {"Action": "QueuePause", "Queue": queue, "Interface": interface, "Paused": "true" if paused else "false"}
    reason = str(data.get("reason") or "").strip()[:80]
    if reason:
        action["Reason"] = reason
    name = "queue.pause" if paused else "queue.unpause"
    return await _run(settings, actor, name, f"{queue}/{interface}", action, {"reason": reason})
