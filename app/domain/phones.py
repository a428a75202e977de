"""Phone numbers a person types, parsed with ``phonenumbers`` (Google's libphonenumber).

A number in international form (``+33 6 12 34 56 78``, ``0033612345678``) is read as is; a
national one (``06 12 34 56 78``) in the company's country (Company settings), and failing that
bare digits not starting with 0 (``5511987654321``) as a country code and number; the result is
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
    region = country.upper() if country and country.upper() in phonenumbers.SUPPORTED_REGIONS else None
    candidates: list[tuple[str, str | None]] = []
    if text.startswith("+"):
        candidates.append((text, None))
    else:
        if region is not None:
            candidates.append((text, region))  # national, in the company's country
        if text.isdigit() and not text.startswith("0"):
            candidates.append(("+" + text, None))  # bare digits with their country code (e.g. from an API)
    for value, where in candidates:
        try:
            number = phonenumbers.parse(value, where)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None
