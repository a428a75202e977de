"""The timezones offered in forms: canonical zones grouped by region, common ones first.

``zoneinfo.available_timezones()`` gives about 600 names, aliases included (``US/Eastern``,
``Europe/Belfast``, ``Etc/GMT+3``). The tz database's own ``zone.tab`` lists one canonical zone
per inhabited region; we offer those, grouped by their first part (Africa, America, Asia, …),
after a short list of the zones most companies here use. Saved values are still checked
against every name (``app.domain.companies.timezones``), so a company set to an alias earlier
keeps it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from zoneinfo import available_timezones

from app.i18n import N_

ZONE_TAB = (
    Path("/usr/share/zoneinfo/zone.tab"),
    Path("/usr/share/zoneinfo/zone1970.tab"),
)

# Where this product's customers are (France, Portugal, Brazil, and their neighbours), then
# the world's busiest business zones.
COMMON = (
    "UTC",
    "Europe/Paris",
    "Europe/London",
    "Europe/Lisbon",
    "Europe/Brussels",
    "Europe/Madrid",
    "Europe/Berlin",
    "America/Sao_Paulo",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "America/Mexico_City",
    "Africa/Casablanca",
    "Africa/Lagos",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Sydney",
)
REGIONS = {
    "Africa": N_("Africa"),
    "America": N_("Americas"),
    "Antarctica": N_("Antarctica"),
    "Arctic": N_("Arctic"),
    "Asia": N_("Asia"),
    "Atlantic": N_("Atlantic"),
    "Australia": N_("Australia"),
    "Europe": N_("Europe"),
    "Indian": N_("Indian Ocean"),
    "Pacific": N_("Pacific"),
}


@lru_cache(maxsize=1)
def canonical_zones() -> tuple[str, ...]:
    """Canonical zone names known to this server (zone.tab), or every Region/City name when the
    table is missing (a minimal container)."""
    known = available_timezones()
    for tab in ZONE_TAB:
        if tab.exists():
            names = set()
            for line in tab.read_text(encoding="utf-8").splitlines():
                if line and not line.startswith("#"):
                    parts = line.split("\t")
                    if len(parts) >= 3 and parts[2] in known:
                        names.add(parts[2])
            if names:
                return tuple(sorted(names | {"UTC"}))
    return tuple(sorted(z for z in known if z.split("/")[0] in REGIONS) + ["UTC"])


@lru_cache(maxsize=1)
def timezone_groups() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(group label, zones) for a grouped select: the common zones, then one group per region.
    Labels are msgids: translate them when shown."""
    zones = canonical_zones()
    common = tuple(z for z in COMMON if z in zones)
    groups: dict[str, list[str]] = {}
    for zone in zones:
        region = zone.split("/")[0]
        if region in REGIONS:
            groups.setdefault(region, []).append(zone)
    return (
        (N_("Common"), common),
        *((REGIONS[r], tuple(groups[r])) for r in REGIONS if r in groups),
    )


def zone_label(zone: str) -> str:
    """``America/Argentina/Buenos_Aires`` -> ``Argentina / Buenos Aires`` (the region is the group)."""
    parts = zone.split("/")
    shown = parts[1:] if len(parts) > 1 else parts
    return " / ".join(p.replace("_", " ") for p in shown)
