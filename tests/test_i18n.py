"""Languages: the catalogues are complete, and people see their language on the main screens."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from app.domain import sql
from app.i18n import (
    LOCALE_DIR,
    choose_language,
    current_language,
    format_date,
    format_datetime,
    format_number,
    from_accept_language,
)
from tests.factories import make_company, make_user
from tests.helpers import login, post_form

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ["fr", "pt_BR"]
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def _catalog(path: Path, locale: str | None = None):
    with path.open("rb") as fh:
        return read_po(fh, locale=locale)


def _ids(catalog) -> set:
    return {m.id for m in catalog if m.id}


TEMPLATES = sorted(LOCALE_DIR.glob("*.pot"))


@pytest.mark.nodb
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("pot", TEMPLATES, ids=lambda path: path.stem)
def test_catalogue_translates_every_message(language, pot):
    template = _catalog(pot)
    catalog = _catalog(LOCALE_DIR / language / "LC_MESSAGES" / f"{pot.stem}.po", language)
    problems = []
    for message in template:
        if not message.id:
            continue
        found = catalog.get(message.id)
        if found is None:
            problems.append(f"missing: {message.id!r}")
            continue
        strings = found.string if isinstance(found.string, tuple) else (found.string,)
        if found.fuzzy or not all(strings):
            problems.append(f"untranslated or fuzzy: {message.id!r}")
            continue
        sources = message.id if isinstance(message.id, tuple) else (message.id,)
        wanted = set(PLACEHOLDER.findall(" ".join(sources)))
        for string in strings:
            if set(PLACEHOLDER.findall(string)) != wanted:
                problems.append(f"placeholders differ: {message.id!r} -> {string!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.nodb
def test_template_is_up_to_date_with_the_sources(tmp_path):
    """Every string marked in app/ and templates/ is in messages.pot (see README, Translations)."""
    out = tmp_path / "fresh.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "-q",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "N_",
            "-k",
            "_gettext",
            "-k",
            "_ngettext:1,2",
            "-k",
            "CredentialField:2",
            "--no-location",
            "-o",
            str(out),
            ".",
        ],
        cwd=ROOT,
        check=True,
    )
    known = set().union(*(_ids(_catalog(pot)) for pot in TEMPLATES))
    missing = _ids(_catalog(out)) - known
    assert not missing, f"run the extraction and translate: {sorted(map(str, missing))}"


@pytest.mark.nodb
def test_language_choice_order():
    assert choose_language("pt_BR", "fr", "en") == "pt_BR"
    assert choose_language("", "fr", "pt-BR") == "fr"
    assert choose_language("", "", "de-DE, pt;q=0.8, fr;q=0.9") == "fr"
    assert choose_language("", "", "de") == "en"
    assert from_accept_language("pt-PT") == "pt_BR"
    assert from_accept_language("fr;q=abc, pt;q=0.1") == "pt_BR"
    assert from_accept_language("x" * 5000) is None


@pytest.mark.nodb
def test_dates_and_numbers_follow_the_language():
    moment = datetime(2026, 3, 5, 14, 7, tzinfo=UTC)
    token = current_language.set("fr")
    try:
        assert format_number(1234.5) == "1\u202f234,5"
        assert "mars" in format_datetime(moment, "long")
        assert format_date(moment) == "5 mars 2026"
    finally:
        current_language.reset(token)
    token = current_language.set("pt_BR")
    try:
        assert format_number(1234.5) == "1.234,5"
        assert "março" in format_datetime(moment, "long")
    finally:
        current_language.reset(token)


async def test_login_page_follows_accept_language(client):
    page = await client.get("/login", headers={"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"})
    assert "Se connecter" in page.text and "Mot de passe" in page.text
    assert '<html lang="fr">' in page.text
    page = await client.get("/login", headers={"Accept-Language": "pt-BR"})
    assert "Entrar" in page.text and "Senha" in page.text
    page = await client.get("/login")
    assert "Log in" in page.text


async def test_wrong_password_message_is_translated(client):
    await client.get("/login")
    response = await post_form(
        client, "/login", {"email": "nobody@example.test", "password": "x"}, headers={"Accept-Language": "fr"}
    )
    assert "E-mail ou mot de passe incorrect." in response.text


async def test_french_user_sees_french_main_screens(client):
    company = await make_company()
    admin = await make_user(company, "admin", name="Amélie")
    await sql.execute("UPDATE app_user SET language = 'fr' WHERE id = $1", admin.id)
    await login(client, admin.email)
    home = await client.get("/")
    assert "Bonjour, Amélie" in home.text and "Présence de l’équipe" in home.text
    assert "Commandes" in home.text and "Déconnexion" in home.text
    users = await client.get("/admin/users")
    assert "Rechercher des utilisateurs" in users.text and "Nouvel utilisateur" in users.text
    assert "administrateur" in users.text
    bad = await post_form(client, "/admin/users", {"name": "", "email": "nope", "role": "agent"})
    assert bad.status_code == 400
    assert "Ce champ est obligatoire." in bad.text and "Saisissez une adresse e-mail valide." in bad.text
    created = await post_form(client, "/admin/departments", {"name": "Ventes", "code": "SALES", "colour": "#112233"})
    assert created.status_code in (302, 303)
    listing = await client.get("/admin/departments")
    assert "Service Ventes créé." in listing.text


async def test_company_language_is_the_default_and_the_user_overrides_it(client):
    company = await make_company()
    await sql.execute("UPDATE company SET language = 'pt_BR' WHERE id = $1", company.id)
    admin = await make_user(company, "admin")
    await login(client, admin.email)
    assert "Equipe" in (await client.get("/")).text
    await sql.execute("UPDATE app_user SET language = 'en' WHERE id = $1", admin.id)
    assert "Team presence" in (await client.get("/")).text


async def test_live_fragments_are_cached_per_language():
    from app.i18n import gettext
    from app.web.live import FragmentCache

    cache = FragmentCache()

    async def make() -> str:
        return gettext("Team")

    token = current_language.set("fr")
    try:
        french = await cache.get(("event", "variant"), make)
    finally:
        current_language.reset(token)
    assert french == "Équipe"
    assert await cache.get(("event", "variant"), make) == "Team"


async def test_htmx_validation_toast_is_translated(client):
    company = await make_company()
    agent = await make_user(company, "agent")
    await sql.execute("UPDATE app_user SET language = 'pt_BR' WHERE id = $1", agent.id)
    await login(client, agent.email)
    response = await post_form(client, "/presence", {"presence": "asleep"}, headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert "Escolha online, ocupado ou offline." in response.text
