"""Reading folders (or files) of articles into documents, and saying plainly what could not be read.

A newsroom's archive comes as its CMS exports it: `.txt` articles, `.jsonl` exports, RSS and Atom
feeds (`index.feeds`), saved article pages (`index.pages`), and the odd attachment saved under
the wrong name. Each bad file, draft, or junk text is skipped with its name and reason so an
editor can fix it, and junk inside an article is cut with the reason (`index.prose`); only a
corpus with no usable document at all is an error.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from index import feeds, pages, prose
from index.config import IndexSettings
from index.dates import article_date, instant, line_date
from index.document import CUT, PENDING, Document, IncompleteFile, Skipped, skipped_lines
from index.html_text import html_to_text, looks_like_html
from index.text import detect_lang, nfc, split_sentences

__all__ = ["Corpus", "CorpusError", "Document", "SUPPORTED_SUFFIXES", "Skipped", "parse_txt", "read_corpus",
           "skipped_lines"]

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".jsonl", *feeds.SUFFIXES, *pages.SUFFIXES)
#: A file bigger than this is not an article; refusing it keeps a stray dump from eating memory.
MAX_FILE_BYTES = 64 * 1024 * 1024
#: A first line longer than this is a lede, not a headline: its first sentence becomes the title.
MAX_TITLE_CHARS = 160
#: How many leading lines of a .txt are searched for a date line.
DATE_SEARCH_LINES = 8
#: JSONL fields read, with the other names CMS exports give them (first one present wins).
JSONL_FIELDS = {"id": ("id", "guid", "url", "link"), "text": ("text", "body", "content"),
                "date": ("date", "published", "pubDate", "published_at", "updated")}
#: `status` values that mean the article is not published.
DRAFT_STATUSES = {"draft", "unpublished", "pending", "private"}

_LEADING_DATE = re.compile(r"^\s*date\s+(\d{4}-\d{2}-\d{2})\s*(.*)$", re.IGNORECASE)
_UPDATED = re.compile(
    r"^\s*(?:updated|published|posted)?\s*:?\s*"
    r"([A-Z][a-z]{2,8}\.? \d{1,2}, \d{4})(?:,\s*\d{1,2}:\d{2}\s*(?:AM|PM)?\s*(?:IST|UTC|GMT)?)?\s*$",
    re.IGNORECASE,
)
_ISO_LINE = re.compile(r"^\s*(?:updated|published|date)?\s*:?\s*(\d{4}-\d{2}-\d{2}(?:[T ][\d:.+\-Z]+)?)\s*$",
                       re.IGNORECASE)


class CorpusError(Exception):
    """The corpus as a whole cannot be used (no folder, no usable document)."""


@dataclass
class Corpus:
    documents: list[Document] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def pending(self) -> list[str]:
        """Files left for a later pass because they look half-written."""
        return [s.path for s in self.skipped if s.kind == PENDING]


def _parse_date(text: str) -> str | None:
    """ISO date from any date form the exports use (`index.dates.article_date`), or None."""
    return article_date(text)


def parse_txt(raw: str, doc_id: str, source: str = "") -> Document:
    """A .txt article: first non-empty line is the title; a date line is lifted out.

    The seeds show both conventions: an `Updated: Feb 10, 2021, 04:35 AM IST` line, and a
    leading ` date 2021-02-09 ` prefix glued to the title. The date line is removed from the
    body so it is never quoted as an answer.
    """
    lines = nfc(raw).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    date: str | None = None
    kept: list[str] = []
    seen_lines = 0
    for line in lines:
        if line.strip():
            seen_lines += 1
        if date is None and line.strip() and seen_lines <= DATE_SEARCH_LINES:
            m = _LEADING_DATE.match(line)
            if m:
                date = m.group(1)
                if m.group(2).strip():
                    kept.append(m.group(2).strip())
                continue
            m = _UPDATED.match(line) or _ISO_LINE.match(line)
            if (parsed := _parse_date(m.group(1)) if m else line_date(line)):
                date = parsed
                continue
        kept.append(line)
    non_empty = [k for k in kept if k.strip()]
    if not non_empty:
        raise ValueError("no text")
    first_line = non_empty[0].strip()
    first = next(i for i, k in enumerate(kept) if k.strip())
    if len(first_line) > MAX_TITLE_CHARS:
        # No headline: the article opens with its lede, which stays in the text to be quoted.
        title = _short_title(first_line)
        text = "\n".join(kept[first:]).strip()
    else:
        title = first_line
        body = "\n".join(kept[first + 1:]).strip()
        # The headline is part of the article's text (headlines answer questions too).
        text = title + "\n\n" + body if body else title
    return Document(doc_id=doc_id, title=title, text=text, lang=detect_lang(text), date=date, source=source)


def _short_title(line: str) -> str:
    sentence = (split_sentences(line) or [line])[0]
    if len(sentence) <= MAX_TITLE_CHARS:
        return sentence
    cut = sentence[:MAX_TITLE_CHARS].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "\u2026"


def _decode(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise ValueError("binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not valid UTF-8 (byte {exc.start}); re-save the file as UTF-8") from None


def _field(obj: dict, name: str):
    return next((obj[k] for k in JSONL_FIELDS.get(name, (name,)) if str(obj.get(k) or "").strip()), None)


def _jsonl_documents(raw: str, path: Path) -> tuple[list[Document], list[Skipped]]:
    docs: list[Document] = []
    skipped: list[Skipped] = []
    lines = raw.splitlines()
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            if n == len(lines) and not raw.endswith("\n"):
                skipped.append(Skipped(where, f"last line cut off (invalid JSON: {exc.msg}; still being "
                                              f"written? it is read again on the next pass)", PENDING))
            else:
                skipped.append(Skipped(where, f"invalid JSON ({exc.msg})"))
            continue
        if not isinstance(obj, dict):
            skipped.append(Skipped(where, "line is not a JSON object"))
            continue
        try:
            docs.append(jsonl_document(obj, where))
        except ValueError as exc:
            skipped.append(Skipped(where, str(exc)))
    return docs, skipped


def jsonl_document(obj: dict, where: str) -> Document:
    """One JSONL export row as an article; ValueError (the reason it is skipped) for a draft, an
    unreadable embargo or missing fields."""
    status = str(obj.get("status") or "").strip().lower()
    if status in DRAFT_STATUSES or obj.get("draft") is True:
        raise ValueError(f"draft ({'status: ' + status if status else 'draft: true'}): never indexed")
    missing = [k for k in ("id", "title", "text") if _field(obj, k) is None]
    if missing:
        raise ValueError(f"missing field(s): {', '.join(missing)}")
    embargo = None
    if obj.get("embargo_until") not in (None, ""):
        try:
            embargo = instant(str(obj["embargo_until"])).isoformat()
        except ValueError as exc:
            raise ValueError(f"embargo_until {exc}; the article is not indexed until it is fixed") from None
    elif status == "embargoed":
        raise ValueError("status is embargoed but there is no embargo_until (when it may be quoted); not indexed")
    title = nfc(" ".join(str(obj["title"]).split()))
    body = str(_field(obj, "text")).strip()
    body = nfc(html_to_text(body) if looks_like_html(body) else body)
    if not body:
        raise ValueError("no text left after removing its HTML markup")
    text = title + "\n\n" + body
    date = _field(obj, "date")
    if date is not None:
        date = article_date(str(date)) or str(date)
    lang = obj.get("lang") or detect_lang(text)
    url = obj.get("url") or obj.get("link") or None
    revised = obj.get("updated") or obj.get("modified")
    try:
        revised = instant(str(revised)).isoformat() if revised else None
    except ValueError:
        revised = None
    return Document(doc_id=str(_field(obj, "id")).strip(), title=title, text=text, lang=str(lang), date=date,
                    url=url, source=where, embargo_until=embargo, revised=revised)


def read_file(path: Path, settings: IndexSettings) -> tuple[list[Document], list[Skipped]]:
    """The articles of one file, junk cut or skipped, and what was passed over; ValueError (the
    reason) when the file as a whole is unusable, IncompleteFile when it looks half-written."""
    suffix = path.suffix.lower()
    size = path.stat().st_size
    if size == 0:
        raise ValueError("empty file")
    if size > MAX_FILE_BYTES:
        raise ValueError(f"too large ({size} bytes; limit {MAX_FILE_BYTES})")
    data = path.read_bytes()
    if suffix in feeds.SUFFIXES:
        docs, skipped = feeds.read_feed(data, path)
        return _prose_of(docs, skipped, settings)
    raw = _decode(data)
    if not raw.strip():
        raise ValueError("empty file (only whitespace)")
    if suffix in pages.SUFFIXES:
        return _prose_of([pages.read_page(raw, path)], [], settings)
    if suffix == ".jsonl":
        docs, skipped = _jsonl_documents(raw, path)
        if not docs and not skipped:
            raise ValueError("no articles in file")
        return _prose_of(docs, skipped, settings)
    verdict = prose.check(nfc(raw), settings)
    if verdict.skip:
        raise ValueError(verdict.skip)
    return [parse_txt(verdict.text, path.stem, str(path))], [Skipped(str(path), c, CUT) for c in verdict.cut]


def _prose_of(docs: list[Document], skipped: list[Skipped], settings: IndexSettings
              ) -> tuple[list[Document], list[Skipped]]:
    """Each article's junk cut out, or the article skipped when it is mostly junk."""
    kept = []
    for doc in docs:
        verdict = prose.check(doc.text, settings)
        if verdict.skip:
            skipped.append(Skipped(doc.source, verdict.skip))
            continue
        skipped.extend(Skipped(doc.source, c, CUT) for c in verdict.cut)
        if verdict.cut:
            doc.text = verdict.text
        kept.append(doc)
    return kept, skipped


