"""bm25s serves BM25; rank-bm25 is the oracle it must agree with on the seeds."""
import math

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from index.bm25 import BM25
from index.config import IndexSettings
from index.corpus import read_corpus
from index.passages import passage_text, segment
from index.text import search_terms as tokenize

from conftest import SEEDS

QUERIES = [
    "How many accounts did the government order Twitter to block?",
    "सरकार ने ट्विटर को कितने अकाउंट बंद करने का आदेश दिया?",
    "अकॉउंट्स ब्लॉक",
    "Mahima Kaul public policy director",
    "महिमा कौल इस्तीफा",
    "Section 69A IT Act",
    "farmers protest misinformation Khalistan",
    "Koo microblogging site",
]


class LuceneOkapi(BM25Okapi):
    """rank-bm25's Okapi scoring in Lucene's variant, the one bm25s serves: idf that is always
    positive, and no constant (k1 + 1) factor in the numerator (it scales, never reorders)."""

    def _calc_idf(self, nd):
        for word, freq in nd.items():
            self.idf[word] = math.log(1 + (self.corpus_size - freq + 0.5) / (freq + 0.5))

    def get_scores(self, query):
        return super().get_scores(query) / (self.k1 + 1)


@pytest.fixture(scope="module")
def seed_passages():
    s = IndexSettings()
    docs = read_corpus(SEEDS).documents
    titles = {d.doc_id: d.title for d in docs}
    sentences, passages = segment(docs, s)
    return [f"{titles[p.doc_id]}\n{passage_text(p, sentences)}" for p in passages]


def test_bm25s_ranks_like_rank_bm25(seed_passages):
    s = IndexSettings()
    ours = BM25.build(seed_passages, k1=s.bm25_k1, b=s.bm25_b)
    oracle = LuceneOkapi([tokenize(t) for t in seed_passages], k1=s.bm25_k1, b=s.bm25_b)
    for q in QUERIES:
        got = ours.scores(q)
        want = oracle.get_scores(list(dict.fromkeys(tokenize(q))))
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=q)
        top = np.argsort(-want, kind="stable")[:5]
        assert list(np.argsort(-got, kind="stable")[:5]) == list(top), q


def test_spelling_variants_meet_in_bm25():
    docs = ["ट्विटर ने 1,178 अकाउंट्स बंद किए", "कुछ आकउंट पर रोक लगाई", "मौसम अच्छा है", "किसान आंदोलन जारी"]
    bm = BM25.build(docs, k1=1.2, b=0.75)
    scores = bm.scores("अकॉउंट्स")
    assert scores[0] > 0 and scores[1] > 0 and scores[2] == 0 and scores[3] == 0
    assert bm.scores("१,१७८")[0] > 0  # Devanagari digits meet Latin ones


def test_unknown_and_empty_queries_score_zero(seed_passages):
    bm = BM25.build(seed_passages, k1=1.2, b=0.75)
    assert not bm.scores("zzzqqq xyzzy").any()
    assert not bm.scores("").any()
    assert bm.size == len(seed_passages)


def test_save_and_load_roundtrip(tmp_path, seed_passages):
    bm = BM25.build(seed_passages, k1=1.2, b=0.75)
    bm.save(tmp_path / "bm25")
    again = BM25.load(tmp_path / "bm25")
    np.testing.assert_allclose(again.scores(QUERIES[0]), bm.scores(QUERIES[0]))
    idf = again.idf(["twitter", "neverseen"])
    assert idf["neverseen"] > idf["twitter"] > 0


def _bm25s_own(texts: list[str], k1: float, b: float):
    """bm25s's own indexing of the same terms: the reference our scoring must reproduce."""
    import bm25s

    r = bm25s.BM25(k1=k1, b=b, method="lucene")
    r.index([tokenize(t) or ["\u2205"] for t in texts], show_progress=False)
    return r


def test_scores_are_bm25s_own(seed_passages):
    s = IndexSettings()
    ours, theirs = BM25.build(seed_passages, k1=s.bm25_k1, b=s.bm25_b), _bm25s_own(seed_passages, s.bm25_k1, s.bm25_b)
    for q in QUERIES:
        tokens = [t for t in dict.fromkeys(tokenize(q)) if t in theirs.vocab_dict]
        np.testing.assert_allclose(ours.scores(q), theirs.get_scores(tokens), atol=1e-6)


def test_update_in_place_scores_as_a_full_build(seed_passages, tmp_path):
    """Deleting some passages and adding others to a saved index gives a full build's N, mean
    length and scores (to 1e-6), analysing only the added texts; and again after a reload."""
    s = IndexSettings()
    half = len(seed_passages) // 2
    first, added = seed_passages[:half], seed_passages[half:] + ["Koo gained 10,000 users in a day.", ""]
    BM25.build(first, k1=s.bm25_k1, b=s.bm25_b).save(tmp_path / "v1")
    v1 = BM25.load(tmp_path / "v1", mmap=True)
    live = np.ones(len(first) + len(added), dtype=bool)
    live[[1, 4, half + 2]] = False  # two old passages retracted, one added one deleted at once
    v2 = v1.updated(added, live, k1=s.bm25_k1, b=s.bm25_b)
    full = BM25.build(first + added, k1=s.bm25_k1, b=s.bm25_b, live=live)
    assert v2.size == full.size == len(live)
    assert v2.retriever.scores["num_docs"] == full.retriever.scores["num_docs"] == int(live.sum())
    v2.save(tmp_path / "v2")
    v3 = BM25.load(tmp_path / "v2", mmap=True).updated(["Koo and Twitter, again."], np.append(live, True),
                                                         k1=s.bm25_k1, b=s.bm25_b)
    full3 = BM25.build(first + added + ["Koo and Twitter, again."], k1=s.bm25_k1, b=s.bm25_b,
                       live=np.append(live, True))
    for q in QUERIES + ["Koo users", "again"]:
        np.testing.assert_allclose(v2.scores(q), full.scores(q), atol=1e-6)
        np.testing.assert_allclose(v3.scores(q), full3.scores(q), atol=1e-6)
        assert v2.idf(tokenize(q)) == pytest.approx(full.idf(tokenize(q)), abs=1e-9)
    assert (v2.scores("Koo users")[~live] == 0).all()


def test_update_needs_term_counts(seed_passages, tmp_path):
    s = IndexSettings()
    old = BM25.build(seed_passages, k1=s.bm25_k1, b=s.bm25_b)
    old.counts = None  # an index written before the counts were kept
    with pytest.raises(ValueError, match="rebuild"):
        old.updated(["x"], np.ones(len(seed_passages) + 1, dtype=bool), k1=s.bm25_k1, b=s.bm25_b)
