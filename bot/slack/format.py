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

import json
import re
from dataclasses import dataclass, field

from bot.answer import AnswerResult, Citation
from bot.format import ABSTAIN_TEXT, LANG_NAMES

MAX_BLOCKS = 50
MAX_SECTION_CHARS = 3000
MAX_RICH_TEXT_CHARS = 3800  # Slack's limit is 4000 characters of text a rich_text block
MAX_QUOTE_CHARS = 2000
MAX_BUTTON_VALUE = 2000
#: The top-level `text` is what notifications and screen readers show; Slack allows 40k,
#: a notification needs far less.
MAX_FALLBACK_CHARS = 3000

ACTION_FEEDBACK_UP = "khabar_feedback_up"
ACTION_FEEDBACK_DOWN = "khabar_feedback_down"
ACTION_SHARE = "khabar_share"

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


# --- escaping and clipping ----------------------------------------------------------------------

def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn parses as control sequences."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """Shorten escaped text to at most `limit` characters, ending with … and never cutting an entity."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]  # do not leave half of "&amp;" behind
    return cut.rstrip() + "\u2026"


def _url(url: str) -> str:
    # Inside <url|label>, '|' and '>' end the URL; '&' must be escaped like everywhere else.
    return url.strip().replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


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


# --- Slack text → the question the engine sees -----------------------------------------------------

_SLACK_LINK = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")


def slack_to_plain(text: str, bot_user_id: str | None = None) -> str:
    """The question as the person typed it: no bot mention, Slack markup turned back into words.

    Incoming message text is itself escaped by Slack (`&amp;`, `&lt;`, `&gt;`) and carries
    mentions and links as `<@U123>`, `<#C123|desk>`, `<https://x|label>`, `<!here>`. The
    punctuation after a leading bot mention ("@khabar: who...") goes with it; an emoji
    (":+1: ok") stays.
    """
    text = text.strip()
    if bot_user_id:
        lead = re.match(rf"<@{re.escape(bot_user_id)}(?:\|[^<>]*)?>[\s:,;\-]*", text)
        if lead:
            text = text[lead.end():]

    def repl(m: re.Match) -> str:
        target, label = m.group(1), m.group(2)
        if target.startswith("@"):
            uid = target[1:]
            if bot_user_id and uid == bot_user_id:
                return " "
            return "@" + (label or uid)
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            name = target[1:].split("^", 1)[0]
            return label or ("@" + name if name in ("here", "channel", "everyone") else name)
        return label or target

    return " ".join(unescape(_SLACK_LINK.sub(repl, text)).split())


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
        blocks, current = [], []
        for n, t, _, also in self.entries:
            q = _quote(t, n, also)
            if current and _chars(_rich(*current, q)) > MAX_RICH_TEXT_CHARS:
                blocks.append(_rich(*current))
                current = []
            current.append(q)
        return blocks + [_rich(*current)]

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
    blocks, current = [], []
    for i, (n, _, c, _) in enumerate(entries):
        s = source_section(n, c, last=i == len(entries) - 1)
        if current and _chars(_rich(*current, s)) > MAX_RICH_TEXT_CHARS:
            blocks.append(_rich(*current))
            current = []
        current.append(s)
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


def feedback_value(result: AnswerResult, question: str) -> str:
    """Button value carrying what the feedback log needs: the question and the cited sentences."""
    answers = [[a.citation.doc_id, a.citation.sentence, [[c.doc_id, c.sentence] for _, c in a.also_in]]
               for a in result.answers]
    q = question
    while True:
        value = json.dumps({"v": 1, "q": q, "ab": bool(result.abstained), "a": answers},
                           ensure_ascii=False, separators=(",", ":"))
        if len(value) <= MAX_BUTTON_VALUE:
            return value
        excess = len(value) - MAX_BUTTON_VALUE
        if len(q) > 101:  # shorten the question first, but keep its first 100 characters
            q = q[: max(100, len(q) - excess - 1)] + "\u2026"
        elif any(a[2] for a in answers):
            answers = [[d, s, []] for d, s, _ in answers]
        elif len(answers) > 1:
            answers = answers[: max(1, len(answers) - 1 - excess // 40)]
        else:
            q = q[:50]
            answers = [[str(answers[0][0])[:200], answers[0][1], []]] if answers else []
            value = json.dumps({"v": 1, "q": q, "ab": bool(result.abstained), "a": answers},
                               ensure_ascii=False, separators=(",", ":"))
            return value[:MAX_BUTTON_VALUE]


def feedback_buttons(value: str) -> list[dict]:
    return [
        {"type": "button", "action_id": ACTION_FEEDBACK_UP, "value": value,
         "text": {"type": "plain_text", "text": "\U0001F44D Helpful", "emoji": True}},
        {"type": "button", "action_id": ACTION_FEEDBACK_DOWN, "value": value,
         "text": {"type": "plain_text", "text": "\U0001F44E Not helpful", "emoji": True}},
    ]


def share_button(value: str) -> dict:
    return {"type": "button", "action_id": ACTION_SHARE, "value": value[:MAX_BUTTON_VALUE], "style": "primary",
            "text": {"type": "plain_text", "text": "Share with channel", "emoji": True}}


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

    parts = _pack(_units(result), max_chars, max_blocks - len(head) - len(tail) - 1)
    messages = []
    for i, units in enumerate(parts):
        blocks = head if i == 0 else [_context(f"_(continued, {i + 1}/{len(parts)})_")]
        blocks = blocks + [b for u in units for b in u.quote_blocks()] + [{"type": "divider"}] + _source_blocks(units)
        if i == len(parts) - 1:
            blocks += tail
        text = escape("\n".join(line for u in units for line in u.fallback()))
        messages.append(SlackMessage(text=clip(text, MAX_FALLBACK_CHARS), blocks=blocks[:max_blocks]))
    return messages


def notice_message(text: str, mrkdwn: bool = False) -> SlackMessage:
    """A short notice (refusal, apology, help) in one section; escaped unless it is our own mrkdwn."""
    body = text if mrkdwn else escape(text)
    return SlackMessage(text=body, blocks=[_section(body)])


def apology_message() -> SlackMessage:
    return notice_message(APOLOGY_TEXT)
