"""Small input cleaners shared by actions. Each returns the clean value or records an error.

Actions collect the errors of every field and raise one ``ValidationError`` so that a form can
show them all at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from app.domain.errors import ValidationError
from app.i18n import N_, gettext

EMAIL_RE = re.compile(r"^[^@\s<>\"']{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")
COLOUR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
CODE_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Cleaner:
    """Collects per-field errors while cleaning a mapping of raw input."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.errors: dict[str, str] = {}

    def fail(self, field: str, message: str) -> None:
        self.errors.setdefault(field, message)

    def raise_if_errors(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)

    def text(self, field: str, *, max_len: int, required: bool = True, default: str = "") -> str:
        raw = self.data.get(field, default)
        value = _CONTROL.sub("", str(raw if raw is not None else "")).strip()
        if required and not value:
            self.fail(field, N_("This field is required."))
        elif len(value) > max_len:
            self.fail(field, gettext("Use at most %(max)d characters.") % {"max": max_len})
        return value

    def email(self, field: str = "email") -> str:
        value = self.text(field, max_len=254).lower()
        if value and field not in self.errors and not EMAIL_RE.match(value):
            self.fail(field, N_("Enter a valid e-mail address."))
        return value

    def integer(self, field: str, *, low: int, high: int, default: int | None = None) -> int:
        raw = self.data.get(field)
        if (raw is None or str(raw).strip() == "") and default is not None:
            return default
        try:
            value = int(str(raw).strip())
        except (TypeError, ValueError):
            self.fail(field, N_("Enter a whole number."))
            return default if default is not None else low
        if not low <= value <= high:
            self.fail(field, gettext("Enter a number from %(low)d to %(high)d.") % {"low": low, "high": high})
        return value

    def choice(self, field: str, choices: Iterable[str], *, default: str | None = None) -> str:
        options = list(choices)
        value = str(self.data.get(field) or default or "").strip()
        if value not in options:
            self.fail(field, N_("Choose one of the options."))
            return default or options[0]
        return value

    def pattern(self, field: str, regex: re.Pattern[str], message: str, *, max_len: int) -> str:
        value = self.text(field, max_len=max_len)
        if value and field not in self.errors and not regex.match(value):
            self.fail(field, message)
        return value

    def id_list(self, field: str) -> list[int]:
        raw = self.data.get(field) or []
        if isinstance(raw, (str, int)):
            raw = [raw]
        ids: list[int] = []
        for item in raw:
            try:
                value = int(item)
            except (TypeError, ValueError):
                value = 0
            if not 0 < value < 2**31:
                self.fail(field, N_("Choose from the list."))
            else:
                ids.append(value)
        return sorted(set(ids))
