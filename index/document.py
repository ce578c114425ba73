"""What the corpus reader hands on: an article, and a file (or part of one) passed over with why.

Kept apart from `index.corpus` so each format's reader (`index.feeds`, `index.pages`) can make
articles without importing the folder walker that calls it.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass


@dataclass
class Document:
    doc_id: str
    title: str
    text: str
    lang: str
    date: str | None = None
    url: str | None = None
    source: str = ""
    #: The moment (ISO 8601, UTC) before which the article must never be quoted; None: published.
    embargo_until: str | None = None
    #: When the export last changed the item (ISO 8601), to tell two exports of one id apart;
    #: not stored.
    revised: str | None = None

    def to_json(self) -> dict:
        return asdict(self)


#: What a Skipped entry is: a file or article left out, a part of one cut out, or a file left for
#: the next pass because it looks half-written (a build skips it; `khabar watch` tries it again).
SKIPPED, CUT, PENDING = "skipped", "cut", "pending"


@dataclass
class Skipped:
    path: str
    reason: str
    kind: str = SKIPPED


class IncompleteFile(ValueError):
    """The file looks half-written; it is read again later (a watched folder's next pass)."""


def skipped_lines(skipped: list[Skipped]) -> list[str]:
    """The files a build or update passed over and the parts it cut, one line each with the
    reason, for its summary."""
    out: list[str] = []
    left = [s for s in skipped if s.kind != CUT]
    cut = [s for s in skipped if s.kind == CUT]
    if left:
        out += [f"  skipped files ({len(left)}):", *(f"    {s.path}: {s.reason}" for s in left)]
    if cut:
        out += [f"  cut from articles ({len(cut)}):", *(f"    {s.path}: {s.reason}" for s in cut)]
    return out


_PLAIN_ID = re.compile(r"[\w.\-]{1,64}")


def item_id(key: str) -> str:
    """A doc_id from a feed item's guid/id or a page's URL: the same key gives the same id in every
    export (so a re-export replaces the article), short and safe to show. A plain id stays as it
    is; a URL or tag URI becomes its last readable part plus a digest of the whole key."""
    key = key.strip()
    if _PLAIN_ID.fullmatch(key):
        return key
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]
    parts = [p for p in re.split(r"[/?#=&:,]+", key.rstrip("/")) if p]
    slug = re.sub(r"[^\w\-]+", "-", parts[-1] if parts else "").strip("-")[:40].strip("-")
    return f"{slug}_{digest}" if slug else f"item_{digest}"
