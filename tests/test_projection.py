"""The learned token projection: its file, clear errors, what it computes, and training it on real token vectors."""
import sys
from pathlib import Path

import numpy as np
import pytest

from bot.projection import DEFAULT_PROJECTION, ProjectionError, TokenProjection
from bot.scorer import Scorer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))


def test_shipped_projection_is_trained_for_the_bundled_model_and_the_scorer_records_it(embedder):
    projection = TokenProjection.load(dim=embedder.dim)
    assert projection.model_id == embedder.model_id
    assert "train_alignment.py" in projection.meta["command"]
    assert not np.allclose(projection.matrix, np.eye(embedder.dim))  # trained, not the identity
    assert (Scorer.load().meta or {}).get("projection") == projection.digest()


def test_identity_is_the_plain_mean_of_best_matches():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(4, 8)).astype(np.float32)
    s = rng.normal(size=(6, 8)).astype(np.float32)
    ident = TokenProjection.identity(8)
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    got = (ident.tokens(q) @ ident.tokens(s).T).max(axis=1) @ ident.weights(q)
    assert got == pytest.approx(float((unit(q) @ unit(s).T).max(axis=1).mean()), abs=1e-6)
    assert ident.weights(q).sum() == pytest.approx(1.0)


def test_round_trip_and_digest(tmp_path):
    rng = np.random.default_rng(1)
    p = TokenProjection(rng.normal(size=(8, 5)).astype(np.float32), rng.normal(size=8).astype(np.float32), "m", {"a": 1})
    p.save(tmp_path / "p.npz")
    again = TokenProjection.load(tmp_path / "p.npz", dim=8)
    np.testing.assert_array_equal(again.matrix, p.matrix)
    assert again.digest() == p.digest() != TokenProjection.identity(8).digest()
    assert again.model_id == "m" and again.meta == {"a": 1}


def test_missing_damaged_and_wrong_model_say_what_to_run(tmp_path):
    with pytest.raises(ProjectionError, match="not found.*train_alignment.py"):
        TokenProjection.load(tmp_path / "none.npz")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(ProjectionError, match="not a valid projection file.*retrain"):
        TokenProjection.load(tmp_path / "bad.npz")
    TokenProjection.identity(16).save(tmp_path / "small.npz")
    with pytest.raises(ProjectionError, match="16-dimensional.*384-dimensional.*retrain"):
        TokenProjection.load(tmp_path / "small.npz", dim=384)
    assert DEFAULT_PROJECTION.exists()


def test_training_moves_the_alignment_towards_the_answer_sentence(embedder):
    """Real token vectors of the model: after training, the answer sentence's alignment rises
    relative to the distractor's on the training questions (the loss the script minimises)."""
    from train_alignment import AlignExample, fit_projection

    sentences = ["Twitter restored access to 257 accounts after a government order.",
                 "The spokesperson said the safety of employees is a top priority.",
                 "Mahima Kaul resigned as public policy director last week."]
    toks = [embedder.token_vectors(s, embedder.passage_prompt) for s in sentences]
    sent_vecs = [v[o[:, 1] > 0] for v, o in toks]
    asked = [("How many accounts were restored?", 0), ("What did the spokesperson say?", 1),
             ("Who resigned from Twitter?", 2)]
    examples = []
    for q, gold in asked:
        v, o = embedder.token_vectors(q, embedder.query_prompt)
        examples.append(AlignExample(0, "en→en", v[o[:, 0] >= 0], sent_vecs, np.arange(3) == gold))

    def margin(p: TokenProjection) -> float:
        out = []
        for e in examples:
            q, w = p.tokens(e.query), p.weights(e.query)
            scores = np.array([(q @ p.tokens(s).T).max(axis=1) @ w for s in e.sentences])
            out.append(scores[e.gold][0] - scores[~e.gold].max())
        return float(np.mean(out))

    trained = fit_projection(examples, epochs=30, lr=3e-3)
    assert margin(trained) > margin(TokenProjection.identity(embedder.dim))
