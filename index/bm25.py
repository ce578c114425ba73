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


class BM25:
    def __init__(self, retriever: bm25s.BM25):
        self.retriever = retriever

    @classmethod
    def build(cls, texts: list[str], k1: float, b: float) -> "BM25":
        retriever = bm25s.BM25(k1=k1, b=b, method="lucene")
        # An empty token list would make bm25s drop the document and shift every id after it.
        corpus = [search_terms(t) or ["\u2205"] for t in texts]
        retriever.index(corpus, show_progress=False)
        return cls(retriever)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every passage (0 where no query term occurs)."""
        tokens = [t for t in dict.fromkeys(search_terms(query)) if t in self.retriever.vocab_dict]
        if not tokens:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self.retriever.get_scores(tokens), dtype=np.float32)

    def idf(self, tokens: list[str]) -> dict[str, float]:
        """Lucene-style idf per token; a token the index never saw gets the rarest possible weight."""
        n = self.size
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
        return int(self.retriever.scores["num_docs"])

    def save(self, folder: Path) -> None:
        self.retriever.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path, mmap: bool = False) -> "BM25":
        return cls(bm25s.BM25.load(str(folder), mmap=mmap, show_progress=False))
