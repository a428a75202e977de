"""One rule for every CSV the app writes: no cell a spreadsheet would run as a formula.

A text cell whose first character (or first after leading spaces) is ``=``, ``+``, ``-``,
``@``, a tab, a carriage return or a line feed is prefixed with an apostrophe (OWASP "CSV
Injection"), unless the whole cell is a plain number such as a phone number (``+33612345678``,
``-12.5``), which a spreadsheet can only show as that number. ``-1+1+cmd|' /C calc'!A0`` and
``+1+…`` are formulas, not numbers, and are neutralised.
"""

from __future__ import annotations

import re
from datetime import date, datetime

TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
NUMBER = re.compile(r"[+-]?\d[\d ]*(\.\d+)?")


def safe_cell(value: object) -> object:
    """``value`` as a CSV cell: numbers stay numbers, text that could start a formula is quoted."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    if NUMBER.fullmatch(text):
        return text
    if text[:1] in TRIGGERS or text.lstrip(" ")[:1] in TRIGGERS:
        return "'" + text
    return text
