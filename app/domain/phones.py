"""Phone numbers a person types, parsed with ``phonenumbers`` (Google's libphonenumber).

A number in international form (``+33 6 12 34 56 78``, ``0033612345678``) is read as is; a
national one (``06 12 34 56 78``) in the company's country (Company settings); the result is
E.164 (``+33612345678``), or None when it cannot be a number there (``is_possible_number``:
the country code exists and the length fits its plan; fictional test ranges such as +1 555 01xx
pass, which the sandbox simulator relies on). ``0612345678`` is never stored as ``+0612345678``.
"""

from __future__ import annotations

import phonenumbers

COUNTRIES = tuple(sorted(phonenumbers.SUPPORTED_REGIONS))


def parse_phone(raw: str, country: str = "") -> str | None:
    text = (raw or "").strip()
    if not text or len(text) > 40:
        return None
    text = text.removeprefix("whatsapp:")
    if text.startswith("00"):
        text = "+" + text[2:]
    region = (
        country.upper()
        if country and country.upper() in phonenumbers.SUPPORTED_REGIONS
        else None
    )
    if not text.startswith("+") and region is None:
        return None  # a national number with no country to read it in
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def example(country: str = "") -> str:
    """An example number of ``country`` (for the help of a phone field), international form."""
    region = (
        country.upper()
        if country and country.upper() in phonenumbers.SUPPORTED_REGIONS
        else "FR"
    )
    number = phonenumbers.example_number_for_type(
        region, phonenumbers.PhoneNumberType.MOBILE
    )
    return (
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        if number
        else "+33 6 12 34 56 78"
    )
