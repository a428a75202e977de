"""``switchboard backup`` / ``switchboard restore`` (issue 21, seed 003): the database (pg_dump
custom format) and the media files, restored into a fresh database and data folder."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import asyncpg
import pytest

from app import cli
from app.backup import list_backups
from app.domain import sql
from app.domain.channels import create_channel
from tests.conftest import _with_database
from tests.factories import make_company

CONTENTS = """SELECT c.id AS conversation, ct.phone, m.id AS message, m.text, m.data->'media'->>'path' AS path
              FROM message m JOIN conversation c ON c.id = m.conversation_id JOIN contact ct ON ct.id = c.contact_id
              ORDER BY m.id"""


async def _seed(data_dir: Path) -> None:
    company = await make_company("Backed Up Co")
    channel = await create_channel(
        company.id,
        {
            "name": "Meta",
            "provider": "meta",
            "cred_phone_number_id": "1",
            "cred_access_token": "t",
            "cred_app_secret": "s",
        },
    )
    for n in range(3):
        contact = await sql.fetchval(
            "INSERT INTO contact (company_id, phone) VALUES ($1, $2) RETURNING id", company.id, f"+3361234567{n}"
        )
        conversation = await sql.fetchval(
            "INSERT INTO conversation (company_id, channel_id, contact_id) VALUES ($1, $2, $3) RETURNING id",
            company.id,
            channel.id,
            contact,
        )
        for k in range(2):
            media = {"path": f"media/{company.id}/photo-{n}-{k}.jpg", "mime_type": "image/jpeg"} if k else None
            await sql.execute(
                """INSERT INTO message (company_id, channel_id, conversation_id, direction, author, type, text,
                                        provider_message_id, status, data)
                   VALUES ($1, $2, $3, 'in', 'customer', $4, $5, $6, 'received', $7::jsonb)""",
                company.id,
                channel.id,
                conversation,
                "image" if media else "text",
                f"hello {n}.{k}",
                f"wamid.backup{n}{k}",
                json.dumps({"media": media} if media else {}),
            )
            if media:
                file = data_dir / media["path"]
                file.parent.mkdir(parents=True, exist_ok=True)
                file.write_bytes(b"\xff\xd8 photo %d %d" % (n, k))


@pytest.fixture
def env(database_url, monkeypatch, tmp_path):
    monkeypatch.setattr(cli, "setup_logging", lambda *a, **k: None)

    def use(url: str, data_dir: Path) -> None:
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.setenv("DATA_DIR", str(data_dir))

    return use


def test_a_backup_restores_into_a_fresh_database_with_the_same_conversations_messages_and_files(
    env, database_url, tmp_path, capsys
):
    source, target = tmp_path / "source", tmp_path / "target"
    asyncio.run(_seed(source))
    before = [dict(r) for r in asyncio.run(sql.fetch(CONTENTS))]
    assert len(before) == 6 and sum(1 for r in before if r["path"]) == 3

    env(database_url, source)
    cli.main(["backup", "--dir", str(tmp_path / "backups"), "--keep", "2"])
    (folder,) = list_backups(tmp_path / "backups")
    assert f"Backup written to {folder}" in capsys.readouterr().out

    fresh = _with_database(database_url, "restored_backup")

    async def create() -> None:
        conn = await asyncpg.connect(database_url)
        await conn.execute("DROP DATABASE IF EXISTS restored_backup")
        await conn.execute("CREATE DATABASE restored_backup")
        await conn.close()

    asyncio.run(create())
    env(fresh, target)
    cli.main(["restore", str(folder), "--yes"])

    async def read() -> list[dict]:
        conn = await asyncpg.connect(fresh)
        try:
            return [dict(r) for r in await conn.fetch(CONTENTS)]
        finally:
            await conn.close()

    assert asyncio.run(read()) == before
    for row in before:
        if row["path"]:
            assert (target / row["path"]).read_bytes() == (source / row["path"]).read_bytes()


def test_only_the_newest_backups_are_kept(env, database_url, tmp_path, capsys):
    env(database_url, tmp_path)
    for _ in range(3):
        cli.main(["backup", "--dir", str(tmp_path / "backups"), "--keep", "2"])
    out = capsys.readouterr().out
    kept = list_backups(tmp_path / "backups")
    assert len(kept) == 2 and "Removed the older backup" in out
    assert all((k / "database.dump").stat().st_size > 0 for k in kept)


def test_restore_refuses_a_folder_that_is_not_a_backup(env, database_url, tmp_path):
    env(database_url, tmp_path)
    with pytest.raises(SystemExit, match="not a Switchboard backup"):
        cli.main(["restore", str(tmp_path), "--yes"])
