"""Without AMI_HOST the console still opens and says the PBX is not configured."""

from tests.factories import make_company, make_user
from tests.helpers import login, post_form


async def test_console_without_pbx(client):
    company = await make_company()
    admin = await make_user(company, "admin")
    assert client is not None
    response = await client.get("/operator/", follow_redirects=False)
    assert response.status_code in (302, 303, 307) and "/login" in response.headers["location"]
    await login(client, admin.email)
    page = await client.get("/operator/")
    assert page.status_code == 200 and "PBX not configured" in page.text
    assert "No calls right now." in page.text
    hangup = await post_form(
        client, "/operator/calls/hangup", {"channel": "PJSIP/1001-00000000"}, headers={"HX-Request": "true"}
    )
    assert hangup.status_code == 404  # no such live call
