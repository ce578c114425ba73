"""The decision over the reader's logits (bot/decision.py) and what the reader reads of a follow-up."""
from __future__ import annotations

import json

import numpy as np
import pytest

from bot.conversation import anchor_subject, reader_question
from bot.decision import DECISION_FEATURES, Decision, decision_row
from bot.scorer import Linear, ScorerError


def _decision(**kw) -> Decision:
    n = len(DECISION_FEATURES)
    cal = Linear(DECISION_FEATURES, np.zeros(n, np.float32), np.ones(n, np.float32),
                 np.eye(n, dtype=np.float32)[0], 0.0)  # confidence = sigmoid(reader_top)
    return Decision(cal, **kw)


def test_three_tiers_by_confidence():
    d = _decision(answer_at=0.6, not_sure_at=0.3)
    assert d.tier(0.9) == "answer" and d.tier(0.6) == "answer"
    assert d.tier(0.45) == "not_sure" and d.tier(0.3) == "not_sure"
    assert d.tier(0.1) == "none" and d.tier(float("nan")) == "none"


def test_confidence_reads_the_reader_top_logit():
    d = _decision()
    row = decision_row(np.array([2.0, -1.0]), 0.5, True, False, 0.0, False, 0.1)
    assert row.shape == (len(DECISION_FEATURES),)
    assert row[0] == 2.0 and row[1] == 3.0
    assert d.probability(row) == pytest.approx(1 / (1 + np.exp(-2.0)))


def test_blend_adds_the_scorer_below_its_best():
    d = _decision(blend=0.5)
    final = d.final_logits(np.array([1.0, 1.0]), np.array([3.0, 1.0]))
    assert final.tolist() == [1.0, 0.0]


def test_save_load_round_trip_and_clear_errors(tmp_path):
    d = _decision(answer_at=0.7, not_sure_at=0.2, candidates=8, reader_id="reader-x@m")
    d.save(tmp_path / "d.json")
    back = Decision.load(tmp_path / "d.json")
    assert (back.answer_at, back.not_sure_at, back.candidates, back.reader_id) == (0.7, 0.2, 8, "reader-x@m")
    with pytest.raises(ScorerError, match="evaluate.py"):
        Decision.load(tmp_path / "missing.json")
    data = json.loads((tmp_path / "d.json").read_text())
    data["tiers"] = {"answer": 0.1, "not_sure": 0.5}
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(ScorerError, match="out of range"):
        Decision.load(tmp_path / "bad.json")


def test_shipped_decision_loads():
    d = Decision.load()
    assert 0 <= d.not_sure_at <= d.answer_at <= 1 and d.candidates >= 1 and d.reader_id


@pytest.mark.parametrize("question, anchor, expected", [
    ("Till when will she stay?", "Who is Mahima Kaul?", "Till when will Mahima Kaul stay?"),
    ("What is his role?", "Who is Ravi Shankar Prasad?", "What is Ravi Shankar Prasad's role?"),
    ("उनके पद का क्या नाम है?", "महिमा कौल कौन हैं?", "महिमा कौल के पद का क्या नाम है?"),
    ("वह कब तक रहेंगी?", "महिमा कौल कौन हैं?", "महिमा कौल कब तक रहेंगी?"),
    ("Why?", "Why did Twitter block accounts?", "Why did Twitter block accounts? Why?"),
])
def test_a_followup_is_read_with_its_antecedent(question, anchor, expected):
    assert reader_question(question, anchor, True) == expected


def test_a_self_contained_question_is_read_as_asked():
    assert reader_question("Who is Mahima Kaul?", "Who is Mahima Kaul?", False) == "Who is Mahima Kaul?"
    assert anchor_subject("what happened?") is None
