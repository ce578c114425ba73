"""The buttons under an answer and what their values carry.

- 👍/👎 (`ACTION_FEEDBACK_UP` / `_DOWN`): the value is what the feedback log needs (the
  question and the cited sentences), read back by `bot.feedback`; within Slack's 2,000 characters.
- Share with channel (`ACTION_SHARE`, on a /khabar answer): the value carries the question.
"""
from __future__ import annotations

import json

from bot.answer import AnswerResult

ACTION_FEEDBACK_UP = "khabar_feedback_up"
ACTION_FEEDBACK_DOWN = "khabar_feedback_down"
ACTION_SHARE = "khabar_share"
MAX_BUTTON_VALUE = 2000  # Slack's limit on a button's value


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
