"""The time stage: a question's time (bot/when.py) applied to the ranked candidate sentences.

    dated question     the reports of the asked days first (the article's date, or a date its
                       sentence names); undated articles in between, neither preferred nor pushed down
    latest / changing  the most recent report first, among the candidates close to the best
    first              the earliest report first, the same way

Only rival reports are reordered: each article's best sentence within `window` logits of the best
one of its language (a Hindi report of an English question's story scores lower for the same
relevance) and about the same story (bot/config.py `time_window`, `story_similarity`); time never
lifts a sentence from far below its language's best, nor a sentence that is not its article's best. A question with no time
and no changing state, or whose rivals are all undated, is returned untouched (the same array).
Pure functions of (the question's When, the candidates' logits, their dates and texts).
"""
from __future__ import annotations

import re
from datetime import date

import numpy as np

from bot.when import When, dates_in
from index.text import normalize_digits

_FIGURE = re.compile(r"\d+(?:[.,]\d+)*")
_YEARISH = re.compile(r"^(?:19|20)\d\d$")


def day_of(text: str | None) -> date | None:
    """An article's `YYYY-MM-DD` as a date (None: undated or unreadable)."""
    if not text:
        return None
    try:
        return date.fromisoformat(str(text)[:10])
    except ValueError:
        return None


def _recency(days: list[date | None]) -> np.ndarray:
    """Each row's place in time among the dated rows: 0 the oldest … 1 the newest; undated 0.5."""
    distinct = sorted({d for d in days if d is not None})
    if len(distinct) < 2:
        return np.full(len(days), 0.5)
    rank = {d: i / (len(distinct) - 1) for i, d in enumerate(distinct)}
    return np.array([rank[d] if d is not None else 0.5 for d in days])


def _in_range(when: When, day: date | None, text: str) -> float:
    """1 for a report of the asked days (its article's date or a date its sentence names), 0.5 for
    an undated one (neutral), at most 0.25 for a dated one outside them, less the further out."""
    named = dates_in(text, day) if day is not None else []
    if any(s <= (when.end or when.start) and when.start <= e for s, e in named):
        return 1.0
    if day is None:
        return 0.5
    if when.contains(day):
        return 1.0
    return 0.25 / (1.0 + when.distance(day) / 7.0)


def floors(logits: np.ndarray, window: float, langs: list[str] | None = None) -> np.ndarray:
    """Each row's floor: `window` below the best row, or with `langs`, below the best row of its
    own language (a Hindi report scores lower for an English question than the English one of the
    same fact: cross-lingual logits run lower for the same relevance)."""
    if langs is None:
        return np.full(len(logits), float(logits.max()) - window)
    best = {}
    for lang, x in zip(langs, logits):
        best[lang] = max(best.get(lang, -np.inf), float(x))
    return np.array([best[lang] - window for lang in langs])


def rivals(logits: np.ndarray, docs: list[str], vectors: np.ndarray, window: float, similarity: float,
           eligible: np.ndarray | None = None, langs: list[str] | None = None) -> list[int]:
    """The reports that compete to answer: each article's best sentence within `window` of the best
    one (of its language, where `langs` is given: `floors`) that reports the same story (cosine with
    the best sentence at least `similarity`) and, where `eligible` is given (a count asked: the
    sentence gives a number), is eligible. The best is first."""
    top = int(np.argmax(logits))
    floor = floors(logits, window, langs)
    best_of: dict[str, int] = {docs[top]: top}
    for i in np.argsort(-logits, kind="stable"):
        i = int(i)
        if logits[i] < floor[i] or docs[i] in best_of or float(vectors[i] @ vectors[top]) < similarity:
            continue
        if eligible is not None and not eligible[i]:
            continue
        best_of[docs[i]] = i
    return list(best_of.values())


def order(when: When, logits: np.ndarray, rows: list[int], days: list[date | None], texts: list[str],
          weight: float) -> np.ndarray:
    """`logits` with the time's preference added to the rival reports `rows` (best first): the asked
    days' reports, then the latest (or the first) report. A rival whose preference equals the best
    one's is left where it was, so with no dated rival (an undated archive) nothing moves."""
    if not when.active or len(rows) < 2:
        return logits
    bonus = np.zeros(len(rows))
    if when.dated:
        bonus += weight * np.array([_in_range(when, days[i], texts[i]) for i in rows])
    wants = when.wants
    if wants is not None:
        recency = _recency([days[i] for i in rows])
        share = 0.25 if when.dated else 1.0  # a dated question's days come first, then the order within
        bonus += share * weight * (recency if wants == "latest" else 1.0 - recency)
    bonus -= bonus[0]
    if not bonus.any():
        return logits
    out = logits.astype(np.float64, copy=True)
    out[rows] += bonus
    return out


def figures(text: str) -> set[str]:
    """The numbers a sentence reports (41, 1,178, 43.5), less years and the days of dates it names."""
    digits = normalize_digits(text)
    for m in re.finditer(r"\d{1,2}(?=\s+(?:[A-Z][a-z]+|[\u0900-\u097f]+)\s+(?:19|20)\d\d)", digits):
        digits = digits[: m.start()] + " " * (m.end() - m.start()) + digits[m.end():]
    return {f.replace(",", "") for f in _FIGURE.findall(digits) if not _YEARISH.match(f.replace(",", ""))}


def other_day(a_date: str | None, b_date: str | None) -> bool:
    """Two reports dated on different days (an undated one is of no other day)."""
    a, b = day_of(a_date), day_of(b_date)
    return a is not None and b is not None and a != b


def differs(a_text: str, b_text: str) -> bool:
    """Both report figures, and not the same ones (41 is not 43)."""
    fa, fb = figures(a_text), figures(b_text)
    return bool(fa) and bool(fb) and fa != fb


def earlier(answer_day: date | None, answer_text: str, rows: list[int], days: list[date | None],
            texts: list[str]) -> int | None:
    """Of the rival reports `rows`, the latest one before the answer's day that gave a different
    figure: what the "earlier: … (date)" line quotes. None if there is none."""
    if answer_day is None:
        return None
    best, best_day = None, None
    for row in rows:
        day = days[row]
        if day is None or day >= answer_day or not differs(answer_text, texts[row]):
            continue
        if best_day is None or day > best_day:
            best, best_day = row, day
    return best
