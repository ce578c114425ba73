"""Plain-text rendering of answers for the terminal (CLI and REPL).

Quotes are shown exactly as the article has them, in its own script; the citation line
names the article so an editor can check the quote at its source.
"""
from __future__ import annotations

from bot.answer import AnswerResult, Citation

ABSTAIN_TEXT = "Nothing in the archive answers this. (कोई उत्तर संग्रह में नहीं मिला।)"
NOT_A_QUESTION_TEXT = ("That does not look like a question, so there is no archive quote. Ask about a story, "
                       "e.g. \"How many accounts did the government order Twitter to block?\" "
                       "(यह सवाल नहीं लगता।)")
NOT_SURE_TEXT = ("Not sure: nothing in the archive clearly answers this. The closest quotes, which may not "
                 "answer it: (पक्का उत्तर नहीं मिला; सबसे नज़दीकी उद्धरण, जो शायद उत्तर न हों:)")
LANG_NAMES = {"hi": "Hindi", "en": "English"}


def cite_line(c: Citation) -> str:
    parts = [c.doc_id, c.date or "undated", LANG_NAMES.get(c.lang, c.lang), f"sentence {c.sentence}"]
    return f"{c.title} ({', '.join(parts)})" + (f" {c.url}" if c.url else "")


def earlier_line(text: str, c: Citation) -> str:
    """An earlier report of the story with a different figure: `earlier: “…” (date, title)`."""
    return f"earlier: \u201c{text}\u201d ({c.date or 'undated'}, {c.title or c.doc_id})"


def render(result: AnswerResult, show_scores: bool = False) -> str:
    if result.not_question:
        return NOT_A_QUESTION_TEXT
    if result.abstained:
        return ABSTAIN_TEXT
    lines: list[str] = []
    if result.tier == "not_sure":
        lines.append(NOT_SURE_TEXT)
    if result.confidence is not None:
        lines.append(f"(confidence {result.confidence:.0%})")
    for n, a in enumerate(result.answers, start=1):
        score = f"  [{a.score:.3f}]" if show_scores else ""
        lines.append(f"[{n}] \u201c{a.text}\u201d{score}")
        lines.append(f"    \u2014 {cite_line(a.citation)}")
        for text, c in a.also_in:
            lines.append(f"    also in: {cite_line(c)}")
            lines.append(f"      \u201c{text}\u201d")
        if a.earlier is not None:
            lines.append(f"    {earlier_line(*a.earlier)}")
    return "\n".join(lines)


def render_sources(result: AnswerResult, limit: int = 10) -> str:
    """The retriever's best passages behind the last answer (the REPL's :sources)."""
    if result.index is None or not result.passages:
        return "No passages were retrieved."
    idx = result.index
    lines = []
    for rank, hit in enumerate(result.passages[:limit], start=1):
        p = idx.passages[hit.pid]
        doc = idx.documents[p.doc_id]
        first = idx.sentences[p.first_sid].text
        preview = first if len(first) <= 100 else first[:97] + "..."
        lines.append(f"{rank:2d}. {hit.score:.3f} (dense {hit.dense:.3f}, bm25 {hit.bm25:.2f})  "
                     f"{doc.title[:60]} [{p.doc_id}, passage {hit.pid}, {p.lang}]")
        lines.append(f"      {preview}")
    return "\n".join(lines)
