"""Refresh the translation catalogues (see README, "Translations").

    .venv/bin/python scripts/i18n.py            # every string into messages.pot / messages.po
    .venv/bin/python scripts/i18n.py AREA       # new strings into AREA.pot / AREA.po

With no AREA, it extracts the marked strings that no area catalogue holds into
``app/locale/messages.pot`` and updates ``messages.po`` of each language (new entries empty,
translations kept).

With AREA (a short name such as ``inbox``), strings already in another catalogue stay where they
are; only strings no other ``.pot`` holds go into ``app/locale/AREA.pot`` and the matching
``AREA.po`` files. Areas let several people add strings at once without rewriting the same file.
The app chains ``messages.po`` and every ``AREA.po`` of a language.

Then translate the empty ``msgstr`` entries in ``app/locale/{fr,pt_BR}/LC_MESSAGES/*.po``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "app" / "locale"
LANGUAGES = ("fr", "pt_BR")
KEYWORDS = ["-k", "N_", "-k", "_gettext", "-k", "_ngettext:1,2", "-k", "CredentialField:2"]


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as fh:
        return read_po(fh, locale=locale)


def _write(path: Path, catalog: Catalog) -> None:
    with path.open("wb") as fh:
        write_po(fh, catalog, omit_header=False, sort_output=True, no_location=True, ignore_obsolete=True, width=100)


def extract() -> Catalog:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "all.pot"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "babel.messages.frontend",
                "-q",
                "extract",
                "-F",
                "babel.cfg",
                *KEYWORDS,
                "--no-location",
                "--sort-output",
                "--project=Switchboard",
                "-o",
                str(out),
                ".",
            ],
            cwd=ROOT,
            check=True,
        )
        return _read(out)


def main(argv: list[str]) -> int:
    area = argv[0] if argv else "messages"
    if not area.isidentifier():
        print(f"area must be a plain name, not {area!r}", file=sys.stderr)
        return 2
    fresh = extract()
    # Strings another catalogue already holds stay there (messages.pot too keeps only its own
    # and the new ones, so the areas' strings are never translated twice).
    elsewhere: set = set()
    for pot in LOCALE.glob("*.pot"):
        if pot.stem != area:
            elsewhere |= {m.id for m in _read(pot) if m.id}
    template = Catalog(project="Switchboard", fuzzy=False)
    for message in fresh:
        if message.id and message.id not in elsewhere:
            template.add(message.id, context=message.context, flags=message.flags)
    _write(LOCALE / f"{area}.pot", template)
    for language in LANGUAGES:
        po = LOCALE / language / "LC_MESSAGES" / f"{area}.po"
        catalog = _read(po, language) if po.exists() else Catalog(locale=language, project="Switchboard", fuzzy=False)
        catalog.update(template, no_fuzzy_matching=True)
        _write(po, catalog)
        empty = [m.id for m in catalog if m.id and not (all(m.string) if isinstance(m.string, tuple) else m.string)]
        print(f"{po.relative_to(ROOT)}: {len(empty)} to translate")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
