"""The agent workspace, ``/inbox``: conversation list, conversation and customer panes, and
its live events.

Pages and htmx requests get the same fragments (``templates/inbox/``). Live updates cost one
query per event, not one per open inbox: a conversation's row is read and rendered once per
event (``Memo`` / ``live.CACHE``, shared by every stream of the process, concurrent readers
included), and each stream only decides in memory whether its viewer may see it (the
company's department memberships are cached for a few seconds). The browser then places the
row itself (tab, filters, order: ``static/js/inbox.js``).
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, ServerSentEventMessage, Template

from app.dispatch.reads import (
    INBOX_STATUSES,
    INBOX_TABS,
    get_inbox_row,
    get_inbox_rows,
    inbox_counts,
    list_contact_rows,
    list_inbox,
    list_my_conversations,
    list_my_queue,
    my_unread,
    queue_ids,
)
from app.domain import sql
from app.domain.channels import get_channel, list_channels
from app.domain.contacts import CONTACT_LANGUAGES, get_contact
from app.domain.conversations import (
    QUEUE_STATUSES,
    department_members,
    may_reply,
    may_see,
    resolve_conversation,
    take_conversation,
    transfer_conversation,
)
from app.domain.errors import Conflict, NotFound, PermissionDenied, ValidationError
from app.domain.events import (
    ContactChanged,
    ConversationOpened,
    ConversationRouted,
    Event,
    MessageQueued,
    MessageReceived,
    MessageStatusChanged,
    NoteAdded,
    TypingChanged,
    UserChanged,
)
from app.domain.handovers import last_handover_from
from app.domain.labels import list_labels
from app.domain.mentions import add_note_with_mentions
from app.domain.messages import queue_message, window_open
from app.domain.notes import (
    Item,
    get_message_view,
    get_message_views,
    get_note,
    list_contact_conversations,
    list_timeline,
    mark_read,
    update_contact,
)
from app.domain.quick_replies import quick_replies_for
from app.domain.tables import User
from app.domain.typing_indicators import agent_typing, watch_customer_typing
from app.domain.validation import Cleaner
from app.i18n import N_, current_language, current_timezone, format_time, gettext
from app.web.conversations import _upload
from app.web.forms import read_form
from app.web.security import staff
from app.web.shared_results import SharedResults
from app.web.templating import ENV, render_fragment


@lru_cache(maxsize=8192)
def _short_time(minute: datetime, language: str, zone: str) -> str:
    return format_time(minute)  # reads the same language and zone as the key


def short_time(value: datetime | None) -> str:
    """``|time`` cached by minute, language and zone: a page shows hundreds of times, and
    Babel's formatting costs a tenth of a millisecond each (measured)."""
    if value is None:
        return ""
    return _short_time(value.replace(second=0, microsecond=0), current_language.get(), current_timezone.get())


ENV.filters["hm"] = short_time

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# Reading the request -------------------------------------------------------------------------


def _filters(request: Request) -> dict[str, Any]:
    """The list's tab and filters from the query string; bad values answer 400, ``all`` for an agent 403."""
    params = {k: v for k, v in request.query_params.items() if isinstance(v, str)}
    me = request.user
    c = Cleaner(params)
    default_tab = "mine" if me.role == "agent" else "all"
    tab = c.choice("tab", INBOX_TABS, default=default_tab) if params.get("tab") else default_tab
    status = c.choice("status", INBOX_STATUSES) if params.get("status") else ""
    department = c.integer("department", low=0, high=2**31 - 1, default=0) or None
    channel = c.integer("channel", low=0, high=2**31 - 1, default=0) or None
    label = c.integer("label", low=0, high=2**31 - 1, default=0) or None
    q = c.text("q", max_len=100, required=False)
    cursor = None
    if params.get("cursor"):
        try:
            micros, _, ident = params["cursor"].partition("-")
            cursor = (EPOCH + timedelta(microseconds=int(micros)), int(ident))
            if not 0 < cursor[1] < 2**31:
                raise ValueError
        except (ValueError, OverflowError, OSError):
            c.fail("cursor", N_("This link is out of date: reload the page."))
    c.raise_if_errors()
    if tab in ("all", "bot") and me.role not in ("admin", "supervisor"):
        raise PermissionDenied(N_("Only supervisors and admins see every conversation."))
    return {
        "tab": tab,
        "status": status,
        "department": department,
        "channel": channel,
        "q": q,
        "cursor": cursor,
        "label": label,
    }


