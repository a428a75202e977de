"""Reading forms and answering them: values as a dict, flash messages, safe redirects."""

from __future__ import annotations

from typing import Any

from litestar import Request

# Fields that may repeat in a form (checkbox groups, multi-selects).
MULTI = {"department_ids"}


async def read_form(request: Request) -> dict[str, Any]:
    """The form's fields; repeated fields listed in MULTI come as lists, others as their last value."""
    form = await request.form()
    data: dict[str, Any] = {}
    for key in form.keys():
        # PostgreSQL text cannot hold NUL: drop it here, once, for every form.
        values = [v.replace("\x00", "") if isinstance(v, str) else v for v in form.getall(key)]
        data[key] = values if key in MULTI else values[-1]
    for key in MULTI:
        data.setdefault(key, [])
    return data


def flash(request: Request, message: str, kind: str = "success") -> None:
    request.session.setdefault("flash", []).append({"kind": kind, "message": message})


def safe_next(value: str | None, default: str = "/") -> str:
    """Only same-site paths: never ``//host`` or a full URL (open redirect)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return default
