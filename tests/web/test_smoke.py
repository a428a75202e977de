from tests.factories import make_company, make_user
from tests.helpers import login


async def test_login_and_home(client):
    company = await make_company()
    admin = await make_user(company, "admin", name="Ada")
    await login(client, admin.email)
    response = await client.get("/")
    assert response.status_code == 200
    assert "Ada" in response.text
