"""Dates as exports write them, read into an article's date and an embargo's instant.

A CMS writes dates in RFC 2822 (RSS `pubDate`: `Wed, 10 Feb 2021 04:35:00 +0530`), ISO 8601
(Atom, JSON: `2021-02-10T04:35:00+05:30`, `...Z`), or the forms the seeds print (`Feb 10, 2021`,
`2021-02-09`). Two readings, for two jobs:

* `article_date` gives the calendar date the newsroom printed (`YYYY-MM-DD`), in the zone the
  date was written in: `2021-02-10T01:00+05:30` is the 10th, as the Hindi desk dated it, not the
  9th it was in UTC.
* `instant` gives an exact, zone-aware moment (an embargo lifts at one), and refuses anything
  without a zone: guessing the zone of an embargo could quote a story hours early.
"""
from __future__ import annotations

import email.utils
import re
from datetime import date, datetime, timezone

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: ISO 8601 with a time; Python 3.11 reads `Z`, offsets, fractions and the basic format itself.
_ISO_TIME = re.compile(r"^\d{4}-?\d{2}-?\d{2}[T ]\d{2}")
#: The seeds' and our CMS's printed forms: `Feb 10, 2021`, `February 10, 2021`, `Feb. 10, 2021`,
#: and the same with a time after it (`Feb 10, 2021, 04:35 AM IST`), whose date is the printed one.
#: Also with the weekday in front (`Wednesday, February 10, 2021`) and day first (`10 February 2021`,
#: `10 Feb, 2021`), as Indian sites print them.
_PRINTED = re.compile(r"^(?:[A-Z][a-z]{2,8}day,?\s+)?([A-Z][a-z]{2,8}\.? \d{1,2}, \d{4}|\d{1,2} [A-Z][a-z]{2,8}\.?,? \d{4})"
                      r"(?:,?\s+\d{1,2}:\d{2}.*)?$", re.IGNORECASE)
_PRINTED_FORMATS = ("%b %d, %Y", "%B %d, %Y", "%b. %d, %Y", "%d %b %Y", "%d %B %Y", "%d %b. %Y", "%d %b, %Y",
                    "%d %B, %Y")


def article_date(text: str | None) -> str | None:
    """`YYYY-MM-DD` for a date in any form above (the date as written, in its own zone), or None."""
    if text is None:
        return None
    text = " ".join(str(text).split())
    if not text:
        return None
    if _ISO_DATE.match(text):
        return _checked(text)
    if _ISO_TIME.match(text):
        moment = _iso(text)
        return moment.date().isoformat() if moment else None
    m = _PRINTED.match(text)
    if m:
        for fmt in _PRINTED_FORMATS:
            try:
                return datetime.strptime(m.group(1), fmt).date().isoformat()
            except ValueError:
                continue
        return None
    moment = _rfc2822(text)
    return moment.date().isoformat() if moment else None


def instant(text: str) -> datetime:
    """The zone-aware moment `text` names (ISO 8601 or RFC 2822 with an offset or `Z`), in UTC.

    Raises ValueError saying what is wrong: unreadable, or no zone (an embargo without one is
    ambiguous by hours, so it is refused rather than guessed)."""
    raw = " ".join(str(text).split())
    moment = _iso(raw) if _ISO_TIME.match(raw) or _ISO_DATE.match(raw) else _rfc2822(raw)
    if moment is None:
        raise ValueError(f"'{text}' is not a date and time (write ISO 8601 with a zone, e.g. "
                         f"2099-01-01T11:00:00+05:30)")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"'{text}' has no time zone, so the moment it names is unknown (write it with "
                         f"one, e.g. {moment.strftime('%Y-%m-%dT%H:%M:%S')}+05:30)")
    return moment.astimezone(timezone.utc)


def as_written(text: str) -> datetime:
    """The moment `text` names, as `instant` reads and checks it, but in the zone it was written
    in: `2024-03-10T01:00+05:30` stays the 10th (in UTC it is the 9th), so "yesterday" asked as at
    that moment is the 9th, as the desk means it. Raises ValueError as `instant` does."""
    moment = instant(text)
    raw = " ".join(str(text).split())
    written = _iso(raw) if _ISO_TIME.match(raw) or _ISO_DATE.match(raw) else _rfc2822(raw)
    return moment.astimezone(written.tzinfo)


def _checked(iso_date: str) -> str | None:
    try:
        return date.fromisoformat(iso_date).isoformat()
    except ValueError:
        return None


def _iso(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _rfc2822(text: str) -> datetime | None:
    """RFC 2822 (`Wed, 10 Feb 2021 04:35:00 +0530`; `GMT`/`UT`/`EST`… zones too); None if not.
    A date written with `-0000` ("zone unknown" in RFC 2822) comes back naive."""
    if not re.search(r"\d{1,2}:\d{2}", text) or not re.search(r"[A-Za-z]{3}", text):
        return None
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return moment


_DATE_LABEL = re.compile(r"^\s*(?:updated|published|posted|date|dated|अपडेटेड|प्रकाशित)?\s*:?\s*(.+?)\s*$", re.IGNORECASE)


def line_date(line: str) -> str | None:
    """The date of a line that is only a date (`2023-03-26`, `Updated: Feb 10, 2021, 04:35 AM IST`,
    an RFC 2822 or ISO 8601 stamp), or None for any other line. Such a line is metadata a page,
    feed or article printed, never a sentence to quote."""
    m = _DATE_LABEL.match(line)
    return article_date(m.group(1)) if m and len(line) <= 64 else None


def is_date_line(line: str) -> bool:
    return line_date(line) is not None
