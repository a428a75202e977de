"""Screens touched by the agent's-day work, at 1280 and 390 px: nothing wider than the window
at 1280 px (tables included), screenshots of each for people to look at."""

import pytest

from app.domain import sql
from app.domain.audit import record_audit
from tests.browser.conftest import browser_login, run, screenshot
from tests.dispatch.factories import make_channel, make_conversation
from tests.factories import PASSWORD, make_company, make_department, make_user

pytestmark = pytest.mark.browser

PAGES = [
    "/admin/audit",
    "/metrics",
    "/supervisor",
    "/operator",
    "/admin/company",
    "/admin/business-hours",
    "/admin/users/new",
    "/admin/contacts",
    "/inbox",
    "/",
    "/admin/labels",
    "/admin/quick-replies/new",
    "/admin/pbx/queues/new",
    "/profile",
    "/inbox/mentions",
]

OVERFLOW = """() => {
  const out = [];
  const page = document.documentElement.scrollWidth;
  if (page > window.innerWidth + 1) { out.push('page ' + page); }
  document.querySelectorAll('table').forEach(t => {
    const box = t.parentElement;
    if (t.offsetParent && t.scrollWidth > box.clientWidth + 1) {
      out.push((t.id || t.className) + ' ' + t.scrollWidth + '>' + box.clientWidth);
    }
  });
  return out;
}"""


async def _audit_entry(company_id: int) -> None:
    async with sql.transaction():
        await record_audit(
            company_id,
            "company.updated",
            target_type="company",
            target_id=company_id,
            target_label="A company with a rather long name for the audit log",
            before={
                "name": "Old name of the company, long enough",
                "timezone": "America/Argentina/Buenos_Aires",
                "language": "pt_BR",
            },
            after={
                "name": "New name of the company, longer than the old one",
                "timezone": "Europe/Paris",
                "language": "fr",
            },
        )


@pytest.mark.parametrize("language", ["en", "pt_BR", "fr"])
def test_touched_screens_fit_at_1280_and_are_captured_at_390(new_page, language):
    company = run(make_company(f"Screens {language}"))
    support = run(make_department(company, "Support technique et après-vente", code="SUP"))
    channel = run(make_channel(company, department=support))
    run(make_conversation(company, channel))
    admin = run(make_user(company, "admin", name="Adélaïde Administratrice"))
    run(sql.execute("UPDATE app_user SET language = $2 WHERE id = $1", admin.id, language))
    run(_audit_entry(company.id))
    run(sql.execute("INSERT INTO label (company_id, name, colour) VALUES ($1, 'Remboursement', '#b45309')", company.id))
    for width in (1280, 390):
        page = new_page(width=width, height=900)
        browser_login(page, admin.email, PASSWORD)
        for path in PAGES:
            page.goto(path)
            page.wait_for_load_state("networkidle")
            name = path.strip("/").replace("/", "-") or "team"
            screenshot(page, f"screen-{name}-{width}-{language}")
            if width == 1280:
                assert page.evaluate(OVERFLOW) == [], (path, language)
            if path == "/admin/audit":  # accents as typed, not JSON escapes
                assert "Support technique et après-vente" in page.inner_text("main")
