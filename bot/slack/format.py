"""Answers as Slack messages: Block Kit blocks plus a plain-text fallback.

Layout of an answer (one message):

    > “quoted sentence” [1]
    > also in: “the same fact, other article” [2]
    > “second answer” [3]
    ───────────────────
    [1] Title (linked when the article has a URL) · date · Hindi · sentence 4 · doc_id
    [2] ...
    [👍 Helpful] [👎 Not helpful] ([Share with channel] on a /khabar answer)

Everything that comes from the corpus or from the person asking is escaped for Slack's
mrkdwn (`&`, `<`, `>`), so an article quoting `<!channel>`, `<!here>` or `<@U123>` shows the
text and pings nobody. Block Kit limits are respected: at most 50 blocks a message, 3000
characters a section or context text, 2000 characters a button value.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from bot.answer import Answer, AnswerResult, Citation
from bot.format import ABSTAIN_TEXT, LANG_NAMES

MAX_BLOCKS = 50
MAX_SECTION_CHARS = 3000
MAX_CONTEXT_ELEMENTS = 10
MAX_BUTTON_VALUE = 2000
#: The top-level `text` is what notifications and screen readers show; Slack allows 40k,
#: a notification needs far less.
MAX_FALLBACK_CHARS = 3000

ACTION_FEEDBACK_UP = "khabar_feedback_up"
ACTION_FEEDBACK_DOWN = "khabar_feedback_down"
ACTION_SHARE = "khabar_share"

APOLOGY_TEXT = ("Sorry, something went wrong while I was answering this. "
                "The error has been logged; please try again in a minute.")
HELP_TEXT = ("Ask me about the news archive, in English, Hindi or romanised Hindi, e.g. "
             "\u201cHow many accounts did the government order Twitter to block?\u201d. "
             "Mention me in a channel, DM me, or use /khabar; reply in my thread for follow-ups.")


@dataclass
class SlackMessage:
    """What chat.postMessage / response_url receives: `text` (fallback) and `blocks`."""
    text: str
    blocks: list[dict] = field(default_factory=list)

    def kwargs(self) -> dict:
        out: dict = {"text": self.text}
        if self.blocks:
            out["blocks"] = self.blocks
        return out


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


def _mrkdwn(text: str) -> dict:
    # verbatim: Slack does not auto-link channel names, URLs or @words in this text.
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _section(text: str) -> dict:
    return {"type": "section", "text": _mrkdwn(clip(text, MAX_SECTION_CHARS))}


def _context(texts: list[str]) -> dict:
    return {"type": "context", "elements": [_mrkdwn(clip(t, MAX_SECTION_CHARS)) for t in texts]}


# --- Slack text → the question the engine sees -----------------------------------------------------

_SLACK_LINK = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")


def slack_to_plain(text: str, bot_user_id: str | None = None) -> str:
    """The question as the person typed it: no bot mention, Slack markup turned back into words.

    Incoming message text is itself escaped by Slack (`&amp;`, `&lt;`, `&gt;`) and carries
    mentions and links as `<@U123>`, `<#C123|desk>`, `<https://x|label>`, `<!here>`.
    """
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

    text = _SLACK_LINK.sub(repl, text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    text = " ".join(text.split())
    return text.lstrip(":,;- ").strip()


# --- answers --------------------------------------------------------------------------------------

def _date(c: Citation) -> str:
    return c.date or "undated"


def source_line(n: int, c: Citation) -> str:
    title = escape(c.title or c.doc_id)
    title = f"<{_url(c.url)}|{title}>" if c.url else f"*{title}*"
    parts = [title, escape(_date(c)), escape(LANG_NAMES.get(c.lang, c.lang)), f"sentence {c.sentence}",
             f"`{escape(c.doc_id)}`"]
    return f"*[{n}]* " + " \u00b7 ".join(parts)


def _quote(text: str, n: int, also: bool = False) -> str:
    prefix = "_also in:_ " if also else ""
    return f">{prefix}\u201c{escape(' '.join(text.split()))}\u201d *[{n}]*"


def _numbered(result: AnswerResult) -> list[tuple[Answer, list[tuple[int, str, Citation, bool]]]]:
    """Each answer with its (number, sentence, citation, is_also_in) entries, numbered in reading order."""
    n = 0
    out = []
    for a in result.answers:
        entries = []
        n += 1
        entries.append((n, a.text, a.citation, False))
        for text, c in a.also_in:
            n += 1
            entries.append((n, text, c, True))
        out.append((a, entries))
    return out


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


def answer_message(result: AnswerResult, question: str | None = None, *, asked_by: str | None = None,
                   feedback: bool = True, share_value: str | None = None,
                   max_blocks: int = MAX_BLOCKS) -> SlackMessage:
    """The Slack message for one engine result.

    `question` is shown above the answer (for /khabar and shared answers, where the question
    is not visible just above); `asked_by` is a Slack user id credited in that line.
    """
    question_text = question if question is not None else result.question
    blocks: list[dict] = []
    head: list[dict] = []
    if question is not None:
        who = f"<@{escape(asked_by)}> asked: " if asked_by else "Question: "
        head.append(_context([who + "\u201c" + escape(question) + "\u201d"]))

    tail: list[dict] = []
    if feedback or share_value:
        elements = feedback_buttons(feedback_value(result, question_text)) if feedback else []
        if share_value:
            elements.append(share_button(share_value))
        tail.append({"type": "actions", "block_id": "khabar_actions", "elements": elements})

    if result.abstained or not result.answers:
        blocks = head + [_section(escape(ABSTAIN_TEXT))] + tail
        return SlackMessage(text=ABSTAIN_TEXT, blocks=blocks[:max_blocks])

    numbered = _numbered(result)
    answer_blocks = []
    sources: list[str] = []
    fallback: list[str] = []
    for a, entries in numbered:
        answer_blocks.append(_section("\n".join(_quote(t, n, also) for n, t, _, also in entries)))
        for n, t, c, also in entries:
            sources.append(source_line(n, c))
            fallback.append(f"[{n}] \u201c{' '.join(t.split())}\u201d \u2014 {c.title} ({_date(c)})")
    source_blocks = [_context(sources[i:i + MAX_CONTEXT_ELEMENTS])
                     for i in range(0, len(sources), MAX_CONTEXT_ELEMENTS)]

    room = max_blocks - len(head) - len(tail) - 1  # 1: the divider
    if len(answer_blocks) + len(source_blocks) > room:
        # Too many for one message: keep the best answers whole and say how many were left out.
        def n_sources(k: int) -> int:
            return sum(len(e) for _, e in numbered[:k])

        keep = len(answer_blocks)
        while keep > 1 and keep + -(-n_sources(keep) // MAX_CONTEXT_ELEMENTS) + 1 > room:
            keep -= 1
        left_out = len(answer_blocks) - keep
        answer_blocks = answer_blocks[:keep]
        sources = sources[:n_sources(keep)]
        fallback = fallback[:n_sources(keep)]
        source_blocks = [_context(sources[i:i + MAX_CONTEXT_ELEMENTS])
                         for i in range(0, len(sources), MAX_CONTEXT_ELEMENTS)][: max(0, room - keep - 1)]
        source_blocks.append(_context([f"_{left_out} more answer(s) not shown._" if left_out else
                                       "_More sources not shown._"]))

    blocks = head + answer_blocks + [{"type": "divider"}] + source_blocks + tail
    text = escape("\n".join(fallback))
    return SlackMessage(text=clip(text, MAX_FALLBACK_CHARS), blocks=blocks[:max_blocks])


def notice_message(text: str) -> SlackMessage:
    """A short plain notice (refusal, apology, help): escaped, one section."""
    return SlackMessage(text=escape(text), blocks=[_section(escape(text))])


def apology_message() -> SlackMessage:
    return notice_message(APOLOGY_TEXT)
