"""The ``switchboard`` command: serve, migrate, create-company, create-admin, demo, backup, restore.

With no ``DATABASE_URL``, each command starts the embedded PostgreSQL in ``DATA_DIR`` and
stops it when done; ``serve`` passes its address to the server processes it starts.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import getpass
import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app import db
from app.logs import setup_logging
from app.settings import Settings


@contextmanager
def database(settings: Settings) -> Iterator[Settings]:
    """Settings with a database URL: the configured one, or an embedded server's."""
    if settings.database_url:
        yield settings
        return
    embedded = db.EmbeddedPostgres(settings.data_dir)
    print(f"Starting the embedded PostgreSQL in {embedded.pgdata} ...", flush=True)
    uri = embedded.start()
    try:
        yield dataclasses.replace(settings, database_url=uri)
    finally:
        embedded.stop()


def _migrate(settings: Settings) -> None:
    asyncio.run(db.migrate(settings.direct_url))


def cmd_migrate(settings: Settings, _args: argparse.Namespace) -> None:
    with database(settings) as s:
        _migrate(s)
        print("Database is up to date.")


def cmd_create_admin(settings: Settings, args: argparse.Namespace) -> None:
    from app.domain.companies import create_company_with_admin, find_company
    from app.domain.errors import ValidationError
    from app.domain.users import create_user

    password = args.password or os.environ.get("ADMIN_PASSWORD") or ""
    generated = False
    if not password:
        if sys.stdin.isatty():
            password = getpass.getpass("Password for the new admin (12+ characters, hard to guess): ")
        else:
            password, generated = secrets.token_urlsafe(12), True

    async def run() -> None:
        admin = {"name": args.name, "email": args.email, "password": password}
        company = await find_company(args.company)
        if company is None:
            company, _ = await create_company_with_admin(args.company, admin)
        else:
            await create_user(company.id, {**admin, "role": "admin"})
        print(f"Admin {args.email} created in company {company.name!r} (id {company.id}).")
        if generated:
            print(f"Generated password: {password}")

    with database(settings) as s:
        _migrate(s)
        try:
            asyncio.run(run())
        except ValidationError as exc:
            raise SystemExit(f"Not created: {exc}") from exc


def _password(args: argparse.Namespace) -> tuple[str, bool]:
    """The admin's password: --password, $ADMIN_PASSWORD, a prompt on a terminal, else generated."""
    password = args.password or os.environ.get("ADMIN_PASSWORD") or ""
    if password:
        return password, False
    if sys.stdin.isatty() and not getattr(args, "generate_password", False):
        return getpass.getpass("Password for the new admin (12+ characters, hard to guess): "), False
    return secrets.token_urlsafe(12), True


def cmd_create_company(settings: Settings, args: argparse.Namespace) -> None:
    """Platform level: a new company (tenant) and its first admin. Refuses an existing name."""
    from app.domain.companies import create_company_with_admin, find_company
    from app.domain.errors import ValidationError

    password, generated = _password(args)

    async def run() -> None:
        if await find_company(args.name.strip()) is not None:
            raise ValidationError({"name": f"A company named {args.name.strip()!r} exists already."})
        admin = {"name": args.admin_name, "email": args.admin_email, "password": password}
        company, user = await create_company_with_admin(
            args.name, admin, timezone=args.timezone, language=args.language
        )
        print(
            f"Company {company.name!r} created (id {company.id}), timezone {company.timezone}, language {company.language}."
        )
        print(f"Admin {user.email} can log in at {settings.public_url}/login")
        if generated:
            print(f"One-time password (shown once; change it under Users): {password}")

    with database(settings) as s:
        _migrate(s)
        try:
            asyncio.run(run())
        except ValidationError as exc:
            raise SystemExit("Not created: " + "; ".join(f"{k}: {v}" for k, v in exc.errors.items())) from exc


def _serve(settings: Settings) -> None:
    import uvicorn

    # Server processes read their settings from the environment: hand them what we resolved.
    os.environ["DATABASE_URL"] = settings.database_url
    os.environ["SECRET_KEY"] = settings.with_secret().secret_key
    print(f"Switchboard is running at {settings.public_url}  (Ctrl+C stops it)", flush=True)
    uvicorn.run(
        "app.main:app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level.lower(),
        access_log=False,
        proxy_headers=True,
        timeout_graceful_shutdown=3,
    )


