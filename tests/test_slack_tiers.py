"""The reader's three tiers as Slack shows them, through the real bot against the local Slack server.

The shipped reader answers; a decision file with other tiers (the same reader, so the code path is
the served one) makes the same question "not sure" or "nothing found", to see each rendering.
"""
from __future__ import annotations

import copy
from dataclasses import replace

import pytest

from bot.decision import Decision
from bot.format import ABSTAIN_TEXT, NOT_SURE_TEXT
from tests.slack_server import all_text
from tests.test_slack import TWITTER_Q, Harness, bot_settings, slack  # noqa: F401 - fixtures


def _bot(bot_settings, seed_index_dir, embedder, slack, tmp_path, answer_at: float, not_sure_at: float):
    from bot.runtime import Runtime

    shipped = Decision.load()
    path = tmp_path / f"decision-{answer_at}-{not_sure_at}.json"
    replace(shipped, answer_at=answer_at, not_sure_at=not_sure_at).save(path)
    s = copy.deepcopy(bot_settings)
    s.answer = replace(s.answer, decision=path, reader_enabled=True)
    rt = Runtime(s, seed_index_dir, durable=True, embedder=embedder).start()
    assert rt.engine.reader is not None, "the shipped reader did not load"
    return rt, Harness(s, rt, slack)


@pytest.mark.slow
@pytest.mark.parametrize("answer_at, not_sure_at, tier", [(0.0, 0.0, "answer"), (1.0, 0.0, "not_sure"),
                                                          (1.0, 1.0, "none")])
def test_each_tier_shows_in_slack(bot_settings, seed_index_dir, embedder, slack, tmp_path, answer_at,  # noqa: F811
                                  not_sure_at, tier):
    shipped = Decision.load()
    rt, bot = _bot(bot_settings, seed_index_dir, embedder, slack, tmp_path,
                   shipped.answer_at if answer_at is None else answer_at,
                   shipped.not_sure_at if not_sure_at is None else not_sure_at)
    try:
        ts, _ = bot.mention(TWITTER_Q)
        [call] = bot.answers_in("CDESK0001", ts)
        text = all_text(call.body["blocks"]) + call.body["text"]
        if tier == "answer":
            assert "1,178" in text and "Not sure" not in text and ABSTAIN_TEXT[:20] not in text
        elif tier == "not_sure":
            assert NOT_SURE_TEXT[:40] in text
            quotes = [b for b in call.body["blocks"] if b["type"] == "rich_text"]
            assert quotes, "the closest quotes follow the not-sure line"
        else:
            assert ABSTAIN_TEXT[:30] in text and "1,178" not in text
        bot.idle()
    finally:
        bot.close()
        rt.close()