def _query(filters: dict[str, Any], **changes: Any) -> str:
    values = {**filters, **changes}
    return urlencode({k: values[k] for k in ("tab", "status", "department", "channel", "label", "q") if values.get(k)})


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _cursor(cursor) -> str:
    """``<microseconds since 1970>-<id>``, exact (a float timestamp could round a microsecond away)."""
    return f"{(cursor[0] - EPOCH) // timedelta(microseconds=1)}-{cursor[1]}" if cursor else ""


async def _list_context(request: Request, filters: dict[str, Any]) -> dict[str, Any]:
    me = request.user
    rows, next_cursor = await list_inbox(
        me.company_id,
        me.id,
        filters["tab"],
        status=filters["status"],
        department_id=filters["department"],
        channel_id=filters["channel"],
        query=filters["q"],
        cursor=filters["cursor"],
        every_department=me.role in ("admin", "supervisor"),
        label_id=filters.get("label"),
    )
    return {"rows": rows, "filters": filters, "qs": _query(filters), "next_cursor": _cursor(next_cursor)}


async def _visible_conversation(request: Request, conversation_id: int):
    """The conversation's row if this user may see it; 404 otherwise (another company's, another agent's)."""
    me = request.user
    if not 0 < conversation_id < 2**31:
        raise NotFound(N_("No such conversation."))
    row = await get_inbox_row(me.company_id, conversation_id)
    if row is None:
        raise NotFound(N_("No such conversation."))
    deps = (await department_members(me.company_id)).get(me.id, frozenset()) if me.role == "agent" else frozenset()
    if not may_see(me.id, me.role, row, deps):
        raise NotFound(N_("No such conversation."))
    return row, deps


async def _actionable(request: Request, conversation_id: int):
    """``_visible_conversation`` for an action: when the conversation left the viewer's sight
    because a colleague just took it (it was waiting in the viewer's department), say who."""
    try:
        return await _visible_conversation(request, conversation_id)
    except NotFound:
        me = request.user
        row = await get_inbox_row(me.company_id, conversation_id)
        deps = (await department_members(me.company_id)).get(me.id, frozenset())
        if (
            row is not None
            and row["status"] == "assigned"
            and row["assigned_user_id"] != me.id
            and (row["department_id"] is None or row["department_id"] in deps)
        ):
            raise Conflict(
                gettext(N_("%(name)s took this conversation a moment ago.")) % {"name": row["assigned_name"] or "?"}
            ) from None
        raise


def _readonly_reason(me: User, c, deps) -> str:
    if c["status"] == "resolved":
        return N_(
            "This conversation is resolved: it is read-only history. The customer's next message opens a new one."
        )
    if c["status"] in ("bot", "queued"):
        return N_("This conversation is waiting for an agent: take it to answer.")
    return N_("Read-only: this conversation is assigned to %(name)s; only they or a supervisor may reply.")


async def _agents(company_id: int) -> list:
    return await sql.fetch(
        """SELECT id, name, presence FROM app_user WHERE company_id = $1 AND active AND role <> 'admin'
           ORDER BY lower(name) LIMIT 500""",
        company_id,
    )


async def _templates_used(company_id: int) -> list[str]:
    """Template names this company sent before: suggestions for the out-of-window template field."""
    rows = await sql.fetch(
        """SELECT DISTINCT data->'template'->>'name' AS name FROM message
           WHERE company_id = $1 AND type = 'template' AND data->'template' ? 'name' LIMIT 50""",
        company_id,
    )
    return [r["name"] for r in rows if r["name"]]