def cmd_serve(settings: Settings, args: argparse.Namespace) -> None:
    settings = _apply_overrides(settings, args)
    with database(settings) as s:
        _migrate(s)
        _serve(s)


def cmd_demo(settings: Settings, args: argparse.Namespace) -> None:
    from app.demo import DEMO_PASSWORD, seed_demo

    settings = _apply_overrides(settings, args)
    with database(settings) as s:
        _migrate(s)
        logins = asyncio.run(seed_demo())
        print("\nDemo company ready. Log in with any of these (password: %s):" % DEMO_PASSWORD)
        for role, email in logins:
            print(f"  {role:<10} {email}")
        print(f"\nOpen {s.public_url}/login\n", flush=True)
        _serve(s)


def cmd_backup(settings: Settings, args: argparse.Namespace) -> None:
    from app.backup import BackupError, backup

    directory = Path(args.dir) if args.dir else settings.data_dir / "backups"
    with database(settings) as s:
        try:
            path, removed = backup(s.direct_url, s.data_dir, directory, args.keep, s.pg_bin_dir)
        except BackupError as exc:
            raise SystemExit(f"Backup failed: {exc}") from exc
    print(f"Backup written to {path}")
    for old in removed:
        print(f"Removed the older backup {old} (keeping {args.keep})")


def cmd_restore(settings: Settings, args: argparse.Namespace) -> None:
    from app.backup import BackupError, list_backups, restore

    path = Path(args.path) if args.path else None
    if path is None:
        found = list_backups(settings.data_dir / "backups")
        if not found:
            raise SystemExit(f"No backup in {settings.data_dir / 'backups'}: name one")
        path = found[-1]
    if not args.yes and sys.stdin.isatty():
        if input(f"Replace the database's contents with {path}? [y/N] ").strip().lower() != "y":
            raise SystemExit("Nothing restored.")
    with database(settings) as s:
        try:
            restore(path, s.direct_url, s.data_dir, s.pg_bin_dir)
        except BackupError as exc:
            raise SystemExit(f"Restore failed: {exc}") from exc
        _migrate(s)  # a backup from an older version gets this version's migrations
    print(f"Restored {path}")


def _apply_overrides(settings: Settings, args: argparse.Namespace) -> Settings:
    changes = {k: getattr(args, k) for k in ("host", "port", "workers") if getattr(args, k, None) is not None}
    return dataclasses.replace(settings, **changes) if changes else settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="switchboard", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, helptext in (("serve", "run the web server"), ("demo", "create the demo company, then serve")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--host")
        p.add_argument("--port", type=int)
        p.add_argument("--workers", type=int)
    sub.add_parser("migrate", help="apply database migrations")
    p = sub.add_parser("create-company", help="create a company and its first admin (platform level)")
    p.add_argument("name", help="the company's name")
    p.add_argument("--admin-email", required=True)
    p.add_argument("--admin-name", default="Administrator")
    p.add_argument("--password", help="default: $ADMIN_PASSWORD, a prompt, or a generated one-time password")
    p.add_argument("--generate-password", action="store_true", help="generate and print a password even on a terminal")
    p.add_argument("--timezone", default="UTC", help="IANA name, e.g. Europe/Paris (default UTC)")
    p.add_argument("--language", default="en", choices=["en", "fr", "pt_BR"])
    p = sub.add_parser("create-admin", help="create a company (if new) and an admin in it")
    p.add_argument("--company", required=True)
    p.add_argument("--email", required=True)
    p.add_argument("--name", default="Administrator")
    p.add_argument("--password", help="default: $ADMIN_PASSWORD, a prompt, or a generated one")
    p = sub.add_parser("backup", help="back up the database (pg_dump) and the media files")
    p.add_argument("--dir", help="where backups go (default DATA_DIR/backups)")
    p.add_argument("--keep", type=int, default=7, help="how many backups to keep, newest first (default 7)")
    p = sub.add_parser("restore", help="replace the database and media files with a backup's")
    p.add_argument("path", nargs="?", help="a backup folder (default: the newest in DATA_DIR/backups)")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    setup_logging(settings.log_level, settings.log_json)
    commands = {
        "serve": cmd_serve,
        "demo": cmd_demo,
        "migrate": cmd_migrate,
        "create-admin": cmd_create_admin,
        "create-company": cmd_create_company,
        "backup": cmd_backup,
        "restore": cmd_restore,
    }
    commands[args.command](settings, args)
