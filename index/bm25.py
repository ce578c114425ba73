"""BM25 over our own Hindi/English tokens, served by bm25s.

bm25s is fed pre-tokenised text from `index.text.search_terms` (analysed terms plus
cross-script keys) so index and query analysis can
never drift apart; its sparse matrix answers a query in milliseconds at 1M passages, where
rank-bm25 (kept as the test oracle) needs seconds.
"""
from __future__ import annotations

import logging
from pathlib import Path

import bm25s
import numpy as np

from index.text import search_terms

log = logging.getLogger(__name__)
logging.getLogger("bm25s").setLevel(logging.WARNING)


#: Beside bm25s's files: which passage each indexed document is, when not all passages are.
PIDS_FILE = "khabar_pids.npy"


class BM25:
    """`pids`: the passage id of each indexed document, where some passages are left out (an
    updated index indexes live passages only, so N and the mean length match a full build's)."""

    def __init__(self, retriever: bm25s.BM25, pids: np.ndarray | None = None, n_passages: int | None = None):
        self.retriever = retriever
        self.pids = pids
        self._size = int(retriever.scores["num_docs"]) if n_passages is None else n_passages

    @classmethod
    def build(cls, texts: list[str], k1: float, b: float, live: np.ndarray | None = None) -> "BM25":
        retriever = bm25s.BM25(k1=k1, b=b, method="lucene")
        pids = None if live is None or live.all() else np.flatnonzero(live).astype(np.int64)
        kept = texts if pids is None else [texts[i] for i in pids]
        # An empty token list would make bm25s drop the document and shift every id after it.
        corpus = [search_terms(t) or ["\u2205"] for t in kept]
        retriever.index(corpus, show_progress=False)
        return cls(retriever, pids, len(texts))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every passage (0 where no query term occurs, and for passages left out)."""
        tokens = [t for t in dict.fromkeys(search_terms(query)) if t in self.retriever.vocab_dict]
        if not tokens:
            return np.zeros(self.size, dtype=np.float32)
        raw = np.asarray(self.retriever.get_scores(tokens), dtype=np.float32)
        if self.pids is None:
            return raw
        out = np.zeros(self.size, dtype=np.float32)
        out[self.pids] = raw
        return out

    def idf(self, tokens: list[str]) -> dict[str, float]:
        """Lucene-style idf per token; a token the index never saw gets the rarest possible weight."""
        n = int(self.retriever.scores["num_docs"])
        indptr = self.retriever.scores["indptr"]
        vocab = self.retriever.vocab_dict
        out = {}
        for t in tokens:
            df = int(indptr[vocab[t] + 1] - indptr[vocab[t]]) if t in vocab else 0
            out[t] = float(np.log(1.0 + (n - df + 0.5) / (df + 0.5)))
        return out

    def knows(self, term: str) -> bool:
        """The term (or key) occurs somewhere in the indexed passages."""
        return term in self.retriever.vocab_dict

    @property
    def size(self) -> int:
        """Passages covered (indexed or left out)."""
        return self._size

    def save(self, folder: Path) -> None:
        self.retriever.save(str(folder), show_progress=False)
        if self.pids is not None:
            np.save(Path(folder) / PIDS_FILE, np.concatenate([[self._size], self.pids]))

    @classmethod
    def load(cls, folder: Path, mmap: bool = False) -> "BM25":
        retriever = bm25s.BM25.load(str(folder), mmap=mmap, show_progress=False)
        path = Path(folder) / PIDS_FILE
        if not path.exists():
            return cls(retriever)
        stored = np.load(path)
        return cls(retriever, stored[1:], int(stored[0]))