async def _departments(company_id: int) -> list:
    """The company's departments for the filters and the transfer menu (plain rows: Piccolo's
    objects cost milliseconds here, measured)."""
    return [
        Item(r)
        for r in await sql.fetch(
            "SELECT id, name, colour FROM department WHERE company_id = $1 ORDER BY lower(name)", company_id
        )
    ]


async def _nothing() -> list:
    return []


_WATCHERS: set[asyncio.Task] = set()


def _watch_typing(request: Request, conversation_id: int) -> None:
    """Ask the provider for the customer's typing, in the background (the pane does not wait)."""
    task = asyncio.create_task(watch_customer_typing(request.app.state.http, request.user.company_id, conversation_id))
    _WATCHERS.add(task)
    task.add_done_callback(_WATCHERS.discard)


async def _pane_context(request: Request, conversation_id: int) -> dict[str, Any]:
    me = request.user
    c, deps = await _visible_conversation(request, conversation_id)
    company_id = me.company_id
    channel = await get_channel(company_id, c["channel_id"])
    can_reply = may_reply(me.id, me.role, c)
    if c["status"] == "assigned" and c["assigned_user_id"] == me.id and c["unread"]:
        await mark_read(company_id, conversation_id)
    is_open = (not channel.impl.has_window) or window_open(c["last_inbound_at"])
    # Independent reads, side by side on the pool.
    (items, cursor), agents, templates, quick_replies, departments, contact, past = await asyncio.gather(
        list_timeline(company_id, conversation_id),
        _agents(company_id),
        _templates_used(company_id) if not is_open else _nothing(),
        quick_replies_for(company_id, c["department_id"]),
        _departments(company_id),
        get_contact(company_id, c["contact_id"], deleted_too=True),
        list_contact_conversations(company_id, c["contact_id"]),
    )
    supervisor = me.role in ("admin", "supervisor")
    can_take = c["status"] in ("bot", "queued") or (
        supervisor and c["status"] == "assigned" and c["assigned_user_id"] != me.id
    )
    if me.role == "agent" and c["department_id"] is not None and c["department_id"] not in deps:
        can_take = False
    reason = (
        ""
        if can_reply and c["status"] != "resolved"
        else gettext(_readonly_reason(me, c, deps)) % {"name": c["assigned_name"] or "?"}
    )
    return {
        "c": c,
        "channel": channel,
        "items": items,
        "cursor": cursor,
        "can_reply": can_reply and c["status"] != "resolved",
        "can_take": can_take and c["status"] != "resolved",
        "can_act": can_reply and c["status"] != "resolved",
        "readonly_reason": reason,
        "window_open": is_open,
        "quick_replies": quick_replies,
        "departments": departments,
        "agents": agents,
        "contact": contact,
        "languages": CONTACT_LANGUAGES,
        "past": [p for p in past if p["id"] != c["id"]],
        "templates": templates,
        "contact_errors": {},
    }


def _push_url(request: Request, conversation_id: int) -> str:
    """``/inbox/<id>`` keeping the list's tab and filters of the page the request came from."""
    current = request.headers.get("hx-current-url", "")
    keep = {
        k: v
        for k, v in parse_qsl(urlsplit(current).query)
        if k in ("tab", "status", "department", "channel", "label", "q")
    }
    return f"/inbox/{conversation_id}" + (f"?{urlencode(keep)}" if keep else "")


def _htmx(request: Request) -> bool:
    return bool(request.headers.get("hx-request"))


# Pages and fragments -----------------------------------------------------------------------------


