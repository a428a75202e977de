"""An admin logged in to their company, for the admin pages' tests."""

import pytest

from tests.factories import make_company, make_user
from tests.helpers import login


@pytest.fixture
async def admin_client(client):
    company = await make_company()
    admin = await make_user(company, "admin")
    await login(client, admin.email)
    client.company, client.admin = company, admin
    return client
