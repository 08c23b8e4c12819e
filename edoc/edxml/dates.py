"""Dates and timestamps as edXML writes them.

Written: ``yyyy/MM/dd`` and ``yyyy/MM/dd HH:mm:ss`` in Vietnam time. Read: also
``dd/MM/yyyy[ HH:mm:ss]`` (some systems) and ISO ``yyyy-MM-dd`` (reported as deviations by the
reader). Timestamps without an offset are Vietnam time."""

from __future__ import annotations

import datetime as dt
import re

from edoc.document import VIETNAM

_YMD = re.compile(r"^(\d{4})[/-](\d{1,2})[/-](\d{1,2})$")
_DMY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


def format_date(value: dt.date) -> str:
    return f"{value.year:04d}/{value.month:02d}/{value.day:02d}"


def format_timestamp(value: dt.datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    local = value.astimezone(VIETNAM)
    return f"{format_date(local.date())} {local:%H:%M:%S}"


def parse_date(text: str) -> tuple[dt.date, bool]:
    """The date and whether it was in the canonical ``yyyy/MM/dd`` form."""
    text = text.strip()
    m = _YMD.match(text)
    if m:
        year, month, day = (int(g) for g in m.groups())
        canonical = "-" not in text and len(text) == 10
    else:
        m = _DMY.match(text)
        if not m:
            raise ValueError(f"not a date: {text!r}")
        day, month, year = (int(g) for g in m.groups())
        canonical = False
    return dt.date(year, month, day), canonical


def parse_timestamp(text: str) -> tuple[dt.datetime, bool]:
    """The aware timestamp and whether it was in the canonical form."""
    text = text.strip()
    date_part, _, time_part = text.partition(" ")
    if not time_part and "T" in date_part:
        date_part, _, time_part = date_part.partition("T")
    day, canonical = parse_date(date_part)
    m = _TIME.match(time_part.strip()) if time_part else None
    if not m:
        raise ValueError(f"not a timestamp: {text!r}")
    hour, minute, second = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    stamp = dt.datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=VIETNAM)
    return stamp, canonical and m.group(3) is not None and len(time_part) == 8
