"""RSS and Atom feeds (`.rss`, `.atom`, `.xml`) into articles: one a feed item.

`feedparser` reads RSS 0.9x, 1.0 (RDF) and 2.0 and Atom 0.3 and 1.0, sanitising the HTML of
descriptions and contents. Each item becomes an article: its title, the text of its fullest
HTML content (`content:encoded` / Atom `content`, else the description/summary), its link as
`url`, its `pubDate`/`published` (else `updated`) as the date, and an id from its guid (else its
link), so the same item in the next export replaces this one (`index.document.item_id`).

An item marked draft (Atom Publishing Protocol `<app:draft>yes</app:draft>`, or a `status` or
`draft` element saying so) is never an article: it is listed as skipped (draft). A feed that
stops before its closing root tag is being written: it is left for the next pass, not read in
part.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import feedparser

from index.dates import article_date, instant
from index.document import Document, IncompleteFile, Skipped, item_id
from index.html_text import html_to_text
from index.text import detect_lang, nfc

SUFFIXES = (".rss", ".atom", ".xml")
_ROOT = re.compile(rb"<([A-Za-z_][\w:.-]*)")
_DRAFT_VALUES = {"yes", "true", "1", "draft"}


def read_feed(data: bytes, path: Path) -> tuple[list[Document], list[Skipped]]:
    """The articles of one feed file and the items left out, each with why."""
    _check_complete(data)
    parsed = feedparser.parse(data, sanitize_html=True, resolve_relative_uris=False)
    if not parsed.get("version") and not parsed.entries:
        why = f" ({parsed.bozo_exception})" if parsed.get("bozo") else ""
        raise ValueError(f"not an RSS or Atom feed{why}")
    if not parsed.entries:
        raise ValueError("the feed has no items")
    docs: list[Document] = []
    skipped: list[Skipped] = []
    for n, entry in enumerate(parsed.entries, start=1):
        where = f"{path}#{n}"
        marker = draft_marker(entry)
        if marker:
            skipped.append(Skipped(where, f"draft ({marker}): never indexed"))
            continue
        try:
            docs.append(item_document(entry, where))
        except ValueError as exc:
            skipped.append(Skipped(where, str(exc)))
    return docs, skipped


def _check_complete(data: bytes) -> None:
    head = data.lstrip()[:4096]
    body = re.sub(rb"<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>", b"", head, flags=re.S)
    root = _ROOT.search(body)
    if root is None:
        raise ValueError("not an RSS or Atom feed (no XML element)")
    closing = b"</" + root.group(1) + b">"
    if not data.rstrip().endswith(closing):
        raise IncompleteFile(f"incomplete feed: it does not end with {closing.decode()} (still being written? "
                             f"it is read again on the next pass)")


def draft_marker(entry) -> str | None:
    """How an item says it is a draft, or None for a published item."""
    for key in ("app_draft", "draft", "status", "app_status", "wp_status"):
        value = entry.get(key)
        if isinstance(value, str) and value.strip().lower() in _DRAFT_VALUES:
            return f"{key.replace('_', ':', 1) if key.startswith(('app_', 'wp_')) else key}: {value.strip()}"
    return None


def item_document(entry, where: str) -> Document:
    """One feed item as an article (ValueError, saying what is missing, if it cannot be one)."""
    title = nfc(html_to_text(entry.get("title") or "") if "<" in (entry.get("title") or "") else
                " ".join((entry.get("title") or "").split()))
    body = nfc(html_to_text(_fullest_html(entry)))
    if not body and not title:
        raise ValueError("item has neither a title nor any text")
    if not body:
        raise ValueError(f"item '{title[:60]}' has no text (no description or content)")
    if not title:
        title = body.split("\n", 1)[0][:160]
    link = (entry.get("link") or "").strip() or None
    key = (entry.get("id") or "").strip() or link or hashlib.sha256(title.encode()).hexdigest()
    dated = _raw(entry, "published") or _raw(entry, "updated") or _raw(entry, "created")
    text = title + "\n\n" + body
    return Document(doc_id=item_id(key), title=title, text=text, lang=detect_lang(text), date=article_date(dated),
                    url=link, source=where, revised=_revised(entry))


def _raw(entry, key: str):
    """A field as the feed wrote it (feedparser's own `get` maps a missing `updated` to `published`)."""
    return dict.get(entry, key)


def _fullest_html(entry) -> str:
    contents = [c.get("value") or "" for c in entry.get("content") or []]
    summary = entry.get("summary") or entry.get("description") or ""
    return max([*contents, summary], key=len)


def _revised(entry) -> str | None:
    for key in ("updated", "published"):
        value = _raw(entry, key)
        if value:
            try:
                return instant(value).isoformat()
            except ValueError:
                continue
    return None
