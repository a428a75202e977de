"""The platform-level command: ``switchboard create-company NAME --admin-email ...``."""

import asyncio
import re

import pytest

from app import cli
from app.domain import sql
from app.domain.passwords import verify_password


@pytest.fixture
def run(database_url, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    monkeypatch.setattr(cli, "setup_logging", lambda *a, **k: None)

    def run(*argv):
        cli.main(["create-company", *argv])
        return capsys.readouterr().out

    return run


def query(statement, *args):
    return asyncio.run(sql.fetchrow(statement, *args))


def test_creates_the_company_and_its_admin_with_a_one_time_password(run):
    out = run(
        "Boulangerie Dupont",
        "--admin-email",
        "Chef@Dupont.test",
        "--admin-name",
        "Chef",
        "--timezone",
        "Europe/Paris",
        "--language",
        "fr",
    )
    company = query("SELECT id, name, timezone, language FROM company WHERE name = 'Boulangerie Dupont'")
    assert (company["timezone"], company["language"]) == ("Europe/Paris", "fr")
    admin = query("SELECT role, name, company_id, password_hash FROM app_user WHERE email = 'chef@dupont.test'")
    assert (admin["role"], admin["name"], admin["company_id"]) == ("admin", "Chef", company["id"])
    password = re.search(r"One-time password \(shown once; change it under Users\): (\S+)", out).group(1)
    assert asyncio.run(verify_password(admin["password_hash"], password))


def test_given_password_is_set_and_not_printed(run):
    out = run("Acme", "--admin-email", "boss@acme.test", "--password", "a-long-enough-password")
    admin = query("SELECT password_hash FROM app_user WHERE email = 'boss@acme.test'")
    assert asyncio.run(verify_password(admin["password_hash"], "a-long-enough-password"))
    assert "a-long-enough-password" not in out and "One-time password" not in out


@pytest.mark.parametrize(
    "argv,message",
    [
        (["Acme", "--admin-email", "not-an-email"], "email"),
        (["Acme", "--admin-email", "a@b.test", "--password", "short"], "password"),
        (["Acme", "--admin-email", "a@b.test", "--timezone", "Mars/Base"], "timezone"),
        (["", "--admin-email", "a@b.test"], "name"),
    ],
)
def test_bad_input_creates_nothing(run, argv, message):
    with pytest.raises(SystemExit) as exc:
        run(*argv)
    assert message in str(exc.value)
    assert query("SELECT count(*) AS n FROM company")["n"] == 0  # the company is not left without its admin


def test_an_existing_company_name_is_refused(run):
    run("Acme", "--admin-email", "one@acme.test")
    with pytest.raises(SystemExit) as exc:
        run("Acme", "--admin-email", "two@acme.test")
    assert "exists already" in str(exc.value)
    assert query("SELECT count(*) AS n FROM app_user WHERE email = 'two@acme.test'")["n"] == 0
