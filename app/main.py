"""``create_app(settings)``: the only place where Switchboard is wired together."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from litestar import Litestar, Request, Response
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from app import __version__, db, netpolicy
from app.api import ROUTER as API_V1
from app.api import SECURITY_COMPONENTS
from app.api.operator import ROUTER as OPERATOR_API
from app.api.shop import ROUTER as SHOP_API
from app.dispatch.sweeper import run_dispatcher
from app.domain import sessions
from app.domain.audit import actor_of, audit_actor
from app.domain.auth import purge_old_failures
from app.domain.business_hours import SCHEDULES
from app.domain.channels import WEBHOOK_CHANNELS
from app.domain.companies import get_company_locale
from app.domain.media import configure_remote
from app.domain.messages import expire_pending_statuses
from app.i18n import choose_language, current_language, current_timezone
from app.logs import setup_logging
from app.providers.sender import Sender
from app.providers.webhook_sender import WebhookSender
from app.realtime.hub import Hub
from app.realtime.leader import SWEEPER, Leadership
from app.settings import ROOT, Settings
from app.storage import S3Config, S3Store
from app.telephony.ami import AmiError, AmiListener
from app.web.account import AccountController
from app.web.admin_index import AdminIndexController
from app.web.api_docs import RENDER_PLUGINS as API_DOCS
from app.web.api_keys import ApiKeysController
from app.web.audit import AuditController
from app.web.auth import AuthController
from app.web.auto_messages import AutoMessagesController
from app.web.business_hours import BusinessHoursController
from app.web.call_metrics import CallMetricsController
from app.web.channels import ChannelsController
from app.web.company import CompanyController
from app.web.contacts import ContactLanguageController, ContactsController
from app.web.conversation_labels import ConversationLabelsController, LabelsAdminController
from app.web.conversations import ConversationsController, SimulatorController
from app.web.departments import DepartmentsController
from app.web.errors import EXCEPTION_HANDLERS
from app.web.health import health
from app.web.history import HistoryController
from app.web.home import HomeController
from app.web.inbox import InboxController, my_work_fragment
from app.web.integrations import WebhooksController
from app.web.label_metrics import LabelMetricsController
from app.web.mentions import MentionsController
from app.web.metrics import MetricsController
from app.web.middleware import request_id_middleware, security_headers_middleware
from app.web.operator import OperatorController, ami_error_handler
from app.web.orders import OrdersController, OrderSettingsController
from app.web.pbx import CONTROLLERS as PBX_CONTROLLERS
from app.web.pbx_adopt import ROUTES as PBX_ADOPT_ROUTES
from app.web.phone import PhoneController
from app.web.presence import PresenceController
from app.web.profile import ProfileController
from app.web.pwa import ROUTES as PWA_ROUTES
from app.web.quick_replies import QuickRepliesController
from app.web.ratelimit import RateLimiter
from app.web.reopen import ReopenController
from app.web.reply_variables import ReplyVariablesController
from app.web.security import PostgresStore, check_csrf_binding, enrolment_redirect, page_rate_limited, session_auth
from app.web.stream import events
from app.web.studio import studio_incoming
from app.web.supervisor import PUBLISHER as WALLBOARD
from app.web.supervisor import SupervisorController
from app.web.templating import ENV
from app.web.users import UsersController
from app.web.viewers import ViewersController
from app.web.webhooks import ROUTES as WEBHOOK_ROUTES

log = logging.getLogger(__name__)

# Paths that authenticate otherwise than by the session's CSRF-protected cookie.
# /api/v1 and the seeds' APIs check session requests themselves (app.api.auth).
SEED_APIS = "^/api/(extensions|trunks|queues|calls|cdr|clients|orders)(/|$)"
CSRF_EXEMPT = ["^/webhooks/", "^/api/v1/", SEED_APIS]


def _freeze_startup_objects() -> None:
    """Keep what start-up built (modules, routes, compiled templates: ~140k objects) out of the
    garbage collector's full passes. Those objects live as long as the process; scanning them
    paused the event loop ~70 ms every second or two under load (tests/benchmarks/bench_ingest.py)."""
    gc.collect()
    gc.freeze()


def _on_exit_signal(callback: Callable[[], None]) -> None:
    """Run ``callback`` on SIGINT/SIGTERM before the server's own handler.

    uvicorn waits for open responses before it runs the lifespan shutdown, and an SSE
    stream never ends by itself: ending the streams when the signal arrives lets the
    server stop at once instead of after its graceful timeout.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(sig)
        if not callable(previous):
            continue

        def handler(signum, frame, previous=previous):  # noqa: ANN001
            loop.call_soon_threadsafe(callback)
            previous(signum, frame)

        signal.signal(sig, handler)


