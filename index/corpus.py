"""Reading a folder of articles into documents, and saying plainly what could not be read.

A newsroom archive is messy: stray binaries, files saved in another encoding, empty
drafts. Each bad file is skipped with its name and reason so an editor can fix it; only a
corpus with no usable document at all is an error.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from index.text import detect_lang, nfc, split_sentences

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".jsonl")
#: A file bigger than this is not an article; refusing it keeps a stray dump from eating memory.
MAX_FILE_BYTES = 64 * 1024 * 1024
#: A first line longer than this is a lede, not a headline: its first sentence becomes the title.
MAX_TITLE_CHARS = 160
#: How many leading lines of a .txt are searched for a date line.
DATE_SEARCH_LINES = 8

_LEADING_DATE = re.compile(r"^\s*date\s+(\d{4}-\d{2}-\d{2})\s*(.*)$", re.IGNORECASE)
_UPDATED = re.compile(
    r"^\s*(?:updated|published|posted)?\s*:?\s*"
    r"([A-Z][a-z]{2,8}\.? \d{1,2}, \d{4})(?:,\s*\d{1,2}:\d{2}\s*(?:AM|PM)?\s*(?:IST|UTC|GMT)?)?\s*$",
    re.IGNORECASE,
)
_ISO_LINE = re.compile(r"^\s*(?:updated|published|date)?\s*:?\s*(\d{4}-\d{2}-\d{2})\s*$", re.IGNORECASE)


class CorpusError(Exception):
    """The corpus as a whole cannot be used (no folder, no usable document)."""


@dataclass
class Document:
    doc_id: str
    title: str
    text: str
    lang: str
    date: str | None = None
    url: str | None = None
    source: str = ""

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Skipped:
    path: str
    reason: str


def skipped_lines(skipped: list[Skipped]) -> list[str]:
    """The files a build or update passed over, one line each with the reason, for its summary."""
    if not skipped:
        return []
    return [f"  skipped files ({len(skipped)}):", *(f"    {s.path}: {s.reason}" for s in skipped)]


@dataclass
class Corpus:
    documents: list[Document] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def _parse_date(text: str) -> str | None:
    """ISO date from the date formats the seeds and our CMS exports use, or None."""
    for fmt in ("%b %d, %Y", "%B %d, %Y", "%b. %d, %Y"):
        try:
            return datetime.strptime(text.strip(), fmt).date().isoformat()
        except ValueError:
            continue
    try:
        return datetime.strptime(text.strip(), "%Y-%m-%d").date().isoformat()
    except ValueError:
        return None


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
            if m and (parsed := _parse_date(m.group(1))):
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


def _jsonl_documents(raw: str, path: Path) -> tuple[list[Document], list[Skipped]]:
    docs: list[Document] = []
    skipped: list[Skipped] = []
    for n, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            skipped.append(Skipped(where, f"invalid JSON ({exc.msg})"))
            continue
        if not isinstance(obj, dict):
            skipped.append(Skipped(where, "line is not a JSON object"))
            continue
        missing = [k for k in ("id", "title", "text") if not str(obj.get(k) or "").strip()]
        if missing:
            skipped.append(Skipped(where, f"missing field(s): {', '.join(missing)}"))
            continue
        title = nfc(str(obj["title"]).strip())
        body = nfc(str(obj["text"]).strip())
        text = title + "\n\n" + body
        date = obj.get("date")
        if date:
            date = _parse_date(str(date)[:10]) or str(date)
        lang = obj.get("lang") or detect_lang(text)
        docs.append(Document(doc_id=str(obj["id"]), title=title, text=text, lang=str(lang),
                             date=date, url=obj.get("url") or None, source=where))
    return docs, skipped


def read_corpus(folders: list[Path] | Path) -> Corpus:
    """All usable documents under the folders (recursively), with every skip explained."""
    if isinstance(folders, (str, Path)):
        folders = [Path(folders)]
    corpus = Corpus()
    seen: dict[str, str] = {}
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            raise CorpusError(f"corpus folder not found: {folder}")
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if any(part.startswith(".") for part in path.relative_to(folder).parts):
                continue
            if path.suffix.lower() not in SUPPORTED_SUFFIXES:
                corpus.skipped.append(Skipped(str(path), f"unsupported file type '{path.suffix or '(none)'}' "
                                                         f"(use .txt or .jsonl)"))
                continue
            try:
                size = path.stat().st_size
                if size == 0:
                    raise ValueError("empty file")
                if size > MAX_FILE_BYTES:
                    raise ValueError(f"too large ({size} bytes; limit {MAX_FILE_BYTES})")
                raw = _decode(path.read_bytes())
                if not raw.strip():
                    raise ValueError("empty file (only whitespace)")
                if path.suffix.lower() == ".jsonl":
                    docs, skipped = _jsonl_documents(raw, path)
                    corpus.skipped.extend(skipped)
                    if not docs and not skipped:
                        raise ValueError("no articles in file")
                else:
                    docs = [parse_txt(raw, path.stem, str(path))]
            except (OSError, ValueError) as exc:
                corpus.skipped.append(Skipped(str(path), str(exc)))
                continue
            for doc in docs:
                if doc.doc_id in seen:
                    corpus.skipped.append(Skipped(doc.source, f"duplicate doc_id '{doc.doc_id}' "
                                                              f"(first seen in {seen[doc.doc_id]})"))
                    continue
                seen[doc.doc_id] = doc.source
                corpus.documents.append(doc)
    for s in corpus.skipped:
        log.warning("skipped %s: %s", s.path, s.reason)
    if not corpus.documents:
        reasons = "; ".join(f"{s.path}: {s.reason}" for s in corpus.skipped[:5])
        where = ", ".join(str(f) for f in folders)
        raise CorpusError(f"no usable article in {where}" + (f" ({reasons})" if reasons else
                                                             " (the folder has no .txt or .jsonl files)"))
    return corpus
