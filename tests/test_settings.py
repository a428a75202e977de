"""Every setting is an environment variable, and every one is documented in README.md."""

import re

import pytest

from app.settings import ENV_NAMES, ROOT, Settings

pytestmark = pytest.mark.nodb


def test_every_setting_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    table_rows = set(re.findall(r"^\| `([A-Z0-9_]+)` \|", readme, flags=re.M))
    missing = [name for name in ENV_NAMES if name not in table_rows]
    assert not missing, f"document these in README.md's configuration table: {missing}"


def test_settings_read_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgresql://x@/y")
    monkeypatch.setenv("PORT", "9001")
    monkeypatch.setenv("BASE_URL", "https://sb.example/")
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    settings = Settings.from_env()
    assert settings.database_url == "postgresql://x@/y"
    assert settings.port == 9001
    assert settings.public_url == "https://sb.example"
    assert settings.secure_cookies


def test_bad_number_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("PORT", "eighty")
    with pytest.raises(SystemExit, match="PORT must be a whole number"):
        Settings.from_env()


def test_secret_is_generated_once_and_kept(tmp_path):
    first = Settings(data_dir=tmp_path).with_secret()
    second = Settings(data_dir=tmp_path).with_secret()
    assert first.secret_key == second.secret_key and len(first.secret_key) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
