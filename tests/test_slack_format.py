"""Answers as Slack messages: rich_text quotes shown literally, continuous numbering across
messages, Block Kit's limits (checked by the local Slack server's validator)."""
from __future__ import annotations

import json

from bot.answer import Answer, AnswerResult, Citation
from bot.slack.actions import ACTION_FEEDBACK_UP, ACTION_SHARE, feedback_value
from bot.slack.format import HELP_TEXT, answer_messages, help_text, notice_message
from bot.slack.mrkdwn import slack_to_plain
from tests.slack_server import BOT_USER_ID, all_text, block_kit_problem, buttons


def cite(doc: str, n: int = 1, lang: str = "en", url: str | None = None, title: str | None = None) -> Citation:
    return Citation(doc_id=doc, title=title or f"Title of {doc}", date="2021-02-10", lang=lang, sentence=n,
                    score=1.0, url=url)


def result(answers: list[Answer], question: str = "How many accounts?") -> AnswerResult:
    return AnswerResult(question=question, answers=answers, passages=[], abstained=not answers)


def test_one_answer_quotes_cites_and_links_literally():
    r = result([Answer("Twitter blocked <!channel> *1,178* accounts & more.",
                       cite("tw-en", 3, url="https://x.in/a?b=1&c=2", title="Twitter <@U1> story"),
                       also_in=[("ट्विटर ने 1,178 अकाउंट ब्लॉक किए।", cite("tw-hi", 2, "hi"))])])
    [msg] = answer_messages(r)
    assert block_kit_problem(msg.blocks) is None
    text = all_text(msg.blocks)
    assert "\u201cTwitter blocked <!channel> *1,178* accounts & more.\u201d" in text  # literal
    assert " [1]" in text and " [2]" in text and "also in: " in text
    quote = msg.blocks[0]["elements"][0]
    assert quote["type"] == "rich_text_quote" and quote["elements"][-1]["style"] == {"bold": True}
    link = next(e for b in msg.blocks if b["type"] == "rich_text" for s in b["elements"] for e in s["elements"]
                if e["type"] == "link")
    assert link == {"type": "link", "url": "https://x.in/a?b=1&c=2", "text": "Twitter <@U1> story"}
    assert "Hindi" in text and "sentence 2" in text
    doc_ids = [e for b in msg.blocks if b["type"] == "rich_text" for s in b["elements"] for e in s["elements"]
               if e.get("style") == {"code": True}]
    assert [e["text"] for e in doc_ids] == ["tw-en", "tw-hi"]
    assert "<!channel>" not in msg.text and "&lt;!channel&gt;" in msg.text  # the fallback is mrkdwn: escaped
    assert "[1]" in msg.plain() and "1,178" in msg.plain()
    assert json.loads(buttons(msg.blocks)[ACTION_FEEDBACK_UP]["value"])["a"][0][:2] == ["tw-en", 3]


def test_long_answers_continue_numbered_with_buttons_last():
    answers = [Answer(f"Quote {i} " + "केंद्र सरकार *5 crore* & " * 40, cite(f"doc-{i}", i),
                      also_in=[(f"Also {i}", cite(f"also-{i}", i))]) for i in range(30)]
    msgs = answer_messages(result(answers, "q" * 600), "q" * 600, asked_by="UREPORTER1", share_value="x" * 3000)
    assert len(msgs) > 2
    for m in msgs:
        assert block_kit_problem(m.blocks) is None and len(m.blocks) <= 50
        assert len(m.text) <= 3000
    joined = "\n".join(all_text(m.blocks) for m in msgs)
    numbers = [int(x) for x in __import__("re").findall(r" \[(\d+)\]", joined)]
    assert numbers == list(range(1, 61))  # continuous across messages, each quote once
    for i in range(30):
        assert joined.count(f"Quote {i} ") == 1 and joined.count(f"\u201cAlso {i}\u201d") == 1
    assert msgs[0].blocks[0]["elements"][0]["elements"][0] == {"type": "user", "user_id": "UREPORTER1"}
    assert all("continued" in all_text(m.blocks[:1]) for m in msgs[1:])
    assert f"{len(msgs)}/{len(msgs)}" in all_text(msgs[-1].blocks[:1])
    assert set(buttons(msgs[-1].blocks)) >= {ACTION_FEEDBACK_UP, ACTION_SHARE}
    assert not any(buttons(m.blocks) for m in msgs[:-1])
    assert all(len(b.get("value", "")) <= 2000 for b in buttons(msgs[-1].blocks).values())


def test_abstain_is_one_message_and_notices_escape():
    [msg] = answer_messages(result([]))
    assert "Nothing in the archive answers this" in msg.plain() and buttons(msg.blocks)
    notice = notice_message("<!channel> & co")
    assert notice.text == "&lt;!channel&gt; &amp; co" and block_kit_problem(notice.blocks) is None
    assert json.loads(feedback_value(result([]), "q"))["ab"] is True


def test_help_says_where_and_for_whom():
    assert "Mention me" in HELP_TEXT and "admins" not in HELP_TEXT
    text = help_text(["CDESK0001", "D0DM00001"], ["UREPORTER1"])
    assert "<#CDESK0001>" in text and "DMs" in text and "admins listed" in text
    assert "<#" not in help_text(["not an id <!here>"], [])


def test_slack_to_plain_keeps_emoji_and_drops_the_mention():
    assert slack_to_plain(f"<@{BOT_USER_ID}>: Who is <@U999|asha>?", BOT_USER_ID) == "Who is @asha?"
    assert slack_to_plain(":+1: ok", BOT_USER_ID) == ":+1: ok"
    assert slack_to_plain(f"<@{BOT_USER_ID}> -- kitne accounts?", BOT_USER_ID) == "kitne accounts?"
    assert slack_to_plain(f"ask <@{BOT_USER_ID}> this", BOT_USER_ID) == "ask this"
