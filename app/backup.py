"""``switchboard backup`` and ``switchboard restore``: the database and the media files together.

A backup is one folder ``<dir>/switchboard-<UTC time>/`` holding ``database.dump`` (``pg_dump``
custom format: compressed, restorable table by table) and ``media.tar`` (``DATA_DIR/media``,
the files customers and agents sent). It is written under a ``.partial`` name and renamed when
complete, so an interrupted backup is never taken for one; then only the ``keep`` newest
backups are kept. ``restore`` loads the dump into the configured database in one transaction
(``--clean``: what the backup holds replaces what is there) and puts the media files back.

``pg_dump`` / ``pg_restore`` are those bundled with the embedded PostgreSQL (pgserver's wheel,
version 16) unless ``PG_BIN_DIR`` names others: a server newer than the tools refuses them.
Nothing here runs in the web processes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

PREFIX = "switchboard-"
DUMP = "database.dump"
MEDIA = "media.tar"


class BackupError(Exception):
    """A backup or restore could not be made; the message says why."""


def pg_tool(name: str, bin_dir: str = "") -> str:
    """The path of ``pg_dump`` or ``pg_restore``: in ``bin_dir``, else pgserver's, else $PATH's."""
    if bin_dir:
        candidate = Path(bin_dir) / name
        if not candidate.is_file():
            raise BackupError(f"{candidate} does not exist (PG_BIN_DIR)")
        return str(candidate)
    try:
        import pgserver

        candidate = Path(pgserver.__file__).parent / "pginstall" / "bin" / name
        if candidate.is_file():
            return str(candidate)
    except ImportError:  # pragma: no cover - pgserver is a dependency
        pass
    found = shutil.which(name)
    if not found:
        raise BackupError(f"{name} not found: set PG_BIN_DIR")
    return found


def _run(args: list[str]) -> None:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed: {done.stderr.strip()[-2000:]}")


def list_backups(directory: Path) -> list[Path]:
    """Complete backups in ``directory``, oldest first (their names sort by time)."""
    if not directory.is_dir():
        return []
    return sorted(
        p for p in directory.iterdir() if p.is_dir() and p.name.startswith(PREFIX) and not p.name.endswith(".partial")
    )


def backup(database_url: str, data_dir: Path, directory: Path, keep: int, bin_dir: str = "") -> tuple[Path, list[Path]]:
    """Write a backup; returns its folder and the older backups removed beyond ``keep``."""
    if keep < 1:
        raise BackupError("keep must be at least 1")
    directory.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    final = directory / f"{PREFIX}{stamp}"
    n = 1
    while final.exists():  # two backups in one second
        n += 1
        final = directory / f"{PREFIX}{stamp}-{n}"
    partial = final.with_name(final.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    try:
        _run(
            [
                pg_tool("pg_dump", bin_dir),
                "--format=custom",
                "--no-owner",
                f"--file={partial / DUMP}",
                f"--dbname={database_url}",
            ]
        )
        media = data_dir / "media"
        with tarfile.open(partial / MEDIA, "w") as tar:
            if media.is_dir():
                tar.add(media, arcname="media")
        partial.rename(final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    removed = list_backups(directory)[:-keep]
    for old in removed:
        shutil.rmtree(old)
    return final, removed


def restore(path: Path, database_url: str, data_dir: Path, bin_dir: str = "") -> None:
    """Load the backup at ``path`` (a backup folder) into ``database_url`` and ``data_dir``."""
    dump, media = path / DUMP, path / MEDIA
    if not dump.is_file() or not media.is_file():
        raise BackupError(f"{path} is not a Switchboard backup (needs {DUMP} and {MEDIA})")
    _run(
        [
            pg_tool("pg_restore", bin_dir),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={database_url}",
            str(dump),
        ]
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(media) as tar:
        # "data" filter: no absolute paths, no links or files outside data_dir, no devices.
        tar.extractall(data_dir, filter="data")
    os.sync()
