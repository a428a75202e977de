"""Turning committed events into the HTML fragments a given viewer may see.

One renderer per event name chooses its recipients and fragments (Chatwoot's listener
pattern). A fragment depends on the event and the viewer's role, not on the viewer, so it is
rendered once per process, role and language and reused for every subscriber (``FragmentCache``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable

from litestar.response import ServerSentEventMessage

from app.domain.conversations import get_conversation
from app.domain.events import (
    ContactChanged,
    ConversationOpened,
    ConversationRouted,
    Event,
    MessageQueued,
    MessageReceived,
    MessageStatusChanged,
    NoteAdded,
    PresenceChanged,
    ReinjectionAlert,
    TypingChanged,
    UserChanged,
)
from app.domain.messages import get_message, get_messages
from app.domain.tables import User
from app.domain.users import departments_by_user, get_user
from app.i18n import current_language
from app.telephony.live import PbxLiveChanged
from app.web.shared_results import SharedResults
from app.web.templating import render_fragment


class FragmentCache(SharedResults):
    """Rendered fragments keyed by (event, variant) and the viewer's language, kept ``ttl``
    seconds: an event is fanned out to every stream within a moment; the time limit keeps an
    equal event later (a status set again, ids restarting in a test database) from getting a
    stale fragment."""

    def __init__(self, size: int = 512, ttl: float = 3.0) -> None:
        super().__init__(size, ttl)

    async def get(self, key: tuple, make: Callable[[], Awaitable[str]]) -> str:
        return await super().get((*key, current_language.get()), make)


CACHE = FragmentCache()


async def _presence(event: PresenceChanged, viewer: User) -> list[ServerSentEventMessage]:
    async def badge() -> str:
        return render_fragment("users/_presence.html", presence=event.presence, user_id=event.user_id)

    messages = [
        ServerSentEventMessage(event=f"presence-{event.user_id}", data=await CACHE.get((event, "badge"), badge))
    ]
    if event.user_id == viewer.id:
        viewer.presence = event.presence
        messages.append(
            ServerSentEventMessage(event="my-presence", data=render_fragment("users/_presence_switch.html", me=viewer))
        )
    return messages


async def _user_changed(event: UserChanged, viewer: User) -> list[ServerSentEventMessage]:
    if viewer.role != "admin":
        return []

    async def row() -> str:
        user = await get_user(event.company_id, event.user_id)
        departments = await departments_by_user(event.company_id)
        return render_fragment("admin/users/_row.html", u=user, departments_of=departments)

    return [ServerSentEventMessage(event=f"user-row-{event.user_id}", data=await CACHE.get((event, "row"), row))]


async def _operator_live(event: PbxLiveChanged, viewer: User) -> list[ServerSentEventMessage]:
    from app.web.operator import render_live  # the console owns its fragments

    return await render_live(event, viewer)


class RowMemo:
    """Message rows fetched for a batch of events, keyed by event (like the fragments), LRU."""

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self._rows: OrderedDict = OrderedDict()

    def put(self, event: Event, row: dict) -> None:
        self._rows[event] = row
        self._rows.move_to_end(event)
        while len(self._rows) > self.size:
            self._rows.popitem(last=False)

    async def message(self, event: MessageReceived | MessageQueued | MessageStatusChanged) -> dict:
        row = self._rows.get(event)
        return row if row is not None else await get_message(event.company_id, event.message_id)


ROWS = RowMemo()
MESSAGE_EVENTS = (MessageReceived, MessageQueued, MessageStatusChanged)


async def prefetch(events: list[Event], viewer: User, topics: frozenset[str] | None = None) -> None:
    """Fetch what a batch of events needs in one query per kind and company, before rendering
    them: the inbox's rows and bubbles (every viewer), the conversation page's messages
    (supervisors). The renderers then find them in their memos."""
    from app.web.inbox import prefetch_live

    if topics is None or "inbox" in topics:
        await prefetch_live(events)
    if viewer.role not in ("admin", "supervisor") or not (topics is None or "conversation" in topics):
        return
    by_company: dict[int, list] = {}
    for event in events:
        if isinstance(event, MESSAGE_EVENTS) and event not in ROWS._rows:
            by_company.setdefault(event.company_id, []).append(event)
    for company_id, wanted in by_company.items():
        if len(wanted) < 2:
            continue  # one event: the renderer's own query is as cheap
        rows = await get_messages(company_id, [e.message_id for e in wanted])
        for event in wanted:
            if event.message_id in rows:
                ROWS.put(event, rows[event.message_id])


async def _message(event: MessageReceived | MessageQueued, viewer: User) -> list[ServerSentEventMessage]:
    """A new message: appended to its conversation page and to the simulator showing it."""
    if viewer.role not in ("admin", "supervisor"):
        return []  # agents get conversations through dispatch (issue 4)

    async def item() -> str:
        return render_fragment("conversations/_message.html", m=await ROWS.message(event))

    return [
        ServerSentEventMessage(event=f"message-new-{event.conversation_id}", data=await CACHE.get((event, "msg"), item))
    ]


async def _message_status(event: MessageStatusChanged, viewer: User) -> list[ServerSentEventMessage]:
    if viewer.role not in ("admin", "supervisor"):
        return []

    async def item() -> str:
        return render_fragment("conversations/_message.html", m=await ROWS.message(event), resend=True)

    # Named after the conversation: see static/js/conversation.js.
    return [
        ServerSentEventMessage(
            event=f"message-status-{event.conversation_id}", data=await CACHE.get((event, "msg"), item)
        )
    ]


async def _agent_typing(event: TypingChanged, viewer: User) -> list[ServerSentEventMessage]:
    """An agent types in a Sandbox conversation: the simulator page (the customer's phone) shows it."""
    if event.who != "agent" or viewer.role not in ("admin", "supervisor"):
        return []
    return [ServerSentEventMessage(event=f"typing-agent-{event.conversation_id}", data=event.state)]


async def _my_work(event: Event, viewer: User) -> list[ServerSentEventMessage]:
    """Tell the people whose own conversations or queue changed; their page fetches its list
    (``GET /my-work``), so an event costs a query per concerned viewer, not per open page."""
    from app.web.inbox import concerns_my_work

    if viewer.role == "admin" or not await concerns_my_work(event, viewer):
        return []
    return [ServerSentEventMessage(event="my-work-changed", data="changed")]


async def _inbox(event: Event, viewer: User) -> list[ServerSentEventMessage]:
    """The agent workspace's rows and threads (``app.web.inbox``)."""
    from app.web.inbox import render_live as render_inbox

    return await render_inbox(event, viewer)


async def _reinjection_alert(event: ReinjectionAlert, viewer: User) -> list[ServerSentEventMessage]:
    """A toast for supervisors: a customer keeps waiting."""
    if viewer.role not in ("admin", "supervisor"):
        return []
    conv = await get_conversation(event.company_id, event.conversation_id)
    who = conv["contact_name"] or conv["phone"] or "a customer"
    html = render_fragment(
        "dispatch/_alert.html", conversation_id=event.conversation_id, who=who, reinjections=event.reinjections
    )
    return [ServerSentEventMessage(event="alert", data=html)]


async def _my_alert(event: Event, viewer: User) -> list[ServerSentEventMessage]:
    """Sound, notification and title count on every page (``app.web.alerts``)."""
    from app.web.alerts import render_alert

    return await render_alert(event, viewer)


# Which renderers run for which page. A page's stream names the live features it shows
# (``/events?topics=inbox``, from ``{% block live_topics %}`` in its template); renderers of
# other pages are skipped for that stream, so an event costs only what open pages need. A topic
# of None is shown on every page (presence switch, alerts). A stream that names no topics at all
# (an API client, older tests) gets everything.
Renderer = Callable[[Event, User], Awaitable[list[ServerSentEventMessage]]]
ROUTES: dict[str, list[tuple[frozenset[str] | None, Renderer]]] = {}
TOPICS: set[str] = set()


def route(event: type[Event], topics: str | tuple[str, ...] | None, renderer: Renderer) -> None:
    wanted = None if topics is None else frozenset((topics,) if isinstance(topics, str) else topics)
    TOPICS.update(wanted or ())
    ROUTES.setdefault(event.name, []).append((wanted, renderer))


route(PresenceChanged, None, _presence)  # type: ignore[arg-type]
route(ReinjectionAlert, None, _reinjection_alert)  # type: ignore[arg-type]
from app.domain.mentions import MentionAdded  # noqa: E402

for _cls in (ConversationRouted, MessageReceived, MentionAdded):
    route(_cls, None, _my_alert)
route(UserChanged, "users", _user_changed)  # type: ignore[arg-type]
route(PbxLiveChanged, "operator", _operator_live)  # type: ignore[arg-type]
for _cls in (MessageReceived, MessageQueued):
    route(_cls, "conversation", _message)  # type: ignore[arg-type]
route(MessageStatusChanged, "conversation", _message_status)  # type: ignore[arg-type]
route(TypingChanged, "conversation", _agent_typing)  # type: ignore[arg-type]
for _cls in (ConversationRouted, ConversationOpened):
    route(_cls, "home", _my_work)
for _cls in (
    ConversationRouted,
    MessageReceived,
    MessageQueued,
    MessageStatusChanged,
    ConversationOpened,
    UserChanged,
    NoteAdded,
    ContactChanged,
    TypingChanged,
):
    route(_cls, "inbox", _inbox)

# Labels on conversations (app.web.conversation_labels): the rows and the open pane.
from app.domain.labels import LabelsChanged  # noqa: E402
from app.web.conversation_labels import render_live as _labels  # noqa: E402

route(LabelsChanged, "inbox", _labels)  # type: ignore[arg-type]

# Who else has a conversation open (app.web.viewers).
from app.domain.viewers import ViewersChanged  # noqa: E402
from app.web.viewers import render_live as _viewers  # noqa: E402

route(ViewersChanged, "inbox", _viewers)  # type: ignore[arg-type]

# The supervisor wallboard (app.web.supervisor).
from app.domain.wallboard import WallboardChanged  # noqa: E402
from app.web.supervisor import TOUCHING as _WALLBOARD_EVENTS  # noqa: E402
from app.web.supervisor import render_live as _wallboard  # noqa: E402

for _cls in (*_WALLBOARD_EVENTS, WallboardChanged):
    route(_cls, "wallboard", _wallboard)  # type: ignore[arg-type]

# Shop orders (app.web.orders): the Orders page's rows and counters, and the inbox's customer panel.
from app.domain.events import OrderChanged  # noqa: E402
from app.web.orders import render_live as _orders  # noqa: E402

route(OrderChanged, ("orders", "inbox"), _orders)  # type: ignore[arg-type]


def parse_topics(raw: str | None) -> frozenset[str] | None:
    """The known topics named in ``raw`` ("inbox,home"); None (everything) when absent."""
    if raw is None:
        return None
    return frozenset(t for t in raw[:200].split(",") if t in TOPICS)


async def render_event(
    event: Event, viewer: User, topics: frozenset[str] | None = None
) -> list[ServerSentEventMessage]:
    out: list[ServerSentEventMessage] = []
    for wanted, renderer in ROUTES.get(event.name, ()):
        if wanted is None or topics is None or wanted & topics:
            out.extend(await renderer(event, viewer))
    return out


# The agent's phone (issue 17): the screen-pop and the phone chip on every page of the agent.
from app.domain.phone import AgentPhoneChanged  # noqa: E402
from app.web.phone import render_live as _phone  # noqa: E402

route(AgentPhoneChanged, None, _phone)  # type: ignore[arg-type]
