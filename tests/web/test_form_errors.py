"""The admin forms mark a field in error the same way (templates/_forms.html): the input says
it is invalid and points at its message, whose id it names."""

from __future__ import annotations

import re

import pytest

from tests.factories import make_company, make_user
from tests.helpers import login, post_form

FORMS = [
    ("/admin/departments", {"name": "", "code": ""}, "name"),
    ("/admin/quick-replies", {"shortcut": "", "text": "x"}, "shortcut"),
    ("/admin/users", {"name": "", "email": "a@b.test", "role": "agent"}, "name"),
    ("/admin/company", {"name": "", "timezone": "UTC", "language": "en"}, "name"),
]


@pytest.mark.parametrize("url, data, field", FORMS)
async def test_a_field_in_error_points_at_its_message(client, url, data, field):
    company = await make_company()
    admin = await make_user(company, "admin")
    await login(client, admin.email)
    page = await post_form(client, url, data)
    assert page.status_code == 400
    assert re.search(rf'name="{field}"[^>]*aria-invalid="true" aria-describedby="{field}-error"', page.text)
    assert re.search(rf'<span class="field-error" id="{field}-error">[^<]+</span>', page.text)
