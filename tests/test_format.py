"""Terminal rendering (bot/format.py, the REPL's and the CLI's text) of the three tiers, from the
real engine with the shipped reader; the tiers are moved by a decision file to see each one."""
from __future__ import annotations

from dataclasses import replace

import pytest

from bot.decision import Decision
from bot.format import ABSTAIN_TEXT, NOT_SURE_TEXT, render

QUESTION = "How many accounts did the government order Twitter to block?"


def _engine(settings, embedder, seed_index_dir, tmp_path, answer_at=None, not_sure_at=None):
    from bot.engine import Engine

    shipped = Decision.load()
    path = tmp_path / "decision.json"
    replace(shipped, answer_at=shipped.answer_at if answer_at is None else answer_at,
            not_sure_at=shipped.not_sure_at if not_sure_at is None else not_sure_at).save(path)
    s = replace(settings, answer=replace(settings.answer, decision=path, reader_enabled=True))
    engine = Engine(s, seed_index_dir, embedder=embedder)
    assert engine.reader is not None
    return engine


@pytest.mark.slow
def test_answer_not_sure_and_none_render_and_serialise(settings, embedder, seed_index_dir, tmp_path):
    res = _engine(settings, embedder, seed_index_dir, tmp_path, answer_at=0.0, not_sure_at=0.0).ask(QUESTION)
    assert res.tier == "answer" and res.to_json()["tier"] == "answer"
    text = render(res)
    assert "1,178" in text and NOT_SURE_TEXT not in text

    res = _engine(settings, embedder, seed_index_dir, tmp_path, answer_at=1.0, not_sure_at=0.0).ask(QUESTION)
    out = res.to_json()
    assert out["tier"] == "not_sure" and not out["abstained"] and 1 <= len(out["answers"]) <= 2
    assert render(res).startswith(NOT_SURE_TEXT)

    res = _engine(settings, embedder, seed_index_dir, tmp_path, answer_at=1.0, not_sure_at=1.0).ask(QUESTION)
    out = res.to_json()
    assert out["tier"] == "none" and out["abstained"] and out["answers"] == []
    assert render(res) == ABSTAIN_TEXT


def test_a_result_without_a_tier_follows_abstained():
    from bot.answer import AnswerResult

    assert AnswerResult("q", [], [], abstained=True).tier == "none"
    assert AnswerResult("q", [], [], abstained=False).tier == "answer"