async def _maintenance(settings: Settings) -> None:
    """Housekeeping every few minutes: expired sessions, old login failures, stale early statuses."""
    while True:
        try:
            await PostgresStore().purge_expired()
            await purge_old_failures(settings.login_throttle_window)
            await expire_pending_statuses()  # early statuses whose message never came
        except Exception:  # noqa: BLE001
            log.exception("maintenance failed")
        await asyncio.sleep(600)


def create_app(
    settings: Settings, *, migrate: bool = True, dispatcher: bool = True, freeze_gc: bool = False
) -> Litestar:
    """Build the ASGI app for ``settings``; ``settings.database_url`` must be set.

    ``dispatcher=False`` leaves this process out of the election for the dispatcher (tests
    that drive dispatch step by step).
    """
    if not settings.database_url:
        raise ValueError("create_app needs settings.database_url (the CLI starts an embedded server)")
    settings = settings.with_secret()
    # Request traffic may go through a transaction-mode pooler (DATABASE_URL); LISTEN, the
    # leaders' session advisory locks and migrations need a direct connection (direct_url).
    db.configure(settings.database_url, pooler=bool(settings.database_direct_url))
    policy = netpolicy.Policy.from_settings(settings.private_networks, settings.allow_http)
    netpolicy.configure(policy)
    sessions.configure(settings.session_absolute_max_age)
    hub = Hub(settings.direct_url)
    WALLBOARD.attach(hub)  # the wallboard's snapshots are published through this process's hub
    hub.add_watcher(WEBHOOK_CHANNELS.on_bus)  # webhooks' channel cache follows the bus
    hub.add_watcher(SCHEDULES.on_bus)  # so does the dispatcher's schedule cache
    sweeper = Leadership(settings.direct_url, SWEEPER, "dispatcher", lambda: run_dispatcher(hub, settings))
    # The AMI listener runs in every process; only the advisory-lock leader connects.
    ami = AmiListener(settings) if settings.ami_host else None
    if ami is not None:
        hub.add_watcher(ami.phones.on_bus)  # presence in Switchboard pauses the agent's queue members

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # PostgreSQL may be restarting while this process starts (a worker restarted by uvicorn):
        # wait for it rather than fail the start (uvicorn would stop every worker).
        await db.wait_for_database(settings.direct_url, settings.database_start_wait)
        if migrate:
            await db.migrate(settings.direct_url)
            db.configure(settings.database_url, pooler=bool(settings.database_direct_url))
        await db.open_pool(read_dsn=settings.database_read_url)
        await hub.start()
        _on_exit_signal(hub.end_streams)
        housekeeping = asyncio.create_task(_maintenance(settings), name="maintenance")
        # One HTTP client per process for provider calls (sender worker, check connection, webhooks,
        # S3): every address it connects to is checked after DNS resolution (app.netpolicy).
        http = netpolicy.guarded_client(policy)
        app.state.http = http
        configure_remote(
            S3Store(
                S3Config(
                    settings.s3_endpoint,
                    settings.s3_bucket,
                    settings.s3_access_key,
                    settings.s3_secret_key,
                    settings.s3_region,
                ),
                http,
            )
            if settings.s3_bucket
            else None
        )
        sender = (
            asyncio.create_task(
                Sender(
                    http,
                    public_url=settings.public_url,
                    poll_interval=settings.sender_poll_ms / 1000,
                    max_attempts=settings.sender_max_attempts,
                    data_dir=settings.data_dir,
                    media_max_bytes=settings.media_max_bytes,
                    secret_key=settings.secret_key,
                    media_max_attempts=settings.media_max_attempts,
                ).run(),
                name="sender",
            )
            if settings.sender_enabled
            else None
        )
        hooks = (
            asyncio.create_task(WebhookSender(http, max_attempts=settings.webhook_max_attempts).run(), name="webhooks")
            if settings.sender_enabled
            else None
        )
        if dispatcher:
            sweeper.start()
        if ami is not None:
            await ami.start()
        if freeze_gc:  # server processes; not the tests' in-process apps, made and dropped by the hundred
            _freeze_startup_objects()
        try:
            yield
        finally:
            if ami is not None:
                await ami.close()
            await sweeper.close()
            housekeeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await housekeeping
            for worker in (sender, hooks):
                if worker is not None:
                    worker.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await worker
            await http.aclose()
            await hub.close()
            await db.close_pool()

    async def before_request(request: Request) -> Response | None:
        limited = page_rate_limited(request)
        if limited is not None:
            return limited
        check_csrf_binding(request, CSRF_EXEMPT)
        await set_language(request)
        return enrolment_redirect(request)

    async def set_language(request: Request) -> None:
        if request.scope["path"].startswith(("/webhooks/", "/health")):
            return  # providers and probes: no user, answers in English (3 % of a webhook's CPU)
        # The user's language, else the company's, else the browser's, else English.
        user = request.scope.get("user")
        company_language, zone = await get_company_locale(user.company_id) if user else ("", "UTC")
        accept = request.headers.get("accept-language")
        current_language.set(choose_language(getattr(user, "language", ""), company_language, accept))
        current_timezone.set(zone)
        audit_actor.set(actor_of(user, request.client.host if request.client else "unknown"))

    auth = session_auth(settings)
    auth.exclude = [*auth.exclude, "^/api/v1/", SEED_APIS]  # type: ignore[misc]  # API keys or the session: app.api.auth
    app = Litestar(
        route_handlers=[
            AdminIndexController,
            ChannelsController,
            ConversationsController,
            AutoMessagesController,
            SimulatorController,
            *WEBHOOK_ROUTES,
            studio_incoming,
            AuthController,
            AccountController,
            HomeController,
            InboxController,
            my_work_fragment,
            QuickRepliesController,
            UsersController,
            DepartmentsController,
            BusinessHoursController,
            CompanyController,
            ContactsController,
            ContactLanguageController,
            AuditController,
            SupervisorController,
            MetricsController,
            PresenceController,
            OperatorController,
            *PBX_CONTROLLERS,
            PhoneController,
            CallMetricsController,
            *PBX_ADOPT_ROUTES,
            API_V1,
            OPERATOR_API,
            SHOP_API,
            OrdersController,
            OrderSettingsController,
            ApiKeysController,
            WebhooksController,
            events,
            health,
            *PWA_ROUTES,
            ProfileController,
            LabelsAdminController,
            ConversationLabelsController,
            ReplyVariablesController,
            MentionsController,
            ReopenController,
            ViewersController,
            LabelMetricsController,
            HistoryController,
            create_static_files_router(path="/static", directories=[ROOT / "static"], cache_control=None),
        ],
        lifespan=[lifespan],
        on_app_init=[auth.on_app_init],
        before_request=before_request,
        template_config=TemplateConfig(instance=JinjaTemplateEngine.from_environment(ENV)),
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            cookie_secure=settings.secure_cookies,
            cookie_httponly=True,
            cookie_samesite="lax",
            exclude=CSRF_EXEMPT,
        ),
        stores={"sessions": PostgresStore()},
        exception_handlers={**EXCEPTION_HANDLERS, AmiError: ami_error_handler},  # type: ignore[arg-type]
        request_max_body_size=settings.max_body_bytes,
        # Only the public API (/api/v1, whose router opts back in) is published, on a docs page
        # without scripts (app.web.api_docs).
        openapi_config=OpenAPIConfig(
            title="Switchboard",
            version=__version__,
            path="/schema",
            components=SECURITY_COMPONENTS,
            render_plugins=API_DOCS,
        ),
        include_in_schema=False,
        state=State(
            {
                "settings": settings,
                "hub": hub,
                "sweeper": sweeper,
                "ami": ami,
                "webhook_limiter": RateLimiter(settings.webhook_rate_limit, burst=2 * settings.webhook_rate_limit),
                "page_limiter": RateLimiter(settings.page_rate_limit, per=60.0),
            }
        ),
        debug=False,
        # Our handlers (app.logs: request ids, LOG_LEVEL, LOG_JSON) stay in charge: Litestar's
        # default config would replace them with its own format at INFO on a queue thread.
        logging_config=None,
    )
    # Request ids, the access log and the hardening headers wrap everything Litestar answers,
    # its own refusals included (unknown paths, the login redirect, CSRF refusals): route-level
    # middleware would miss those.
    app.asgi_handler = request_id_middleware(security_headers_middleware(settings.secure_cookies)(app.asgi_handler))
    return app


def app_from_env() -> Litestar:
    """uvicorn factory for server processes: ``DATABASE_URL`` is set by ``switchboard serve``."""
    settings = Settings.from_env()
    setup_logging(settings.log_level, settings.log_json)
    return create_app(settings, migrate=False, freeze_gc=True)
