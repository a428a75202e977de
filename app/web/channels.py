"""Admin: WhatsApp channels (list, create, edit, disable/enable, check connection)."""

from __future__ import annotations

import httpx
from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from app import netpolicy
from app.domain.backfill import backfill, supports_backfill
from app.domain.channel_health import get_health, qr_svg, refresh
from app.domain.channels import (
    PROVIDER_CHOICES,
    create_channel,
    get_channel,
    list_channels,
    mask,
    set_channel_active,
    update_channel,
)
from app.domain.departments import list_departments
from app.domain.errors import ValidationError
from app.i18n import gettext as _
from app.i18n import ngettext
from app.providers import PROVIDERS
from app.web.forms import flash, read_form
from app.web.security import admin_only


def _show_secret_once(request: Request, channel) -> None:
    """The next page shows the webhook secret in full, once (then only masked), like API keys. The
    session keeps only which channel: the secret itself is read from the channel then."""
    request.session["webhook_secret_once"] = {"channel_id": channel.id}


async def _health_context(request: Request, channel) -> dict:
    health = await get_health(request.user.company_id, channel.id)
    return {
        "channel": channel,
        "health": health,
        "qr": qr_svg(health["qr"]) if health.get("qr") else "",
        "pairs": channel.impl.pairs,
        "backfill": supports_backfill(channel),
    }


def _context(request: Request, values: dict, errors: dict, edited, provider: str) -> dict:
    return {
        "values": values,
        "errors": errors,
        "edited": edited,
        "provider": PROVIDERS.get(provider, PROVIDERS["sandbox"]),
        "providers": PROVIDERS,
        "choices": PROVIDER_CHOICES,
        "mask": mask,
        "base_url": request.app.state.settings.public_url,
    }


class ChannelsController(Controller):
    path = "/admin/channels"
    guards = [admin_only]

    @get("/")
    async def index(self, request: Request) -> Template:
        channels = await list_channels(request.user.company_id)
        return Template(
            "admin/channels/list.html",
            context={"channels": channels, "providers": PROVIDERS, "base_url": request.app.state.settings.public_url},
        )

    @get("/new")
    async def new(self, request: Request, provider: FromQuery[str] = "sandbox") -> Template:
        provider = provider if provider in PROVIDERS else "sandbox"
        context = _context(request, {"provider": provider}, {}, None, provider)
        context["departments"] = await list_departments(request.user.company_id)
        return Template("admin/channels/form.html", context=context)

    @post("/", status_code=303)
    async def create(self, request: Request) -> Template | Redirect:
        data = await read_form(request)
        try:
            channel = await create_channel(request.user.company_id, data)
        except ValidationError as exc:
            context = _context(request, data, exc.errors, None, str(data.get("provider") or "sandbox"))
            context["departments"] = await list_departments(request.user.company_id)
            return Template("admin/channels/form.html", context=context, status_code=400)
        flash(request, _("Channel %(name)s created.") % {"name": channel.name})
        _show_secret_once(request, channel)
        return Redirect(f"/admin/channels/{channel.id}/edit", status_code=303)

    @get("/{channel_id:int}/edit")
    async def edit(self, request: Request, channel_id: FromPath[int]) -> Template:
        channel = await get_channel(request.user.company_id, channel_id)
        values = {
            "name": channel.name,
            "provider": channel.provider,
            "default_department_id": channel.default_department_id or "",
        }
        for f in channel.impl.fields:
            if not f.secret:
                values[f"cred_{f.name}"] = channel.credentials.get(f.name, "")
        context = _context(request, values, {}, channel, channel.provider)
        context["departments"] = await list_departments(request.user.company_id)
        once = request.session.pop("webhook_secret_once", None)
        if isinstance(once, dict) and once.get("channel_id") == channel.id:
            context["secret_once"] = channel.webhook_secret
        context.update(await _health_context(request, channel), first=True)  # the card asks the provider at once
        return Template("admin/channels/form.html", context=context)

    @post("/{channel_id:int}", status_code=303)
    async def update(self, request: Request, channel_id: FromPath[int]) -> Template | Redirect:
        channel = await get_channel(request.user.company_id, channel_id)
        data = await read_form(request)
        before = channel.webhook_secret
        try:
            channel = await update_channel(request.user.company_id, channel_id, data)
        except ValidationError as exc:
            for f in channel.impl.fields:
                if f.secret:
                    data.pop(f"cred_{f.name}", None)  # never echo a secret back
            data.pop("webhook_secret", None)
            context = _context(request, data, exc.errors, channel, channel.provider)
            context["departments"] = await list_departments(request.user.company_id)
            return Template("admin/channels/form.html", context=context, status_code=400)
        flash(request, _("Saved %(name)s.") % {"name": channel.name})
        if channel.webhook_secret != before:
            _show_secret_once(request, channel)
        return Redirect(f"/admin/channels/{channel.id}/edit", status_code=303)

    @post("/{channel_id:int}/active", status_code=303)
    async def toggle(self, request: Request, channel_id: FromPath[int]) -> Redirect:
        data = await read_form(request)
        channel = await set_channel_active(request.user.company_id, channel_id, data.get("active") == "1")
        flash(request, (_("%(name)s enabled.") if channel.active else _("%(name)s disabled.")) % {"name": channel.name})
        return Redirect("/admin/channels", status_code=303)

    @get("/{channel_id:int}/health")
    async def health(self, request: Request, channel_id: FromPath[int]) -> Template:
        """The health card, asked again every few seconds by the page (the QR code changes, the
        session moves from waiting for a scan to working)."""
        channel = await get_channel(request.user.company_id, channel_id)
        await refresh(channel, request.app.state.http, timeout=4.0)
        return Template("admin/channels/_health.html", context=await _health_context(request, channel))

    @post("/{channel_id:int}/backfill", status_code=303)
    async def fetch_missed(self, request: Request, channel_id: FromPath[int]) -> Redirect:
        """ "Fetch missed messages": the provider's recent history of active chats, stored once."""
        channel = await get_channel(request.user.company_id, channel_id)
        result = await backfill(channel, request.app.state.http)
        if not result.supported:
            flash(
                request,
                _("%(provider)s has no message history to fetch from.") % {"provider": channel.impl.label},
                "error",
            )
        else:
            message = ngettext(
                "%(num)d missed message recovered.", "%(num)d missed messages recovered.", result.recovered
            ) % {"num": result.recovered}
            if result.errors:
                message += " " + _("Some chats could not be read (%(num)d).") % {"num": result.errors}
            flash(request, message)
        return Redirect(f"/admin/channels/{channel.id}/edit", status_code=303)

    @post("/{channel_id:int}/check", status_code=200)
    async def check(self, request: Request, channel_id: FromPath[int]) -> Template:
        channel = await get_channel(request.user.company_id, channel_id)
        client: httpx.AsyncClient = request.app.state.http
        try:
            ok, message = await channel.impl.check_connection(client, channel.credentials)
        except httpx.TimeoutException:
            ok, message = False, f"{channel.impl.label} did not answer in time."
        except httpx.HTTPError as exc:
            if netpolicy.was_refused(exc):
                ok, message = False, _(netpolicy.PRIVATE)
            else:
                ok, message = False, f"Could not reach {channel.impl.label}: {exc.__class__.__name__}."
        return Template("admin/channels/_check.html", context={"ok": ok, "message": message, "channel": channel})
