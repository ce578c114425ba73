"""Is this text prose? Junk (base64 and hex runs, table dumps, markup left unparsed, control
bytes) is cut out of an article or, when it is most of the text, the whole file is skipped, each
time with the reason for the build summary.

Junk is not only useless to quote, it is expensive: a 3 MB base64 attachment saved as `.txt`
split into 10,000 "sentences" kept a build embedding for 45 minutes. Every check here is a
compiled regular expression over the text or over one line, so deciding about such a file takes
milliseconds, before anything is split or embedded; the limits are `IndexSettings` fields
measured on real articles (`index/config.py`, BENCHMARKS.md).
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from index.config import IndexSettings
from index.dates import is_date_line

#: Letters of any script, Devanagari vowel signs and viramas included (they are not `\w`).
_LETTER = re.compile(r"[^\W\d_]|[\u0300-\u036F\u0900-\u0963\u0970-\u097F\uA8E0-\uA8FF]")
_URL = re.compile(r"^[(\[<\"'“]*(?:[a-z][a-z0-9+.-]*://|www\.|mailto:)\S+$", re.IGNORECASE)
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")
_HEX = re.compile(r"(?:0x)?[0-9A-Fa-f]+")
_HEX_TOKEN = re.compile(r"(?<!\S)(?:0x)?[0-9A-Fa-f]{2,8}:?(?!\S)")
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9:-]*(?:\s[^<>]{0,500})?/?>|<!--.*?-->|&(?:[a-zA-Z]{2,8}|#\d{2,5});")
_CELL = re.compile(r"[|\t]|,(?=\S)(?<!\d,(?=\d{3}))")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")
#: A text of more than 4x this many lines is first judged on a sample of this many, spread
#: evenly; when this share of the sample is junk it is skipped without reading further.
SAMPLE_LINES, SAMPLE_JUNK = 512, 0.95
#: Lines shorter than this (non-space characters) are too short to judge by their letters.
SHORT_LINE = 20
#: A line is markup when tags and entities are at least this share of it.
MARKUP_SHARE = 0.2
#: A line of at least this many tokens, this share of them hex numbers, is a hex dump.
HEX_DUMP_TOKENS, HEX_DUMP_SHARE = 8, 0.75


@dataclass
class Verdict:
    """What is left of a text (None: skip it all) and why."""
    text: str | None
    #: Why the whole text is skipped ("not prose: ..."), or None.
    skip: str | None = None
    #: What was cut out of a text that is kept ("not prose: ..."), one entry per kind of junk.
    cut: list[str] = field(default_factory=list)


def check(text: str, settings: IndexSettings) -> Verdict:
    """Keep the prose of `text`: cut junk words and lines, or skip the text when junk is more than
    `settings.max_junk_share` of it (by non-space characters)."""
    total = _nonspace(text)
    if not total:
        return Verdict(text)
    junk: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    limit = settings.max_junk_share * total
    cut = 0  # junk characters so far
    pieces, last = [], 0
    for m in re.finditer(r"\S{%d,}" % (settings.max_word_chars + 1), text):
        word = m.group()
        if _URL.match(word):
            continue
        kind = _word_kind(word)
        junk[kind] += len(word)
        counts[kind] += 1
        cut += len(word)
        pieces.append(text[last:m.start()])
        last = m.end()
        if cut > limit:
            return Verdict(None, skip=_reason(junk, counts, total, whole=True))
    if pieces:
        pieces.append(text[last:])
        text = "".join(pieces)
    lines = text.split("\n")
    if len(lines) > SAMPLE_LINES * 4 and (sampled := _sampled(lines, settings)):
        return Verdict(None, skip=sampled)
    kept = []
    for line in lines:
        kind = line_kind(line, settings)
        if kind is None:
            kept.append(line)
            continue
        n = _nonspace(line)
        junk[kind] += n
        counts[kind] += 1
        cut += n
        if cut > limit:
            return Verdict(None, skip=_reason(junk, counts, total, whole=True))
    if not junk:
        return Verdict(text)
    rest = "\n".join(kept)
    if not _LETTER.search(rest):
        return Verdict(None, skip=_reason(junk, counts, total, whole=True))
    return Verdict(rest, cut=[_reason(Counter({k: n}), Counter({k: counts[k]}), total, whole=False)
                              for k, n in junk.most_common()])


def _sampled(lines: list[str], settings: IndexSettings) -> str | None:
    """A long text whose evenly spread sample of lines is nearly all junk is skipped on the
    sample's word (a 3 MB dump in milliseconds, not a pass over every line)."""
    step = len(lines) / SAMPLE_LINES
    kinds = Counter(line_kind(lines[int(i * step)], settings) for i in range(SAMPLE_LINES))
    junk = SAMPLE_LINES - kinds[None]
    if junk < SAMPLE_JUNK * SAMPLE_LINES:
        return None
    kind, n = next((k, n) for k, n in kinds.most_common() if k is not None)
    return (f"not prose: {kind} ({n} of {SAMPLE_LINES} lines sampled across its {len(lines):,} lines; "
            f"{junk / SAMPLE_LINES:.0%} of the sample is junk)")


def line_kind(line: str, settings: IndexSettings) -> str | None:
    """The kind of junk a line is, or None for a line of prose (or too short to tell)."""
    s = line.strip()
    if not s:
        return None
    if _CONTROL.search(s):
        return "control characters"
    n = _nonspace(s)
    tags = _TAG.findall(s)
    if tags and sum(len(t) for t in tags) >= MARKUP_SHARE * n:
        return "markup left unparsed"
    if len(_CELL.findall(s)) >= settings.table_separators:
        return "table dump"
    tokens = s.count(" ") + 1
    if tokens >= HEX_DUMP_TOKENS and len(_HEX_TOKEN.findall(s)) >= HEX_DUMP_SHARE * tokens and re.search(r"\d", s):
        return "hex dump"
    if n >= SHORT_LINE and _LETTER.subn("", s)[1] < settings.min_letter_share * n and not is_date_line(s):
        return "table dump"  # a dateline (RFC 2822, ISO 8601 with a zone) is mostly digits, not junk
    return None


def _word_kind(word: str) -> str:
    if _HEX.fullmatch(word):
        return "hex run"
    if _BASE64.fullmatch(word) and all(re.search(c, word) for c in (r"\d", "[A-Z]", "[a-z]")):
        return "base64 run"
    return "word longer than any real word"


def _nonspace(text: str) -> int:
    return len("".join(text.split()))


def _reason(junk: Counter, counts: Counter, total: int, whole: bool) -> str:
    kind, chars = junk.most_common(1)[0]
    n = counts[kind]
    what = {"hex run": "hex run", "base64 run": "base64 run", "word longer than any real word": "word",
            "control characters": "line", "markup left unparsed": "line", "table dump": "line",
            "hex dump": "line"}[kind]
    many = f"{n:,} {what}{'s' if n != 1 else ''}"
    if kind == "word longer than any real word":
        detail = f"{many} longer than any real word"
    elif what == "line":
        detail = f"{kind} ({many})"
    elif n == 1:
        detail = f"a {kind} of {chars:,} characters"
    else:
        detail = f"{kind}s ({n:,}, {chars / n:,.0f} characters on average)"
    if whole:
        share = sum(junk.values()) / total
        return f"not prose: {detail}; at least {share:.0%} of its {total:,} characters are junk"
    return f"not prose: {detail}, {chars:,} characters cut"