class InboxController(Controller):
    path = "/inbox"
    guards = [staff]

    async def _page(self, request: Request, conversation_id: int | None) -> Template:
        me = request.user
        filters = _filters(request)
        company_id = me.company_id
        pane = _pane_context(request, conversation_id) if conversation_id is not None else _nothing()
        every = me.role in ("admin", "supervisor")
        (
            listing,
            counts,
            mine_unread,
            queued,
            members,
            departments,
            channels,
            pane_context,
            labels,
        ) = await asyncio.gather(
            _list_context(request, filters),
            inbox_counts(company_id, me.id, every),
            my_unread(company_id, me.id),
            queue_ids(company_id, me.id, every),
            department_members(company_id),
            _departments(company_id),
            list_channels(company_id),
            pane,
            list_labels(company_id),
        )
        context = {
            **listing,
            "counts": counts,
            "mine_unread": mine_unread,
            "queue_ids": queued,
            "my_departments": sorted(members.get(me.id, frozenset())),
            "all_departments": departments,
            "channels": channels,
            "open_id": conversation_id,
            "queue_statuses": QUEUE_STATUSES,
            **(pane_context or {}),
            "all_labels": labels,
        }
        if conversation_id is not None:
            _watch_typing(request, conversation_id)
        return Template("inbox/page.html", context=context)

    @get("/")
    async def index(self, request: Request) -> Template:
        return await self._page(request, None)

    @get("/{conversation_id:int}")
    async def show(self, request: Request, conversation_id: FromPath[int]) -> Template:
        return await self._page(request, conversation_id)

    @get("/list")
    async def rows(self, request: Request) -> Template:
        filters = _filters(request)
        context = await _list_context(request, filters)
        name = "inbox/_rows_more.html" if filters["cursor"] else "inbox/_rows.html"
        return Template(name, context=context)

    @get("/{conversation_id:int}/pane")
    async def pane(self, request: Request, conversation_id: FromPath[int]) -> Template:
        context = await _pane_context(request, conversation_id)
        _watch_typing(request, conversation_id)
        headers = {"HX-Push-Url": _push_url(request, conversation_id)} if _htmx(request) else None
        return Template("inbox/_pane.html", context=context, headers=headers)

    @get("/{conversation_id:int}/timeline")
    async def timeline(self, request: Request, conversation_id: FromPath[int]) -> Template:
        c, _ = await _visible_conversation(request, conversation_id)
        cl = Cleaner({"before": request.query_params.get("before")})
        before = cl.integer("before", low=1, high=2**62)
        cl.raise_if_errors()
        items, cursor = await list_timeline(request.user.company_id, conversation_id, before=before)
        return Template(
            "inbox/_timeline_page.html",
            context={
                "c": c,
                "items": items,
                "cursor": cursor,
                "can_reply": may_reply(request.user.id, request.user.role, c),
            },
        )

    @post("/{conversation_id:int}/messages", status_code=200)
    async def send(self, request: Request, conversation_id: FromPath[int]) -> Template | Redirect:
        me = request.user
        c, _ = await _visible_conversation(request, conversation_id)
        if not may_reply(me.id, me.role, c):
            raise PermissionDenied(N_("Only the assigned agent or a supervisor may reply to this conversation."))
        data = await read_form(request)
        if isinstance(data.get("text"), str):  # control characters (but newlines and tabs) mean nothing to a customer
            data["text"] = CONTROL.sub("", data["text"])
        media = await _upload(request, data)
        message_id = await queue_message(me.company_id, conversation_id, data, user_id=me.id, media=media)
        if not _htmx(request):
            return Redirect(f"/inbox/{conversation_id}", status_code=303)
        m = await get_message_view(me.company_id, message_id)
        return Template("conversations/_message.html", context={"m": m, "resend": True})

    @post("/{conversation_id:int}/notes", status_code=200)
    async def note(self, request: Request, conversation_id: FromPath[int]) -> Template | Redirect:
        await _visible_conversation(request, conversation_id)
        data = await read_form(request)
        note_id = await add_note_with_mentions(request.user.company_id, conversation_id, request.user.id, data)
        if not _htmx(request):
            return Redirect(f"/inbox/{conversation_id}", status_code=303)
        return Template("inbox/_note.html", context={"n": await get_note(request.user.company_id, note_id)})

    @post("/{conversation_id:int}/typing", status_code=204)
    async def typing(self, request: Request, conversation_id: FromPath[int]) -> None:
        """The agent types in the composer (``state=typing``, every few seconds) or stopped
        (``paused``): the customer sees "typing…" where the provider can show it."""
        me = request.user
        c, _ = await _visible_conversation(request, conversation_id)
        if not may_reply(me.id, me.role, c) or c["status"] == "resolved":
            raise PermissionDenied(N_("Only the assigned agent or a supervisor may reply to this conversation."))
        cl = Cleaner(await read_form(request))
        state = cl.choice("state", ("typing", "paused"))
        cl.raise_if_errors()
        await agent_typing(request.app.state.http, me.company_id, conversation_id, state == "typing")

    @post("/{conversation_id:int}/read", status_code=200)
    async def read(self, request: Request, conversation_id: FromPath[int]) -> Response:
        c, _ = await _visible_conversation(request, conversation_id)
        if c["assigned_user_id"] == request.user.id:
            await mark_read(request.user.company_id, conversation_id)
        return Response("", status_code=200)

    async def _after_action(self, request: Request, conversation_id: int) -> Template | Redirect:
        if not _htmx(request):
            return Redirect(f"/inbox/{conversation_id}", status_code=303)
        try:
            return Template("inbox/_pane.html", context=await _pane_context(request, conversation_id))
        except NotFound:  # transferred away from an agent: out of their sight now
            return Template("inbox/_pane_empty.html", context={"gone": True})

    @post("/{conversation_id:int}/take", status_code=200)
    async def take(self, request: Request, conversation_id: FromPath[int]) -> Template | Redirect:
        await _actionable(request, conversation_id)
        await read_form(request)
        await take_conversation(request.user, conversation_id)
        return await self._after_action(request, conversation_id)

    @post("/{conversation_id:int}/resolve", status_code=200)
    async def resolve(self, request: Request, conversation_id: FromPath[int]) -> Template | Redirect:
        await _actionable(request, conversation_id)
        await read_form(request)
        await resolve_conversation(request.user, conversation_id)
        return await self._after_action(request, conversation_id)

    @post("/{conversation_id:int}/transfer", status_code=200)
    async def transfer(self, request: Request, conversation_id: FromPath[int]) -> Template | Redirect:
        await _actionable(request, conversation_id)
        data = await read_form(request)
        c = Cleaner(data)
        target = c.text("target", max_len=20)
        note = c.text("note", max_len=2000, required=False)
        kind, _, ident = target.partition("-")
        department_id = user_id = None
        try:
            value = int(ident)
            if kind not in ("department", "user") or not 0 < value < 2**31:
                raise ValueError
        except ValueError:
            c.fail("target", N_("Choose a department or an agent."))
        else:
            department_id, user_id = (value, None) if kind == "department" else (None, value)
        c.raise_if_errors()
        await transfer_conversation(
            request.user, conversation_id, department_id=department_id, user_id=user_id, note=note
        )
        return await self._after_action(request, conversation_id)

    @post("/{conversation_id:int}/contact", status_code=200)
    async def contact(self, request: Request, conversation_id: FromPath[int]) -> Template | Redirect:
        c, _ = await _visible_conversation(request, conversation_id)
        data = await read_form(request)
        company_id = request.user.company_id
        errors: dict = {}
        try:
            await update_contact(company_id, c["contact_id"], data)
        except ValidationError as exc:
            errors = exc.errors
        if not _htmx(request) and not errors:
            return Redirect(f"/inbox/{conversation_id}", status_code=303)
        contact = await get_contact(company_id, c["contact_id"], deleted_too=True)
        context = {
            "c": c,
            "contact": contact
            if not errors
            else {**dict(contact), **{k: data.get(k, "") for k in ("name", "email", "details")}},
            "contact_errors": errors,
            "saved": not errors,
            "languages": CONTACT_LANGUAGES,
            "past": [p for p in await list_contact_conversations(company_id, c["contact_id"]) if p["id"] != c["id"]],
        }
        return Template(
            "inbox/_customer.html",
            context=context,
            status_code=400 if errors else 200,
            headers={"HX-Reswap": "outerHTML"} if errors else None,
        )

    @get("/{conversation_id:int}/past/{past_id:int}")
    async def past(self, request: Request, conversation_id: FromPath[int], past_id: FromPath[int]) -> Template:
        """A past conversation of the same customer, read-only: whoever may see the current one
        may read the customer's history."""
        c, _ = await _visible_conversation(request, conversation_id)
        if not 0 < past_id < 2**31:
            raise NotFound(N_("No such conversation."))
        past = await sql.fetchrow(
            "SELECT id, created_at, status FROM conversation WHERE company_id = $1 AND id = $2 AND contact_id = $3",
            request.user.company_id,
            past_id,
            c["contact_id"],
        )
        if past is None:
            raise NotFound(N_("No such conversation."))
        items, _ = await list_timeline(request.user.company_id, past_id, limit=200)
        return Template("inbox/_past.html", context={"p": past, "items": items})


