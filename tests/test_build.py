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
    distinct = {index.sentences[i].text for i in range(len(index.sentences))}
    assert separate.embedded == len(distinct) <= separate.sentences  # passages are shared, sentence vectors are not


class CountingEmbedder:
    """The real embedder, counting the texts it is asked to embed."""

    def __init__(self, embedder):
        self._embedder, self.texts = embedder, 0

    def __getattr__(self, name):
        return getattr(self._embedder, name)

    def passages(self, texts):
        self.texts += len(texts)
        return self._embedder.passages(texts)


def test_a_text_repeated_in_a_build_is_embedded_once(tmp_path, settings, embedder):
    """Wire copy: the same story under two headlines, and a third article sharing one sentence."""
    body = ("The state budget allots Rs 5,000 crore to rural roads. The finance minister presented it on "
            "Monday. Opposition members walked out during the speech.")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "wire-a.txt").write_text(f"Budget for rural roads\n\n{body}\n", encoding="utf-8")
    (corpus / "wire-b.txt").write_text(f"Rs 5,000 crore for roads\n\n{body}\n", encoding="utf-8")
    (corpus / "other.txt").write_text("Monsoon arrives early\n\nThe monsoon reached Mumbai two days early. "
                                      "The finance minister presented it on Monday.\n", encoding="utf-8")
    counting = CountingEmbedder(embedder)
    summary = build_index([corpus], tmp_path / "index", settings.index, embedder=counting, progress=False)
    total = summary.passages + summary.sentences
    index = load_index(tmp_path / "index")
    vecs = np.asarray(index.sentence_vectors, dtype=np.float32)
    texts = [index.sentences[i].text for i in range(len(vecs))]
    assert len(set(texts)) == summary.sentences - 4  # wire-b's three body sentences, other.txt's minister one
    assert summary.embedded == counting.texts == summary.passages + len(set(texts)) < total
    assert summary.reused == total - summary.embedded
    first = {t: i for i, t in reversed(list(enumerate(texts)))}
    for i, t in enumerate(texts):  # a repeated sentence has exactly the vector of its first copy
        assert np.array_equal(vecs[i], vecs[first[t]])
