"""Every routing knob the engine reads is in the department form (issue 14), and what they
cause shows on the wallboard: an unstaffed queue, a conversation kept by an offline holder."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from app.dispatch.assignment import queue_conversation
from app.domain import sql
from app.domain.wallboard import Snapshot, _alerts
from tests.dispatch.factories import make_channel, make_conversation
from tests.factories import make_department, make_user
from tests.helpers import post_form

KNOBS = {
    "strategy": "sticky",
    "reinjection_policy": "wait",
    "reinjection_alert": "5",
    "offline_policy": "keep_answered",
    "offline_alert_minutes": "15",
    "overflow_after": "90",
    "menu_timeout": "120",
}


async def test_the_form_shows_and_saves_every_routing_knob(admin_client):
    company = admin_client.company
    backup = await make_department(company, "Backup")
    support = await make_department(company, "Support")
    form = await admin_client.get(f"/admin/departments/{support.id}/edit")
    for name in (*KNOBS, "overflow_department_id"):
        assert f'name="{name}"' in form.text, name
    assert f'<option value="{backup.id}"' in form.text and f'<option value="{support.id}"' not in form.text
    data = {
        "name": "Support",
        "code": support.code,
        "colour": "#2563eb",
        "response_timeout": "60",
        "menu_position": "1",
        **KNOBS,
        "overflow_department_id": str(backup.id),
    }
    assert (await post_form(admin_client, f"/admin/departments/{support.id}", data)).status_code == 303
    row = await sql.fetchrow("SELECT * FROM department WHERE id = $1", support.id)
    assert {k: str(row[k]) for k in KNOBS} == KNOBS and row["overflow_department_id"] == backup.id
    for bad in (
        {"strategy": "random"},
        {"offline_policy": "keep"},
        {"overflow_department_id": str(support.id)},
        {"overflow_department_id": "99999999"},
        {"menu_timeout": "-1"},
    ):
        response = await post_form(admin_client, f"/admin/departments/{support.id}", {**data, **bad})
        assert response.status_code == 400, bad


async def test_the_wallboard_names_an_unstaffed_queue_and_an_offline_holder(admin_client):
    company = admin_client.company
    night = await make_department(company, "Night desk")
    day = await make_department(company, "Day desk", offline_policy="keep_answered", offline_alert_minutes=5)
    await make_user(company, presence="offline", departments=[night])
    anna = await make_user(company, name="Anna", presence="online", departments=[day])
    channel = await make_channel(company)
    waiting = await make_conversation(company, channel)
    await queue_conversation(company.id, waiting, night.id)
    kept = await make_conversation(company, channel)
    await queue_conversation(company.id, kept, day.id)
    await sql.execute("UPDATE conversation SET awaiting_agent_since = NULL WHERE id = $1", kept)  # answered
    await sql.execute(
        "UPDATE app_user SET presence = 'offline', presence_changed_at = now() - interval '6 minutes' WHERE id = $1",
        anna.id,
    )
    now = datetime.now(UTC)
    alerts = await _alerts(company.id, Snapshot(company.id, now, ZoneInfo("UTC"), now))
    kinds = {a["kind"]: a for a in alerts}
    assert kinds["unstaffed"]["department"] == "Night desk"
    assert kinds["holder_offline"]["conversation_id"] == kept and kinds["holder_offline"]["agent"] == "Anna"
