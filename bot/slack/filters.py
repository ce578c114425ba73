"""Who Khabar answers, and which messages are meant for it: pure functions over Slack events.

- A message is **addressed** to Khabar when it mentions it, is a DM, or is a reply in a thread
  Khabar answered in that reads as a question to it (an interrogative, a "?", a Hindi or
  romanised question word, a follow-up that leans on the last answer) and names no colleague.
  Chat, thanks, emoji and words to colleagues are not; the core's `asks_something` decides,
  so the CLI, the REPL and Slack agree on what a question is.
- The **policy**: `allowed_users` (empty: everyone) and `allowed_channels` (empty: every
  channel Khabar is in) both apply, DMs included; a listed user may always DM it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from bot.understand import asks_something

_USER_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")

#: Message subtypes that carry a person's words; every other subtype (joins, topic changes,
#: edits, deletions...) is not a question (edits and deletions have listeners of their own).
HUMAN_SUBTYPES = (None, "thread_broadcast", "file_share")


def is_from_bot(event: dict, bot_user_id: str | None) -> bool:
    """Another bot, an app, or Khabar itself."""
    return bool(event.get("bot_id") or event.get("subtype") == "bot_message" or event.get("bot_profile")
                or (bot_user_id and event.get("user") == bot_user_id))


def is_dm(event: dict) -> bool:
    return event.get("channel_type") == "im" or str(event.get("channel") or "").startswith("D")


def mentions(text: str) -> list[str]:
    return _USER_MENTION.findall(text or "")


def mentions_bot(text: str, bot_user_id: str | None) -> bool:
    return bool(bot_user_id) and bot_user_id in mentions(text)


def thread_reply_for_bot(raw_text: str, plain_text: str, bot_user_id: str | None) -> bool:
    """A reply in a followed thread is for Khabar when it names no one else and asks something."""
    others = [u for u in mentions(raw_text) if u != bot_user_id]
    return not others and asks_something(plain_text)


@dataclass(frozen=True)
class Policy:
    allowed_channels: frozenset[str]
    allowed_users: frozenset[str]

    @classmethod
    def from_lists(cls, channels: list[str], users: list[str]) -> "Policy":
        return cls(frozenset(c.strip() for c in channels if c.strip()),
                   frozenset(u.strip() for u in users if u.strip()))

    def allows(self, channel: str | None, user: str | None, dm: bool) -> bool:
        if self.allowed_users and user not in self.allowed_users:
            return False
        if not self.allowed_channels or channel in self.allowed_channels:
            return True
        # A DM is allowed when its channel is listed, or when its person is listed by name.
        return dm and bool(self.allowed_users) and user in self.allowed_users

    def refusal(self, dm: bool) -> str:
        if dm:
            return "Khabar is not enabled for you in direct messages. Ask the desk to add you to its allowed users."
        return "Khabar is not enabled in this channel (or for you). Ask in one of its channels."
