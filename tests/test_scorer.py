"""The learned scorer: its weights file, clear errors, and training on questions the pipeline prepared."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from bot.features import QUESTION_FEATURES, SENTENCE_FEATURES
from bot.scorer import DEFAULT_WEIGHTS, Scorer, ScorerError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))


def test_shipped_weights_fit_this_code():
    scorer = Scorer.load()
    assert scorer.sentence.names == SENTENCE_FEATURES and scorer.confidence.names == QUESTION_FEATURES
    assert 0.0 < scorer.threshold < 1.0
    assert "train_scorer.py" in json.loads(DEFAULT_WEIGHTS.read_text())["meta"]["command"] or \
        "evaluate.py" in json.loads(DEFAULT_WEIGHTS.read_text())["meta"]["command"]


def test_missing_damaged_and_stale_weights_say_what_to_run(tmp_path):
    with pytest.raises(ScorerError, match="not found.*train_scorer.py"):
        Scorer.load(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ScorerError, match="not a valid weights file"):
        Scorer.load(tmp_path / "bad.json")
    data = json.loads(DEFAULT_WEIGHTS.read_text())
    data["sentence"]["features"] = data["sentence"]["features"][:-1]
    (tmp_path / "stale.json").write_text(json.dumps(data))
    with pytest.raises(ScorerError, match="retrain it"):
        Scorer.load(tmp_path / "stale.json")


def test_save_and_load_round_trip(tmp_path):
    scorer = Scorer.load()
    scorer.save(tmp_path / "w.json")
    again = Scorer.load(tmp_path / "w.json")
    x = np.random.default_rng(0).normal(size=(5, len(SENTENCE_FEATURES))).astype(np.float32)
    np.testing.assert_allclose(again.logits(x), scorer.logits(x), rtol=1e-4, atol=1e-4)
    assert again.threshold == pytest.approx(scorer.threshold, abs=1e-4)


def test_training_on_prepared_seed_questions_ranks_the_answers(engine):
    """fit() on questions prepared by the serving pipeline puts the answering sentence first."""
    from train_scorer import Example, fit

    pipeline = engine._served.pipeline
    asked = [("How many accounts did the government order Twitter to block?", "1,178"),
             ("Who is Mahima Kaul?", "Mahima Kaul"), ("महिमा कौल कौन हैं?", "महिमा कौल"),
             ("Under which section of the IT Act were the directions issued?", "69A"),
             ("Till when will Mahima Kaul stay in her role?", "March"),
             ("How many legal demands did Twitter receive between January and June 2020?", "2,800")]
    examples = []
    for article, (question, gold_text) in enumerate(asked * 3):
        prep = pipeline.prepare(question)
        gold = np.array([gold_text in engine.index.sentences[int(s)].text for s in prep.candidates.sids])
        assert gold.any(), question
        examples.append(Example("seeds", article % 6, question, "answerable", prep, gold))
    scorer = fit(examples, inner_folds=3)
    right = [e.gold[int(np.argmax(scorer.logits(e.prepared.candidates.features)))] for e in examples]
    assert np.mean(right) >= 0.8