@get("/my-work", guards=[staff])
async def my_work_fragment(request: Request) -> Template:
    """The home page's "my work" cards, fetched when the stream says they changed."""
    me = request.user
    return Template(
        "dispatch/_my_work.html",
        context={
            "mine": await list_my_conversations(me.company_id, me.id),
            "queue": await list_my_queue(me.company_id, me.id),
        },
    )


# Live ---------------------------------------------------------------------------------------------


Memo = SharedResults  # results of coroutines by key, shared by concurrent callers (app.web.shared_results)


ROWS = Memo(size=512, ttl=3.0)
ITEMS = Memo(size=512, ttl=3.0)
MEMBERS = Memo(size=256, ttl=2.0)

ROW_EVENTS = (MessageReceived, MessageQueued, MessageStatusChanged, ConversationRouted, ConversationOpened, NoteAdded)


async def prefetch_live(events: list[Event]) -> None:
    """Rows and bubbles of a batch of waiting events in one query each (per company), so that
    rendering the batch reads them from the memos instead of two queries per event."""
    rows_wanted: dict[int, list] = {}
    views_wanted: dict[int, list] = {}
    for event in events:
        if isinstance(event, ROW_EVENTS) and not ROWS.fresh(event):
            rows_wanted.setdefault(event.company_id, []).append(event)
        if isinstance(event, (MessageReceived, MessageQueued, MessageStatusChanged)) and not ITEMS.fresh(event):
            views_wanted.setdefault(event.company_id, []).append(event)
    for company_id, wanted in rows_wanted.items():
        if len(wanted) > 1:
            rows = await get_inbox_rows(company_id, [e.conversation_id for e in wanted])  # type: ignore[attr-defined]
            for event in wanted:
                ROWS.put(event, rows.get(event.conversation_id))  # type: ignore[attr-defined]
    for company_id, wanted in views_wanted.items():
        if len(wanted) > 1:
            views = await get_message_views(company_id, [e.message_id for e in wanted])  # type: ignore[attr-defined]
            for event in wanted:
                if event.message_id in views:  # type: ignore[attr-defined]
                    ITEMS.put(event, views[event.message_id])  # type: ignore[attr-defined]


