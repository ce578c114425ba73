"""Language-aware hybrid retrieval: dense cosine plus BM25 only where BM25 can see.

Naive reciprocal-rank fusion treats BM25's ranking as equally informative everywhere; across
scripts it is close to noise (an English question shares almost no tokens with a Hindi
paragraph), so RRF drags the dense ranking down (XQuAD en→hi P@1 0.896 → 0.258). Here the
dense cosine is the base score and BM25, max-normalised within each passage language, is
added with a weight that depends on whether the passage is in the question's language.
BM25 then sharpens same-language ranking (names, numbers, rare words) without being able
to outvote the dense model where it has nothing to say. See BENCHMARKS.md for the numbers.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from index import dense
from index.config import IndexSettings
from index.embargo import Embargoes
from index.embed import Embedder
from index.store import Index
from index.text import detect_lang


@dataclass
class Hit:
    pid: int
    score: float
    dense: float
    bm25: float  # normalised to [0, 1] within the passage's language


def fuse(dense_scores: np.ndarray, bm25_norm: np.ndarray, same_lang: np.ndarray, settings: IndexSettings) -> np.ndarray:
    weights = np.where(same_lang, settings.bm25_weight_same, settings.bm25_weight_cross)
    return dense_scores + weights * bm25_norm


class Retriever:
    def __init__(self, index: Index, embedder: Embedder, settings: IndexSettings,
                 clock: Callable[[], datetime | None] | None = None):
        """`clock`: the moment embargoes are checked against when a search names none (None, or a
        clock returning None: the real time; `khabar ask --as-of` sets one)."""
        self.index = index
        self.clock = clock
        self.embedder = embedder
        self.settings = settings
        self.passage_langs = index.passages.langs
        self.live = index.passages.live  # False for passages of deleted articles (`khabar build --delete`)
        self.langs = sorted(set(self.passage_langs[self.live].tolist()))
        #: Each passage's language as an index into `langs`; -1 for deleted passages.
        self.lang_code = np.full(len(self.live), -1, np.int8)
        for code, lang in enumerate(self.langs):
            self.lang_code[(self.passage_langs == lang) & self.live] = code
        self.selector = dense.only(self.live)
        #: Articles exported with `embargo_until`: left out of every search until their time.
        self.embargoes = Embargoes(index)
        self._embargo_selector: tuple[int, np.ndarray, object] | None = None

    def live_at(self, as_of: datetime | None = None):
        """(passages that may be returned at `as_of`, their faiss selector): the live ones less those
        under embargo then (`as_of` None: the clock's time)."""
        if not self.embargoes:
            return self.live, self.selector
        at = as_of if as_of is not None else (self.clock() if self.clock else None)
        blocked = self.embargoes.blocked(at)
        if blocked is None:
            return self.live, self.selector
        step = self.embargoes.step(at)
        cached = self._embargo_selector
        if cached is None or cached[0] != step:
            live = self.live & ~blocked
            cached = self._embargo_selector = (step, live, dense.only(live))
        return cached[1], cached[2]

    def embed_query(self, text: str) -> np.ndarray:
        return self.embedder.queries([text])[0]

    def bm25_normalised(self, query: str, live: np.ndarray | None = None) -> np.ndarray:
        """BM25 of every passage divided by the best score among passages of its language; 0 for
        passages not in `live` (default: all live ones), which never set the scale either."""
        raw = self.index.bm25.scores(query)
        out = np.zeros_like(raw)
        hit = np.flatnonzero(raw)  # a small share of a big archive: work on those only
        codes, values = self.lang_code[hit], raw[hit]
        if live is not None:
            codes = np.where(live[hit], codes, -1)
        for code in range(len(self.langs)):
            mine = codes == code
            top = float(values[mine].max()) if mine.any() else 0.0
            if top > 0:
                out[hit[mine]] = values[mine] / top
        return out

    def search(self, query: str, k: int = 10, qvec: np.ndarray | None = None,
               lang: str | None = None, mode: str = "hybrid", per_language: int = 0,
               exclude_docs: frozenset[str] = frozenset(), as_of: datetime | None = None) -> list[Hit]:
        """Top-k passages, best first. `mode` is "hybrid", "dense" or "bm25" (the last two for
        evaluation). `per_language`: also keep the best that many passages of every language,
        so a fact reported only in the other language still reaches the answerer.
        `exclude_docs`: articles to leave out (evaluation asks with the gold article gone).
        `as_of`: the moment embargoes are checked against (zone-aware; None: the retriever's
        clock, else now): an article under embargo then is in no candidate set."""
        if not self.index.passages:
            return []
        live, selector = self.live_at(as_of)
        qlang = lang or detect_lang(query)
        n_cand = max(k, self.settings.candidates)
        bm25 = self.bm25_normalised(query, live if live is not self.live else None) if mode != "dense" else \
            np.zeros(len(self.index.passages), np.float32)
        cands: set[int] = set()
        if mode != "bm25":
            qvec = self.embed_query(query) if qvec is None else qvec
            ids, _ = dense.search(self.index.faiss_index, qvec, n_cand, self.settings, selector)
            cands.update(int(i) for i in ids)
        if mode != "dense":
            hit = np.flatnonzero(bm25)
            if hit.size:
                cands.update(int(i) for i in hit[np.argpartition(-bm25[hit], min(n_cand, hit.size - 1))[:n_cand]])
        cands = {i for i in cands if live[i]}
        if not cands:
            return []
        cand = np.fromiter(cands, dtype=np.int64)
        if mode == "bm25":
            d = np.zeros(len(cand), np.float32)
            scores = bm25[cand]
        else:
            d = np.asarray(self.index.passage_vectors[cand], dtype=np.float32) @ qvec
            scores = d if mode == "dense" else fuse(d, bm25[cand], self.passage_langs[cand] == qlang, self.settings)
        order = np.argsort(-scores, kind="stable")
        if exclude_docs:
            order = [i for i in order if self.index.passages[int(cand[i])].doc_id not in exclude_docs]
        chosen = list(order[:k])
        if per_language:
            langs = self.passage_langs[cand]
            for lang_ in self.langs:
                chosen += [i for i in order if langs[i] == lang_][:per_language]
        chosen = sorted(set(chosen), key=lambda i: -scores[i])
        return [Hit(int(cand[i]), float(scores[i]), float(d[i]), float(bm25[cand[i]])) for i in chosen]
