"""Phone numbers people type, read with phonenumbers in the company's country (issue 15)."""

from __future__ import annotations

import pytest

from app.domain import sql
from app.domain.companies import update_company
from app.domain.errors import ValidationError
from app.domain.orders import upsert_contact
from app.domain.phones import parse_phone
from tests.factories import make_company


@pytest.mark.parametrize(
    "raw, country, expected",
    [
        ("0612345678", "FR", "+33612345678"),
        ("06 12 34 56 78", "FR", "+33612345678"),
        (
            "0612345678",
            "",
            None,
        ),  # national, and no country to read it in: never "+0612345678"
        ("+33 6 12 34 56 78", "", "+33612345678"),
        ("0033612345678", "BR", "+33612345678"),
        ("(11) 98765-4321", "BR", "+5511987654321"),
        ("+0612345678", "FR", None),
        ("whatsapp:+14155238886", "", "+14155238886"),
        ("5511987654321", "", "+5511987654321"),  # bare digits with a country code (API integrators)
        ("5511987654321", "FR", "+5511987654321"),
        ("12", "FR", None),
        ("not a number", "FR", None),
    ],
)
def test_parse_phone(raw, country, expected):
    assert parse_phone(raw, country) == expected


async def test_typed_national_number_uses_the_company_country():
    company = await make_company()
    with pytest.raises(ValidationError):
        await upsert_contact(company.id, "0612345678")
    await update_company(
        company.id,
        {
            "name": company.name,
            "timezone": "Europe/Paris",
            "language": "fr",
            "country": "FR",
        },
    )
    contact = await upsert_contact(company.id, "06 12 34 56 78", "Dupont")
    assert await sql.fetchval("SELECT phone FROM contact WHERE id = $1", contact) == "+33612345678"
    with pytest.raises(ValidationError):
        await update_company(
            company.id,
            {
                "name": company.name,
                "timezone": "Europe/Paris",
                "language": "fr",
                "country": "XX",
            },
        )
