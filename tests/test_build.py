"""index/build.py: where sentence vectors come from (a pass of their own, or one pass per passage)."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from index.build import build_index
from index.store import load_index

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"


def test_spans_of_one_pass_are_the_mean_of_their_tokens(embedder):
    text = "Twitter blocked 1,178 accounts. The ministry posted on Koo."
    cut = text.index(" The")
    pooled, spans = embedder.passages_and_spans([text], [[(0, cut), (cut + 1, len(text))]])
    assert np.allclose(pooled[0], embedder.passages([text])[0], atol=1e-4)
    first, second = spans[0]
    assert abs(np.linalg.norm(first) - 1) < 1e-4 and abs(np.linalg.norm(second) - 1) < 1e-4
    # The span vector is the mean of the hidden states of exactly the tokens inside the span.
    ids, offsets = embedder._ids_and_offsets("passage: " + text)
    hidden = embedder._hidden(ids, np.ones_like(ids))[0]
    offsets = offsets - len("passage: ")
    inside = (offsets[:, 0] >= 0) & (offsets[:, 1] > offsets[:, 0]) & (offsets[:, 1] <= cut)
    manual = hidden[inside].mean(axis=0)
    assert np.allclose(first, manual / np.linalg.norm(manual), atol=1e-5)
    assert float(first @ second) < 0.999


def test_one_pass_build_embeds_passages_only_and_answers(tmp_path, settings, embedder):
    one_pass = replace(settings.index, sentence_vectors="passage")
    out = tmp_path / "index"
    summary = build_index([SEEDS], out, one_pass, embedder=embedder, progress=False)
    assert summary.embedded == summary.passages + summary.sentences  # all computed, by passage passes
    index = load_index(out)
    assert index.manifest["settings"]["sentence_vectors"] == "passage"
    vecs = np.asarray(index.sentence_vectors, dtype=np.float32)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=2e-3)
    # Rebuilt with the same setting, everything comes from the cache; the other setting re-embeds.
    again = build_index([SEEDS], out, one_pass, embedder=embedder, progress=False)
    assert again.embedded == 0
    separate = build_index([SEEDS], tmp_path / "separate", settings.index, embedder=embedder, progress=False,
                           reuse_from=[out])
    assert separate.embedded == separate.sentences  # passages are shared, sentence vectors are not
