"""The contacts merge page offers likely duplicates (not only the exact name) and asks once
more before the irreversible merge."""

from app.domain import sql
from tests.factories import make_company, make_user
from tests.helpers import login, post_form


async def _contact(company, name, phone):
    return await sql.fetchval(
        "INSERT INTO contact (company_id, name, phone) VALUES ($1, $2, $3) RETURNING id",
        company.id,
        name,
        phone,
    )


async def test_merge_page_offers_likely_duplicates_with_an_empty_search(client):
    company = await make_company()
    admin = await make_user(company, "admin")
    keep = await _contact(company, "Jean Dupont", "+33612345678")
    surname = await _contact(company, "Dupont", "+33700000001")
    same_phone = await _contact(company, "WhatsApp User", "+0033612345678")
    other = await _contact(company, "Marie Curie", "+33700000002")
    await login(client, admin.email)
    page = (await client.get(f"/admin/contacts/{keep}/merge")).text
    assert f'id="duplicate-{surname}"' in page and f'id="duplicate-{same_phone}"' in page
    assert f'id="duplicate-{other}"' not in page and f'id="duplicate-{keep}"' not in page
    assert 'name="q" value=""' in page  # the box is free for a search, not pre-filled
    # A search still finds anyone.
    found = (await client.get(f"/admin/contacts/{keep}/merge?q=curie")).text
    assert f'id="duplicate-{other}"' in found


async def test_merge_asks_for_confirmation_first(client):
    company = await make_company()
    admin = await make_user(company, "admin")
    keep = await _contact(company, "Jean Dupont", "+33612345678")
    dup = await _contact(company, "J. Dupont", "+33699999999")
    await login(client, admin.email)
    page = (await client.get(f"/admin/contacts/{keep}/merge")).text
    row = page.split(f'id="duplicate-{dup}"')[1].split("</tr>")[0]
    assert "<form" not in row and f'href="/admin/contacts/{keep}/merge/{dup}"' in row  # no one-click merge
    confirm = await client.get(f"/admin/contacts/{keep}/merge/{dup}")
    assert confirm.status_code == 200 and "cannot be undone" in confirm.text
    assert f'name="duplicate_id" value="{dup}"' in confirm.text
    assert await sql.fetchval("SELECT count(*) FROM contact WHERE id = $1", dup) == 1  # nothing done yet
    assert (await client.get(f"/admin/contacts/{keep}/merge/{keep}")).status_code == 404
    other_company = await make_company()
    stranger = await _contact(other_company, "Jean Dupont", "+33611111111")
    assert (await client.get(f"/admin/contacts/{keep}/merge/{stranger}")).status_code == 404
    done = await post_form(client, f"/admin/contacts/{keep}/merge", {"duplicate_id": str(dup)})
    assert done.status_code == 303
    assert await sql.fetchval("SELECT count(*) FROM contact WHERE id = $1", dup) == 0
