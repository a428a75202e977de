"""Admin: the PBX's extensions, trunks and queues (pages). Seed 004's JSON API for them: ``app.api.operator``."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from app.domain import phone
from app.domain.errors import ValidationError
from app.i18n import gettext as _
from app.telephony import pbx
from app.telephony.calls import list_audit
from app.telephony.pbx import CODECS, STRATEGIES, PbxObject
from app.web.forms import flash, read_form
from app.web.security import admin_only


def _driver(request: Request) -> dict:
    s = request.app.state.settings
    return {"driver": s.asterisk_sip_driver}


async def _form_data(request: Request) -> dict:
    form = await request.form()
    data = {key: form.getall(key)[-1] for key in form.keys()}
    data["codecs"] = form.getall("codecs") if "codecs" in form else []
    return data


# Extensions ----------------------------------------------------------------------------


class ExtensionsController(Controller):
    path = "/admin/pbx/extensions"
    guards = [admin_only]

    @get("/")
    async def index(self, request: Request) -> Template:
        items = await pbx.list_extensions(request.user.company_id)
        return Template("admin/pbx/extensions.html", context={"items": items, "tab": "extensions"})

    @get("/new")
    async def new(self) -> Template:
        return Template(
            "admin/pbx/extension_form.html",
            context={"values": {"codecs": ["ulaw", "alaw"]}, "errors": {}, "edited": None, "codecs": CODECS},
        )

    @post("/", status_code=200)
    async def create(self, request: Request) -> Template:
        data = await _form_data(request)
        try:
            obj, secret = await pbx.create_extension(
                request.user,
                data,
                context=request.app.state.settings.context_for(request.user.company_id),
                **_driver(request),
            )
        except ValidationError as exc:
            return Template(
                "admin/pbx/extension_form.html",
                context={"values": data, "errors": exc.errors, "edited": None, "codecs": CODECS},
                status_code=400,
            )
        return Template("admin/pbx/secret.html", context={"obj": obj, "secret": secret}, status_code=201)

    @get("/{object_id:int}/edit")
    async def edit(self, request: Request, object_id: FromPath[int]) -> Template:
        obj = await pbx.get_extension(request.user.company_id, object_id)
        values = {"name": obj.label, "codecs": obj.details["codecs"]}
        return Template(
            "admin/pbx/extension_form.html", context={"values": values, "errors": {}, "edited": obj, "codecs": CODECS}
        )

    @post("/{object_id:int}", status_code=303)
    async def update(self, request: Request, object_id: FromPath[int]) -> Template | Redirect:
        obj = await pbx.get_extension(request.user.company_id, object_id)
        data = await _form_data(request)
        try:
            obj, secret = await pbx.update_extension(
                request.user,
                object_id,
                data,
                context=request.app.state.settings.context_for(request.user.company_id),
                **_driver(request),
            )
        except ValidationError as exc:
            return Template(
                "admin/pbx/extension_form.html",
                context={"values": data, "errors": exc.errors, "edited": obj, "codecs": CODECS},
                status_code=400,
            )
        if secret:
            return Template("admin/pbx/secret.html", context={"obj": obj, "secret": secret}, status_code=200)
        flash(request, _("Saved extension %(name)s.") % {"name": obj.name})
        return Redirect("/admin/pbx/extensions", status_code=303)

    @post("/{object_id:int}/delete", status_code=303)
    async def remove(self, request: Request, object_id: FromPath[int]) -> Redirect:
        obj = await pbx.get_extension(request.user.company_id, object_id)
        await pbx.delete_extension(request.user, object_id)
        flash(request, _("Deleted extension %(name)s.") % {"name": obj.name})
        return Redirect("/admin/pbx/extensions", status_code=303)


# Trunks --------------------------------------------------------------------------------


class TrunksController(Controller):
    path = "/admin/pbx/trunks"
    guards = [admin_only]

    @get("/")
    async def index(self, request: Request) -> Template:
        items = await pbx.list_trunks(request.user.company_id)
        return Template("admin/pbx/trunks.html", context={"items": items, "tab": "trunks"})

    @get("/new")
    async def new(self) -> Template:
        values = {"codecs": ["ulaw", "alaw"], "context": "from-trunk", "register": True}
        return Template(
            "admin/pbx/trunk_form.html", context={"values": values, "errors": {}, "edited": None, "codecs": CODECS}
        )

    @post("/", status_code=303)
    async def create(self, request: Request) -> Template | Redirect:
        data = await _form_data(request)
        try:
            obj = await pbx.create_trunk(request.user, data, **_driver(request))
        except ValidationError as exc:
            data.pop("password", None)
            return Template(
                "admin/pbx/trunk_form.html",
                context={"values": data, "errors": exc.errors, "edited": None, "codecs": CODECS},
                status_code=400,
            )
        flash(request, _("Trunk %(name)s created.") % {"name": obj.name})
        return Redirect("/admin/pbx/trunks", status_code=303)

    @get("/{object_id:int}/edit")
    async def edit(self, request: Request, object_id: FromPath[int]) -> Template:
        obj = await pbx.get_trunk(request.user.company_id, object_id)
        return Template(
            "admin/pbx/trunk_form.html",
            context={"values": dict(obj.details), "errors": {}, "edited": obj, "codecs": CODECS},
        )

    @post("/{object_id:int}", status_code=303)
    async def update(self, request: Request, object_id: FromPath[int]) -> Template | Redirect:
        obj = await pbx.get_trunk(request.user.company_id, object_id)
        data = await _form_data(request)
        try:
            obj = await pbx.update_trunk(request.user, object_id, data, **_driver(request))
        except ValidationError as exc:
            data.pop("password", None)
            return Template(
                "admin/pbx/trunk_form.html",
                context={"values": data, "errors": exc.errors, "edited": obj, "codecs": CODECS},
                status_code=400,
            )
        flash(request, _("Saved trunk %(name)s.") % {"name": obj.name})
        return Redirect("/admin/pbx/trunks", status_code=303)

    @post("/{object_id:int}/delete", status_code=303)
    async def remove(self, request: Request, object_id: FromPath[int]) -> Redirect:
        obj = await pbx.get_trunk(request.user.company_id, object_id)
        await pbx.delete_trunk(request.user, object_id)
        flash(request, _("Deleted trunk %(name)s.") % {"name": obj.name})
        return Redirect("/admin/pbx/trunks", status_code=303)


# Queues --------------------------------------------------------------------------------


async def _queue_context(request: Request, values: dict, errors: dict, edited: PbxObject | None) -> dict:
    return {
        "values": values,
        "errors": errors,
        "edited": edited,
        "strategies": STRATEGIES,
        "extensions": await pbx.list_objects(request.user.company_id, "extension"),
    }


class QueuesController(Controller):
    path = "/admin/pbx/queues"
    guards = [admin_only]

    @get("/")
    async def index(self, request: Request) -> Template:
        items = await pbx.list_queues(request.user.company_id)
        return Template("admin/pbx/queues.html", context={"items": items, "tab": "queues"})

    @get("/new")
    async def new(self, request: Request) -> Template:
        values = {"strategy": "ringall", "timeout": 15, "wrapuptime": 0, "maxlen": 0}
        return Template("admin/pbx/queue_form.html", context=await _queue_context(request, values, {}, None))

    @post("/", status_code=303)
    async def create(self, request: Request) -> Template | Redirect:
        data = await read_form(request)
        try:
            obj = await pbx.create_queue(request.user, data, **_driver(request))
        except ValidationError as exc:
            return Template(
                "admin/pbx/queue_form.html",
                context=await _queue_context(request, data, exc.errors, None),
                status_code=400,
            )
        flash(request, _("Queue %(name)s created.") % {"name": obj.name})
        return Redirect("/admin/pbx/queues", status_code=303)

    @get("/{object_id:int}/edit")
    async def edit(self, request: Request, object_id: FromPath[int]) -> Template:
        obj = await pbx.get_queue(request.user.company_id, object_id)
        values = {k: obj.details.get(k) for k in ("strategy", "timeout", "wrapuptime", "maxlen")}
        for m in obj.details["members"]:
            values[f"member_{m['extension']}"] = "on"
            values[f"penalty_{m['extension']}"] = m["penalty"]
        return Template("admin/pbx/queue_form.html", context=await _queue_context(request, values, {}, obj))

    @post("/{object_id:int}", status_code=303)
    async def update(self, request: Request, object_id: FromPath[int]) -> Template | Redirect:
        obj = await pbx.get_queue(request.user.company_id, object_id)
        data = await read_form(request)
        try:
            obj = await pbx.update_queue(request.user, object_id, data, **_driver(request))
        except ValidationError as exc:
            return Template(
                "admin/pbx/queue_form.html",
                context=await _queue_context(request, data, exc.errors, obj),
                status_code=400,
            )
        flash(request, _("Saved queue %(name)s.") % {"name": obj.name})
        return Redirect("/admin/pbx/queues", status_code=303)

    @post("/{object_id:int}/delete", status_code=303)
    async def remove(self, request: Request, object_id: FromPath[int]) -> Redirect:
        obj = await pbx.get_queue(request.user.company_id, object_id)
        await pbx.delete_queue(request.user, object_id)
        flash(request, _("Deleted queue %(name)s.") % {"name": obj.name})
        return Redirect("/admin/pbx/queues", status_code=303)


@get("/admin/pbx/voice", guards=[admin_only])
async def voice_settings_page(request: Request) -> Template:
    """What a call does to chat routing and presence (issue 17)."""
    values = await phone.get_voice_settings(request.user.company_id)
    return Template("admin/pbx/voice.html", context={"values": values, "errors": {}, "tab": "voice"})


@post("/admin/pbx/voice", guards=[admin_only], status_code=303)
async def voice_settings_save(request: Request) -> Template | Redirect:
    data = await read_form(request)
    try:
        await phone.update_voice_settings(request.user, data)
    except ValidationError as exc:
        return Template(
            "admin/pbx/voice.html", context={"values": data, "errors": exc.errors, "tab": "voice"}, status_code=400
        )
    flash(request, _("Saved."))
    return Redirect("/admin/pbx/voice", status_code=303)


@get("/admin/pbx/dialplan", guards=[admin_only])
async def pbx_dialplan(request: Request) -> Template:
    """The extensions.conf lines for this company's own context (issue 17: one context per company)."""
    s = request.app.state.settings
    text = await pbx.dialplan(
        request.user.company_id, s.context_for(request.user.company_id), driver=s.asterisk_sip_driver
    )
    return Template("admin/pbx/dialplan.html", context={"dialplan": text, "tab": "dialplan"})


@get("/admin/pbx/audit", guards=[admin_only])
async def pbx_audit(request: Request) -> Template:
    """Who changed the PBX or acted on a call, with Asterisk's answer (latest 200)."""
    entries = await list_audit(request.user.company_id, limit=200)
    return Template("admin/pbx/audit.html", context={"entries": entries, "tab": "audit"})


CONTROLLERS = [
    ExtensionsController,
    TrunksController,
    QueuesController,
    pbx_audit,
    pbx_dialplan,
    voice_settings_page,
    voice_settings_save,
]
