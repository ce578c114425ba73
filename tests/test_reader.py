"""The reader (bot/reader.py, bot/reader_model.py, scripts/train_reader.py): its input layout, its
weights file, and a tiny reader trained for a few steps on real dev rows, exported and served."""
from __future__ import annotations

import json
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bot.reader import (BOS, EOS, MAX_TOKENS, QUESTION_TOKENS, SENTENCE_TOKENS, Candidate, Reader, ReaderError,
                        export_dir, pair_ids, read_weights_header)

ROOT = Path(__file__).resolve().parent.parent
XQUAD = ROOT.parent / "shared" / "eval" / "xquad-dev"


def test_pair_layout_is_question_sentence_context():
    ids = pair_ids([10, 11], [20, 21, 22], [30])
    assert ids == [BOS, 10, 11, EOS, EOS, 20, 21, 22, EOS, 30, EOS]


def test_long_parts_are_cut_context_first_then_sentence_then_question():
    ids = pair_ids(list(range(100, 200)), list(range(1000, 1300)), list(range(5000, 5100)))
    assert len(ids) <= MAX_TOKENS
    q = ids[1: ids.index(EOS)]
    assert len(q) == QUESTION_TOKENS
    s = ids[len(q) + 3: ids.index(EOS, len(q) + 3)]
    assert len(s) >= SENTENCE_TOKENS and s[0] == 1000
    # a short question and sentence leave the rest to the context
    short = pair_ids([1], [2], list(range(5000, 5300)))
    assert len(short) == MAX_TOKENS and short[-1] == EOS


def test_missing_or_damaged_weights_say_what_to_run(tmp_path):
    with pytest.raises(ReaderError, match="train_reader.py"):
        read_weights_header(tmp_path / "nope.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ReaderError, match="train_reader.py"):
        read_weights_header(bad)
    np.savez(tmp_path / "nohead.npz", x=np.zeros(2))
    with pytest.raises(ReaderError, match="not a reader weights file"):
        read_weights_header(tmp_path / "nohead.npz")


def test_unexported_reader_is_refused_with_the_export_command(tmp_path, settings):
    from index.embed import resolve_model_path

    from bot.reader_model import HEADER

    w = tmp_path / "w.npz"
    np.savez(w, **{HEADER: np.frombuffer(json.dumps({"base_model": "x", "frozen_layers": 8}).encode(), dtype=np.uint8)})
    reader = Reader(Path(resolve_model_path(settings.index)), w)
    with pytest.raises(ReaderError, match="bot.reader_model"):
        reader.warm_up()


@pytest.mark.slow
def test_a_tiny_reader_trains_exports_and_serves(tmp_path, settings, embedder, seed_index_dir, monkeypatch):
    """A few training steps on real dev rows (the code path, not the quality), the ONNX export equal to
    torch, then an engine that reads with it and answers in a tier."""
    import torch

    sys.path.insert(0, str(ROOT / "scripts"))
    import train_reader
    from bot.decision import DECISION_FEATURES, Decision
    from bot.engine import Engine
    from bot.reader_model import build_reader, export
    from bot.scorer import Linear
    from index.embed import resolve_model_path

    work, weights = tmp_path / "work", tmp_path / "reader.npz"
    rc = train_reader.main(["--xquad", str(XQUAD), "--work", str(work), "--limit-questions", "6",
                            "--no-squad", "--max-steps", "3", "--folds", "2", "--only", "all",
                            "--trained-layers", "1", "--out", str(weights)])
    assert rc == 0 and weights.is_file()
    header = read_weights_header(weights)
    assert header["frozen_layers"] == 11 and header["base_model"] == embedder.model_id
    assert weights.stat().st_size < 50 * 2**20

    model_dir = Path(resolve_model_path(settings.index))
    try:
        export(model_dir, weights)
        reader = Reader(model_dir, weights).warm_up()
        cands = [Candidate("Twitter blocked 1,178 accounts.", "Twitter", "The ministry wrote."),
                 Candidate("ट्विटर ने अकाउंट्स ब्लॉक किए।", "ट्विटर", "")]
        served = reader.run("How many accounts did Twitter block?", cands)
        from bot.reader import encode, padded

        model, _ = build_reader(model_dir, weights)
        ids, mask = padded(encode(reader._tokenizer, "How many accounts did Twitter block?", cands))
        with torch.no_grad():
            direct = model(torch.tensor(ids), torch.tensor(mask)).numpy()
        np.testing.assert_allclose(served, direct, atol=1e-4)

        # Served by the engine: a decision over this reader (every answer "not sure", to see the tier).
        n = len(DECISION_FEATURES)
        decision = Decision(Linear(DECISION_FEATURES, np.zeros(n, np.float32), np.ones(n, np.float32),
                                   np.zeros(n, np.float32), 0.0), answer_at=0.99, not_sure_at=0.1, candidates=4,
                            reader_id=reader.id)
        decision.save(tmp_path / "decision.json")
        s = replace(settings, answer=replace(settings.answer, reader=weights, decision=tmp_path / "decision.json",
                                             reader_enabled=True, reader_precision="fp32"))
        engine = Engine(s, seed_index_dir, embedder=embedder)
        assert engine.reader is not None and engine.reader.id == reader.id
        res = engine.ask("Who is Mahima Kaul?")
        out = res.to_json()
        assert out["tier"] == "not_sure" and out["answers"] and not out["abstained"]
        assert 0 < len(out["answers"]) <= s.answer.not_sure_quotes
        assert out["reason"].startswith("not sure")
    finally:
        shutil.rmtree(export_dir(model_dir, weights), ignore_errors=True)
