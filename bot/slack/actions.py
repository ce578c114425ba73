"""The buttons under an answer and what their values carry.

- 👍/👎 (`ACTION_FEEDBACK_UP` / `_DOWN`): the value is what the feedback log needs (the
  question and the cited sentences), read back by `bot.feedback`; within Slack's 2,000 characters.
- Share with channel (`ACTION_SHARE`, on a /khabar answer): the value carries the question.
- Still need help? (`ACTION_ESCALATE`, under an answer in a channel when `slack.escalate_to` is
  set): the same value as the votes; a click tags the desk in the thread (`desk_mentions`).
- 👎 opens `reason_view`, a modal asking one optional "what was wrong?" (`VIEW_REASON`); its
  private_metadata names the vote (channel, message) the reason belongs to.
"""
from __future__ import annotations

import json

import re

from bot.answer import AnswerResult

ACTION_FEEDBACK_UP = "khabar_feedback_up"
ACTION_FEEDBACK_DOWN = "khabar_feedback_down"
ACTION_SHARE = "khabar_share"
ACTION_ESCALATE = "khabar_escalate"
VIEW_REASON = "khabar_feedback_reason"
REASON_BLOCK, REASON_INPUT = "reason", "text"
MAX_REASON_CHARS = 500
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


def escalate_button(value: str) -> dict:
    return {"type": "button", "action_id": ACTION_ESCALATE, "value": value[:MAX_BUTTON_VALUE],
            "text": {"type": "plain_text", "text": "\U0001F64B Still need help?", "emoji": True}}


def with_escalation(messages: list[dict]) -> list[dict]:
    """The messages with "Still need help?" beside the last message's 👍/👎 (the same value)."""
    if not messages:
        return messages
    for block in messages[-1].get("blocks") or []:
        if block.get("type") == "actions":
            votes = [e for e in block.get("elements", []) if e.get("action_id") == ACTION_FEEDBACK_DOWN]
            if votes:
                block["elements"].append(escalate_button(votes[0]["value"]))
    return messages


_USER_GROUP, _USER = re.compile(r"^S[A-Z0-9]{2,20}$"), re.compile(r"^[UW][A-Z0-9]{2,20}$")


def desk_mentions(ids: list[str]) -> str:
    """`slack.escalate_to` as Slack mentions: `<!subteam^S…>` for a user group, `<@U…>` for a person.
    ValueError, naming the setting, for anything else (a handle or a name is not an id)."""
    out = []
    for raw in ids:
        x = raw.strip()
        if _USER_GROUP.match(x):
            out.append(f"<!subteam^{x}>")
        elif _USER.match(x):
            out.append(f"<@{x}>")
        else:
            raise ValueError(f"setting slack.escalate_to: {raw!r} is neither a user group id (S…) nor a user id "
                             f"(U… or W…); copy the id from the group's or the person's profile in Slack "
                             f"(⋮ → Copy ID), e.g. KHABAR_SLACK_ESCALATE_TO=S0123ABCD")
    return " ".join(out)


def reason_view(channel: str | None, message_ts: str | None) -> dict:
    """The modal 👎 opens: one optional "what was wrong?" line; submitted, it joins the vote."""
    return {"type": "modal", "callback_id": VIEW_REASON,
            "private_metadata": json.dumps({"c": channel, "m": message_ts}),
            "title": {"type": "plain_text", "text": "Not helpful"},
            "submit": {"type": "plain_text", "text": "Send"},
            "close": {"type": "plain_text", "text": "Skip"},
            "blocks": [{"type": "input", "block_id": REASON_BLOCK, "optional": True,
                        "label": {"type": "plain_text", "text": "What was wrong? (optional)"},
                        "element": {"type": "plain_text_input", "action_id": REASON_INPUT, "multiline": True,
                                    "max_length": MAX_REASON_CHARS,
                                    "placeholder": {"type": "plain_text",
                                                    "text": "e.g. an old figure; the 2023 report has the latest"}}}]}