async def _row_for(event: Event):
    return await ROWS.get(event, lambda: get_inbox_row(event.company_id, event.conversation_id))  # type: ignore[attr-defined]


async def viewer_departments(viewer: User) -> frozenset[int]:
    members = await MEMBERS.get(viewer.company_id, lambda: department_members(viewer.company_id))
    return members.get(viewer.id, frozenset())


async def may_see_live(event: Event, viewer: User) -> bool:
    """Whether the viewer may see the event's conversation, without a query of its own."""
    if viewer.role in ("admin", "supervisor"):
        return True
    row = await _row_for(event)
    return row is not None and may_see(viewer.id, viewer.role, row, await viewer_departments(viewer))


async def render_live(event: Event, viewer: User) -> list[ServerSentEventMessage]:
    """The inbox's share of an event: the conversation's list row (or its removal) and notes."""
    from app.web.live import CACHE

    if isinstance(event, UserChanged):
        MEMBERS.forget(event.company_id)  # departments may have changed
        return []
    if isinstance(event, ContactChanged):
        out = []
        deps = await viewer_departments(viewer)
        for row in await ROWS.get(event, lambda: list_contact_rows(event.company_id, event.contact_id)):
            if may_see(viewer.id, viewer.role, row, deps):
                html = await CACHE.get(
                    (event, "inbox-row", row["id"]),
                    lambda row=row: _render_async("inbox/_row.html", c=row, open_id=None),
                )
                out.append(ServerSentEventMessage(event="inbox-row", data=html))
        return out
    if isinstance(event, TypingChanged):
        # The customer types: the open conversation's hint ("… is typing"), for those who may see it.
        if event.who != "customer" or not await may_see_live(event, viewer):
            return []
        return [ServerSentEventMessage(event=f"typing-{event.conversation_id}", data=event.state)]
    if not isinstance(event, ROW_EVENTS):
        return []
    row = await _row_for(event)
    if row is None:
        return []
    out: list[ServerSentEventMessage] = []
    deps = await viewer_departments(viewer)
    if may_see(viewer.id, viewer.role, row, deps):
        html = await CACHE.get((event, "inbox-row"), lambda: _render_async("inbox/_row.html", c=row, open_id=None))
        out.append(ServerSentEventMessage(event="inbox-row", data=html))
        # The open conversation's thread: a new or changed bubble, replaced by id in the page.
        if isinstance(event, NoteAdded):
            note = await ITEMS.get(event, lambda: get_note(event.company_id, event.note_id))
            bubble = await CACHE.get((event, "inbox-note"), lambda: _render_async("inbox/_note.html", n=note))
        elif isinstance(event, (MessageReceived, MessageQueued, MessageStatusChanged)):
            m = await ITEMS.get(event, lambda: get_message_view(event.company_id, event.message_id))
            bubble = await CACHE.get(
                (event, "inbox-msg"), lambda: _render_async("conversations/_message.html", m=m, resend=True)
            )
        else:
            bubble = ""
        if bubble:
            out.append(ServerSentEventMessage(event=f"thread-{event.conversation_id}", data=bubble))
    elif isinstance(event, ConversationRouted):
        # Out of this viewer's sight now (taken by a colleague, transferred away): every list
        # that shows it drops it, and an open pane says so: "<id> <why>" for the agent who lost
        # it (app.domain.handovers); for the others, who never had it, "<id> taken" when a
        # colleague took it (not "no longer yours: transferred"), "<id>" otherwise.
        why = ""
        if viewer.id == event.previous_user_id:
            why = " " + await last_handover_from(event.company_id, event.conversation_id, viewer.id)
        elif event.status == "assigned":
            why = " taken"
        out.append(ServerSentEventMessage(event="inbox-gone", data=f"{event.conversation_id}{why}"))
    return out


async def _render_async(name: str, **context: Any) -> str:
    return render_fragment(name, **context)


async def concerns_my_work(event: Event, viewer: User) -> bool:
    """Whether the viewer's "my work" cards (home page) change with this event."""
    if isinstance(event, ConversationRouted):
        if viewer.id in (event.user_id, event.previous_user_id):
            return True
        return event.department_id is None or event.department_id in await viewer_departments(viewer)
    if isinstance(event, ConversationOpened):
        row = await _row_for(event)
        return row is not None and (
            row["department_id"] is None or row["department_id"] in await viewer_departments(viewer)
        )
    return False
