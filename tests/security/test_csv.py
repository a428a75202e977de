"""One CSV escaping rule for every CSV the app writes (issue 16, low): formula prefixes are
neutralised, including the probe's ``-1+1+cmd|…`` and ``+1+…``, while numbers stay numbers."""

from __future__ import annotations

import pytest

from app.domain.csv_cells import safe_cell
from app.telephony.cdr import _cell as call_history_cell
from app.web.metrics import csv_cell as metrics_cell

FORMULAS = [
    "=1+1",
    "-1+1+cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
    "\n=1",
    '  =HYPERLINK("http://x")',
    "-x",
    "+",
    "-",
    "=",
    "+33 6 12+1",
]
KEPT = [
    "+33612345678",
    "-12",
    "-12.5",
    "42",
    "Alice",
    "a=b",
    "100 %",
    "",
    "+55 11 99999 9999",
]


@pytest.mark.parametrize("writer", [safe_cell, call_history_cell, metrics_cell])
@pytest.mark.parametrize("text", FORMULAS)
def test_formulas_are_neutralised_in_every_csv(writer, text):
    assert str(writer(text)) == "'" + text


@pytest.mark.parametrize("writer", [safe_cell, call_history_cell, metrics_cell])
@pytest.mark.parametrize("text", KEPT)
def test_plain_values_are_kept(writer, text):
    assert str(writer(text)) == text


def test_numbers_stay_numbers():
    assert safe_cell(3) == 3 and safe_cell(None) == "" and safe_cell(-2) == -2
