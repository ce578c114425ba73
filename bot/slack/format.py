"""Answers as Slack messages: Block Kit `rich_text` blocks plus a plain-text fallback.

Layout of an answer:

    @reporter asked: “question”            (/khabar and shared answers only)
    ┃ “quoted sentence” [1]
    ┃ also in: “the same fact, other article” [2]
    ┃ “second answer” [3]
    ───────────────────
    [1] Title (linked when the article has a URL) · date · Hindi · sentence 4 · doc_id
    [👍 Helpful] [👎 Not helpful] ([Share with channel] on a /khabar answer)

Quotes and sources are `rich_text` elements, whose text Slack shows literally: an article
quoting `<!channel>`, `*bold*` or `<@U123>` shows those characters and pings nobody. Only the
fallback `text` (notifications, screen readers) is mrkdwn, and it is escaped. An answer too
long for one message (`max_chars`, Block Kit's 50 blocks) continues in further messages, whole
answers each, numbered on; the buttons come with the last.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.answer import AnswerResult, Citation
from bot.format import ABSTAIN_TEXT, LANG_NAMES, NOT_SURE_TEXT
from bot.slack.actions import feedback_buttons, feedback_value, share_button
from bot.slack.mrkdwn import clip, escape, unescape

MAX_BLOCKS = 50
MAX_SECTION_CHARS = 3000
MAX_RICH_TEXT_CHARS = 3800  # Slack's limit is 4000 characters of text a rich_text block
MAX_QUOTE_CHARS = 2000
#: The top-level `text` is what notifications and screen readers show; Slack allows 40k,
#: a notification needs far less.
MAX_FALLBACK_CHARS = 3000


APOLOGY_TEXT = ("Sorry, something went wrong while I was answering this. "
                "The error has been logged; please try again in a minute.")
_SLACK_ID = re.compile(r"^[A-Z0-9]{2,20}$")


def help_text(allowed_channels: list[str], allowed_users: list[str]) -> str:
    """What Khabar says to "help" or "hi": how to ask, and where and for whom it answers (mrkdwn)."""
    where = "Mention me in a channel, DM me, or use /khabar; reply in my thread for follow-ups."
    channels = [f"<#{c}>" for c in allowed_channels if _SLACK_ID.match(c) and not c.startswith("D")]
    if allowed_channels:
        where = ("I answer in " + (", ".join(channels) if channels else "the channels my admins chose")
                 + (" and in DMs" if any(c.startswith("D") for c in allowed_channels) or allowed_users else "")
                 + "; mention me there or use /khabar, and reply in my thread for follow-ups.")
    who = " I answer the reporters my admins listed; ask them to add you." if allowed_users else ""
    return ("Ask me about the news archive, in English, Hindi or romanised Hindi, e.g. "
            "\u201cHow many accounts did the government order Twitter to block?\u201d. " + where + who)


HELP_TEXT = help_text([], [])


@dataclass
class SlackMessage:
    """What chat.postMessage / response_url receives: `text` (fallback, mrkdwn-escaped) and `blocks`."""
    text: str
    blocks: list[dict] = field(default_factory=list)

    def kwargs(self) -> dict:
        out: dict = {"text": self.text}
        if self.blocks:
            out["blocks"] = self.blocks
        return out

    def plain(self) -> str:
        """What a reader sees, as plain text (logs, the load script, tests)."""
        return _plain(self.blocks) if self.blocks else unescape(self.text)


def _plain(x) -> str:
    if isinstance(x, list):
        return "".join(_plain(v) for v in x)
    t = x.get("type") if isinstance(x, dict) else None
    if t == "mrkdwn":
        return unescape(x.get("text", ""))
    if t in ("text", "link", "plain_text"):
        return x.get("text") or x.get("url", "")
    if t == "user":
        return "@" + x.get("user_id", "")
    if t in ("rich_text", "rich_text_section", "rich_text_quote", "section", "context"):
        inner = _plain(x.get("elements") or []) + (_plain(x["text"]) if isinstance(x.get("text"), dict) else "")
        return inner if inner.endswith("\n") else inner + "\n"
    return ""


def _mrkdwn(text: str) -> dict:
    # verbatim: Slack does not auto-link channel names, URLs or @words in this text.
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _section(text: str) -> dict:
    return {"type": "section", "text": _mrkdwn(clip(text, MAX_SECTION_CHARS))}


def _context(text: str) -> dict:
    return {"type": "context", "elements": [_mrkdwn(clip(text, MAX_SECTION_CHARS))]}


def _text(text: str, **style) -> dict:
    el: dict = {"type": "text", "text": text}
    if style:
        el["style"] = style
    return el


def _rich(*sections: dict) -> dict:
    return {"type": "rich_text", "elements": list(sections)}


def _chars(block: dict) -> int:
    return sum(len(e.get("text", "")) for s in block.get("elements", []) for e in s.get("elements", []))


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_QUOTE_CHARS else text[: MAX_QUOTE_CHARS - 1].rstrip() + "\u2026"


# --- answers --------------------------------------------------------------------------------------

def _date(c: Citation) -> str:
    return c.date or "undated"


def source_section(n: int, c: Citation, last: bool = False) -> dict:
    """`[n] Title · date · Hindi · sentence 4 · doc_id` as one rich_text_section."""
    title = (c.title or c.doc_id)[:300]
    url = (c.url or "").strip()
    head = ({"type": "link", "url": url, "text": title} if url.startswith(("http://", "https://"))
            else _text(title, bold=True))
    meta = f" \u00b7 {_date(c)} \u00b7 {LANG_NAMES.get(c.lang, c.lang)} \u00b7 sentence {c.sentence} \u00b7 "
    return {"type": "rich_text_section", "elements": [
        _text(f"[{n}] ", bold=True), head, _text(meta), _text(c.doc_id[:200], code=True),
        *([] if last else [_text("\n")])]}


def _quote(text: str, n: int, also: bool) -> dict:
    return {"type": "rich_text_quote", "elements": [
        *([_text("also in: ", italic=True)] if also else []),
        _text(f"\u201c{_sentence(text)}\u201d"), _text(f" [{n}]", bold=True)]}


@dataclass
class _Unit:
    """One answer, whole: its quotes (the answer and its also-in) and their sources."""
    entries: list[tuple[int, str, Citation, bool]]

    @property
    def size(self) -> int:
        return sum(len(_sentence(t)) + 120 + len(c.title or c.doc_id) for _, t, c, _ in self.entries)

    def quote_blocks(self) -> list[dict]:
        return _rich_blocks([_quote(t, n, also) for n, t, _, also in self.entries])

    def fallback(self) -> list[str]:
        return [f"[{n}] \u201c{_sentence(t)}\u201d \u2014 {c.title or c.doc_id} ({_date(c)})"
                for n, t, c, _ in self.entries]


def _units(result: AnswerResult) -> list[_Unit]:
    n, out = 0, []
    for a in result.answers:
        entries = [(n + 1, a.text, a.citation, False)]
        n += 1
        for text, c in a.also_in:
            n += 1
            entries.append((n, text, c, True))
        out.append(_Unit(entries))
    return out


def _source_blocks(units: list[_Unit]) -> list[dict]:
    entries = [e for u in units for e in u.entries]
    return _rich_blocks([source_section(n, c, last=i == len(entries) - 1) for i, (n, _, c, _) in enumerate(entries)])


def _rich_blocks(sections: list[dict]) -> list[dict]:
    """Sections into as few rich_text blocks as Slack's per-block text limit allows, in order."""
    blocks, current = [], []
    for section in sections:
        if current and _chars(_rich(*current, section)) > MAX_RICH_TEXT_CHARS:
            blocks.append(_rich(*current))
            current = []
        current.append(section)
    return blocks + ([_rich(*current)] if current else [])


