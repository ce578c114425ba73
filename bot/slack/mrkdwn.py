"""Slack's mrkdwn text both ways: escaping what Khabar sends, reading what people type.

Slack parses `&`, `<` and `>` in mrkdwn as control sequences (entities, mentions, links);
everything else an article contains is shown by rich_text literally (see `format`).
"""
from __future__ import annotations

import re


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


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


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
