"""Admin: API keys (list paginated, create with permissions and the key shown once, revoke)."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from app.domain.api_keys import SCOPE_HELP, SCOPES, create_api_key, list_api_keys, revoke_api_key
from app.domain.errors import ValidationError
from app.domain.validation import Cleaner
from app.i18n import gettext as _
from app.web.forms import flash, read_form
from app.web.security import admin_only


def _scopes(form: dict) -> list[str]:
    # Checkboxes: read_form keeps the last value of a repeated field, so each scope is its own field.
    return [s for s in SCOPES if form.get(f"scope_{s}")]


class ApiKeysController(Controller):
    path = "/admin/api-keys"
    guards = [admin_only]

    async def _page(
        self,
        request: Request,
        *,
        page: int = 1,
        values: dict | None = None,
        errors: dict | None = None,
        created: tuple | None = None,
        status: int = 200,
    ) -> Template:
        keys, pages = await list_api_keys(request.user.company_id, page)
        context = {
            "keys": keys,
            "page": min(page, pages),
            "pages": pages,
            "values": values or {"scopes": ["read"]},
            "errors": errors or {},
            "created": created,
            "scopes": SCOPES,
            "scope_help": SCOPE_HELP,
            "rate_limit": request.app.state.settings.api_rate_limit,
        }
        return Template("admin/api_keys/list.html", context=context, status_code=status)

    @get("/")
    async def index(self, request: Request) -> Template:
        c = Cleaner({k: v for k, v in request.query_params.items() if isinstance(v, str)})
        page = c.integer("page", low=1, high=100_000, default=1)
        return await self._page(request, page=1 if c.errors else page, status=400 if c.errors else 200)

    @post("/", status_code=200)
    async def create(self, request: Request) -> Template:
        form = await read_form(request)
        data = {"name": form.get("name", ""), "scopes": _scopes(form), "rate_limit": form.get("rate_limit", "")}
        try:
            key, secret = await create_api_key(request.user.company_id, data, user_id=request.user.id)
        except ValidationError as exc:
            return await self._page(request, values=data, errors=exc.errors, status=400)
        # Shown in this response only: the database keeps its hash.
        return await self._page(request, created=(key, secret), status=201)

    @post("/{key_id:int}/revoke", status_code=303)
    async def revoke(self, request: Request, key_id: FromPath[int]) -> Redirect:
        key = await revoke_api_key(request.user.company_id, key_id if key_id < 2**31 else 0)
        flash(request, _("API key %(name)s revoked.") % {"name": key.name})
        return Redirect("/admin/api-keys", status_code=303)