def _pack(units: list[_Unit], max_chars: int, room: int) -> list[list[_Unit]]:
    """Whole answers into messages of at most `max_chars` (roughly) and `room` blocks."""
    parts: list[list[_Unit]] = [[]]
    for u in units:
        trial = parts[-1] + [u]
        blocks = sum(len(x.quote_blocks()) for x in trial) + 1 + len(_source_blocks(trial))
        if parts[-1] and (sum(x.size for x in trial) > max_chars or blocks > room):
            parts.append([u])
        else:
            parts[-1] = trial
    return parts


def answer_messages(result: AnswerResult, question: str | None = None, *, asked_by: str | None = None,
                    feedback: bool = True, share_value: str | None = None, max_chars: int = 3900,
                    max_blocks: int = MAX_BLOCKS) -> list[SlackMessage]:
    """The Slack messages for one engine result (usually one).

    `question` is shown above the answer (for /khabar and shared answers, where the question
    is not visible just above); `asked_by` is a Slack user id credited in that line.
    """
    head: list[dict] = []
    if question is not None:
        who = ([{"type": "user", "user_id": asked_by}, _text(" asked: ")] if asked_by and _SLACK_ID.match(asked_by)
               else [_text("Question: ")])
        head.append(_rich({"type": "rich_text_section", "elements": [
            *who, _text(f"\u201c{_sentence(question)}\u201d", italic=True)]}))
    tail: list[dict] = []
    if feedback or share_value:
        elements = feedback_buttons(feedback_value(result, question if question is not None else result.question)) \
            if feedback else []
        if share_value:
            elements.append(share_button(share_value))
        tail.append({"type": "actions", "block_id": "khabar_actions", "elements": elements})

    if result.abstained or not result.answers:
        return [SlackMessage(text=escape(ABSTAIN_TEXT), blocks=head + [_section(escape(ABSTAIN_TEXT))] + tail)]

    if result.tier == "not_sure":  # one line saying so, above the closest quotes
        head = head + [_context(escape(NOT_SURE_TEXT))]
    parts = _pack(_units(result), max_chars, max_blocks - len(head) - len(tail) - 1)
    messages = []
    for i, units in enumerate(parts):
        blocks = head if i == 0 else [_context(f"_(continued, {i + 1}/{len(parts)})_")]
        blocks = blocks + [b for u in units for b in u.quote_blocks()] + [{"type": "divider"}] + _source_blocks(units)
        if i == len(parts) - 1:
            blocks += tail
        lines = ([NOT_SURE_TEXT] if result.tier == "not_sure" and i == 0 else []) + \
            [line for u in units for line in u.fallback()]
        text = escape("\n".join(lines))
        messages.append(SlackMessage(text=clip(text, MAX_FALLBACK_CHARS), blocks=blocks[:max_blocks]))
    return messages


def notice_message(text: str, mrkdwn: bool = False) -> SlackMessage:
    """A short notice (refusal, apology, help) in one section; escaped unless it is our own mrkdwn."""
    body = text if mrkdwn else escape(text)
    return SlackMessage(text=body, blocks=[_section(body)])


def apology_message() -> SlackMessage:
    return notice_message(APOLOGY_TEXT)