def corpus_files(paths: list[Path]) -> list[tuple[Path, Path]]:
    """(file, the folder or file it was given as) for every non-hidden file under `paths`."""
    out = []
    for given in paths:
        given = Path(given)
        if given.is_file():
            out.append((given, given))
            continue
        if not given.is_dir():
            raise CorpusError(f"corpus folder not found: {given}")
        for path in sorted(p for p in given.rglob("*") if p.is_file()):
            if not any(part.startswith(".") for part in path.relative_to(given).parts):
                out.append((path, given))
    return out


def read_corpus(folders: list[Path] | Path, settings: IndexSettings | None = None,
                require_documents: bool = True) -> Corpus:
    """All usable documents in the folders (recursively) or files, with every skip explained.

    The same id twice (one story in two exports) keeps the newer: the later `updated` time the
    export gives, else the later-modified file; within one file the first is kept."""
    if isinstance(folders, (str, Path)):
        folders = [Path(folders)]
    settings = settings or IndexSettings()
    corpus = Corpus()
    seen: dict[str, tuple[int, tuple]] = {}  # doc_id → (its place in documents, its age key)
    for path, _given in corpus_files(list(folders)):
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            corpus.skipped.append(Skipped(str(path), f"unsupported file type '{path.suffix or '(none)'}' "
                                                     f"(use {', '.join(SUPPORTED_SUFFIXES)})"))
            continue
        try:
            docs, skipped = read_file(path, settings)
            mtime = path.stat().st_mtime_ns
        except IncompleteFile as exc:
            corpus.skipped.append(Skipped(str(path), str(exc), PENDING))
            continue
        except (OSError, ValueError) as exc:
            corpus.skipped.append(Skipped(str(path), str(exc)))
            continue
        corpus.skipped.extend(skipped)
        for doc in docs:
            age = (doc.revised or "", mtime, str(path))
            if doc.doc_id not in seen:
                seen[doc.doc_id] = (len(corpus.documents), age)
                corpus.documents.append(doc)
                continue
            at, old_age = seen[doc.doc_id]
            old = corpus.documents[at]
            if old_age[2] == age[2] or age[:2] <= old_age[:2]:
                corpus.skipped.append(Skipped(doc.source, f"duplicate doc_id '{doc.doc_id}' (first seen in "
                                                          f"{old.source})"))
                continue
            corpus.skipped.append(Skipped(old.source, f"older export of '{doc.doc_id}' (the newer one in "
                                                      f"{doc.source} is read)"))
            corpus.documents[at] = doc
            seen[doc.doc_id] = (at, age)
    for s in corpus.skipped:
        log.warning("%s %s: %s", "cut from" if s.kind == CUT else "skipped", s.path, s.reason)
    if not corpus.documents and require_documents:
        left = [s for s in corpus.skipped if s.kind != CUT]
        reasons = "; ".join(f"{s.path}: {s.reason}" for s in left[:5])
        where = ", ".join(str(f) for f in folders)
        raise CorpusError(f"no usable article in {where}" + (f" ({reasons})" if reasons else
                                                             f" (the folder has no article files: {', '.join(SUPPORTED_SUFFIXES)})"))
    return corpus
