"""The administration index: one page linking every admin screen, grouped.

Each admin area adds its entry to ``ADMIN_LINKS`` (one line); the top bar shows a single
"Admin" link to this page, so the bar fits at 1280 px however many screens exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Controller, get
from litestar.response import Template

from app.i18n import N_
from app.web.security import admin_only


@dataclass(frozen=True)
class AdminLink:
    section: str  # an N_() string, translated when shown
    href: str
    label: str
    description: str


SECTIONS = (N_("People"), N_("Conversations"), N_("Telephony"), N_("Company"))

ADMIN_LINKS: list[AdminLink] = [
    AdminLink(
        N_("People"), "/admin/users", N_("Users"), N_("Agents, supervisors and admins; roles, departments, capacity.")
    ),
    AdminLink(
        N_("People"),
        "/admin/contacts",
        N_("Contacts"),
        N_("Customers: search, edit, merge duplicates, opt-out, delete."),
    ),
    AdminLink(
        N_("People"),
        "/admin/departments",
        N_("Departments"),
        N_("Teams that conversations are routed to, with their rules."),
    ),
    AdminLink(N_("Conversations"), "/admin/channels", N_("Channels"), N_("WhatsApp numbers and their providers.")),
    AdminLink(
        N_("Conversations"),
        "/admin/auto-messages",
        N_("Automatic messages"),
        N_("Welcome, menu, waiting and closing texts."),
    ),
    AdminLink(
        N_("Conversations"),
        "/admin/quick-replies",
        N_("Quick replies"),
        N_("Canned answers agents insert with /shortcut."),
    ),
    AdminLink(N_("Conversations"), "/admin/labels", N_("Labels"), N_("Coloured tags agents put on conversations.")),
    AdminLink(N_("Conversations"), "/simulator", N_("Simulator"), N_("Play a customer on the Sandbox channel.")),
    AdminLink(N_("Telephony"), "/admin/pbx/extensions", N_("PBX"), N_("Extensions, trunks and call queues.")),
    AdminLink(N_("Company"), "/admin/company", N_("Company settings"), N_("Name, timezone and default language.")),
    AdminLink(
        N_("Company"),
        "/admin/business-hours",
        N_("Business hours"),
        N_("Opening hours, per department if needed, and holidays."),
    ),
    AdminLink(N_("Company"), "/admin/audit", N_("Audit"), N_("Who changed what, and when.")),
    AdminLink(
        N_("Company"),
        "/admin/api-keys",
        N_("API keys"),
        N_("Keys for integrators' programs: permissions, limits, revocation."),
    ),
    AdminLink(
        N_("Company"),
        "/admin/webhooks",
        N_("Webhooks"),
        N_("Events sent to your systems, signed; delivery log and replay."),
    ),
    AdminLink(
        N_("Company"),
        "/admin/orders",
        N_("Order confirmation"),
        N_("Keywords and templates for orders confirmed over WhatsApp."),
    ),
]


class AdminIndexController(Controller):
    guards = [admin_only]

    @get("/admin")
    async def index(self) -> Template:
        groups = [(section, [link for link in ADMIN_LINKS if link.section == section]) for section in SECTIONS]
        return Template("admin/index.html", context={"groups": [g for g in groups if g[1]]})
