"""BM25 over our own Hindi/English tokens, served by bm25s, updated in place.

    texts ─▶ terms (`index.text.search_terms`) ─▶ term counts ─▶ scores ─▶ bm25s's sparse matrix

bm25s is fed pre-tokenised text from `index.text.search_terms` (analysed terms plus cross-script
keys) so index and query analysis can never drift apart; its sparse matrix answers a query in
milliseconds at 1M passages, where rank-bm25 (kept as the test oracle) needs seconds.

The term counts (each posting's term frequency, each passage's length) are kept beside bm25s's
files, so an update (`BM25.updated`) analyses only the passages it adds and recomputes every
score from the counts in one vectorised pass: N, the document frequencies and the mean length
are a full build's, and so is every score, because a full build computes them with the same
pure function (`lucene_scores`).
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import bm25s
import numpy as np

from index.progress import bar, ticking
from index.text import search_terms

log = logging.getLogger(__name__)
logging.getLogger("bm25s").setLevel(logging.WARNING)


#: Beside bm25s's files: which passage each indexed document is, when not all passages are.
PIDS_FILE = "khabar_pids.npy"
#: Beside bm25s's files: each posting's term frequency (aligned with bm25s's `indices`) and each
#: indexed document's length in terms. An index without them is updated by a full BM25 rebuild.
TF_FILE, LENGTHS_FILE = "khabar_tf.npy", "khabar_lengths.npy"
#: What an empty passage is indexed as, so that no document is dropped and no id shifts.
EMPTY = "\u2205"


@dataclass
class TermCounts:
    """Postings by term, as bm25s's CSC matrix holds its scores: term t's postings are
    `docs[indptr[t]:indptr[t+1]]` (ascending document positions) with frequencies `tf[...]`."""
    vocab: dict[str, int]
    indptr: np.ndarray   # int64, len(vocab) + 1
    docs: np.ndarray     # int32, document positions
    tf: np.ndarray       # uint16, term frequency of each posting
    lengths: np.ndarray  # int32, terms in each indexed document

    @property
    def n_docs(self) -> int:
        return len(self.lengths)


def count_terms(token_lists: list[list[str]], vocab: dict[str, int] | None = None, first_doc: int = 0
                ) -> TermCounts:
    """Term counts of tokenised documents numbered from `first_doc`; terms new to `vocab` get
    the next ids (the dict given is extended in place)."""
    vocab = {} if vocab is None else vocab
    terms, docs, tfs, lengths = [], [], [], np.zeros(len(token_lists), dtype=np.int32)
    for i, tokens in enumerate(token_lists):
        tokens = tokens or [EMPTY]
        lengths[i] = len(tokens)
        for term, n in Counter(tokens).items():
            terms.append(vocab.setdefault(term, len(vocab)))
            docs.append(first_doc + i)
            tfs.append(min(n, 65535))
    terms_a = np.asarray(terms, dtype=np.int64)
    order = np.lexsort((np.asarray(docs, dtype=np.int64), terms_a))
    indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
    np.cumsum(np.bincount(terms_a, minlength=len(vocab)), out=indptr[1:])
    return TermCounts(vocab, indptr, np.asarray(docs, dtype=np.int32)[order],
                      np.asarray(tfs, dtype=np.uint16)[order], lengths)


def lucene_scores(counts: TermCounts, k1: float, b: float) -> np.ndarray:
    """Each posting's BM25 score, Lucene's variant (as bm25s's method="lucene"):
    idf(t) · tf / (tf + k1·(1 − b + b·|d| / avg|d|)), idf(t) = ln(1 + (N − df + 0.5) / (df + 0.5))."""
    n = counts.n_docs
    df = np.diff(counts.indptr).astype(np.float64)
    idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
    term_of = np.repeat(np.arange(len(df), dtype=np.int64), np.diff(counts.indptr))
    tf = counts.tf.astype(np.float32)
    norm = (k1 * ((1.0 - b) + b * counts.lengths / counts.lengths.mean())).astype(np.float32)
    return (idf[term_of] * (tf / (norm[counts.docs] + tf))).astype(np.float32)


def merged(old: TermCounts, keep: np.ndarray, new: TermCounts) -> TermCounts:
    """`old`'s documents where `keep` is true (renumbered in order), then `new`'s (numbered from 0,
    over `old.vocab` extended), in one CSC: O(postings), no sort."""
    n_vocab = len(new.vocab)
    position = np.cumsum(keep, dtype=np.int64) - 1  # old position → new position (where kept)
    kept = keep[old.docs]
    old_terms = np.repeat(np.arange(len(old.indptr) - 1, dtype=np.int64), np.diff(old.indptr))[kept]
    old_count = np.bincount(old_terms, minlength=n_vocab)
    new_count = np.diff(new.indptr)
    indptr = np.zeros(n_vocab + 1, dtype=np.int64)
    np.cumsum(old_count + new_count, out=indptr[1:])
    size = int(indptr[-1])
    docs, tf = np.empty(size, dtype=np.int32), np.empty(size, dtype=np.uint16)
    # Within a term, kept old postings first (already ascending), then the new documents' postings.
    old_first = np.zeros(n_vocab + 1, dtype=np.int64)
    np.cumsum(old_count, out=old_first[1:])
    at = indptr[old_terms] + (np.arange(len(old_terms), dtype=np.int64) - old_first[old_terms])
    docs[at], tf[at] = position[old.docs[kept]], old.tf[kept]
    n_kept = int(keep.sum())
    new_terms = np.repeat(np.arange(n_vocab, dtype=np.int64), new_count)
    at = indptr[new_terms] + old_count[new_terms] + (np.arange(len(new_terms)) - new.indptr[new_terms])
    docs[at], tf[at] = new.docs + n_kept, new.tf
    return TermCounts(new.vocab, indptr, docs, tf, np.concatenate([old.lengths[keep], new.lengths]))


def _retriever(counts: TermCounts, k1: float, b: float) -> bm25s.BM25:
    """A bm25s retriever whose sparse matrix holds `lucene_scores` of the counts."""
    retriever = bm25s.BM25(k1=k1, b=b, method="lucene")
    retriever.scores = {"data": lucene_scores(counts, k1, b), "indices": counts.docs,
                        "indptr": counts.indptr, "num_docs": counts.n_docs}
    retriever.vocab_dict = counts.vocab
    retriever.unique_token_ids_set = set(counts.vocab.values())
    retriever.nonoccurrence_array = None  # Lucene's variant has none (BM25L and BM25+ do)
    return retriever


class BM25:
    """`pids`: the passage id of each indexed document, where some passages are left out (an
    updated index indexes live passages only, so N and the mean length match a full build's).
    `counts`: the term counts an update starts from (None for an index written without them)."""

    def __init__(self, retriever: bm25s.BM25, pids: np.ndarray | None = None, n_passages: int | None = None,
                 counts: TermCounts | None = None):
        self.retriever = retriever
        self.pids = pids
        self.counts = counts
        self._size = int(retriever.scores["num_docs"]) if n_passages is None else n_passages

    @classmethod
    def build(cls, texts: list[str], k1: float, b: float, live: np.ndarray | None = None,
              progress: bool = False) -> "BM25":
        pids = None if live is None or live.all() else np.flatnonzero(live).astype(np.int64)
        kept = texts if pids is None else [texts[i] for i in pids]
        with bar(progress, "BM25", total=len(kept), unit="passage") as analysed:
            counts = count_terms([search_terms(t) for t in ticking(kept, analysed)])
        return cls(_retriever(counts, k1, b), pids, len(texts), counts)

    def updated(self, added: list[str], live: np.ndarray, k1: float, b: float, progress: bool = False) -> "BM25":
        """This index after an update: `added` are the texts of the passages appended (the last
        len(added) of `live`, which says for every passage whether it is still served). Only the
        added texts are analysed; every score is recomputed from the counts."""
        if self.counts is None:
            raise ValueError("this BM25 index has no term counts (written before they were kept); rebuild it")
        n_before = self.size
        if len(live) != n_before + len(added):
            raise ValueError(f"live covers {len(live)} passages, expected {n_before} + {len(added)} added")
        indexed = np.arange(n_before, dtype=np.int64) if self.pids is None else np.asarray(self.pids, dtype=np.int64)
        keep = live[indexed]
        new_pids = n_before + np.flatnonzero(live[n_before:])
        vocab = dict(self.counts.vocab)
        with bar(progress, "BM25", total=len(new_pids), unit="passage") as analysed:
            new = count_terms([search_terms(added[i - n_before]) for i in ticking(new_pids, analysed)], vocab)
        counts = merged(self.counts, keep, new)
        all_pids = np.concatenate([indexed[keep], new_pids])
        pids = None if live.all() else all_pids
        return BM25(_retriever(counts, k1, b), pids, len(live), counts)

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
        folder = Path(folder)
        self.retriever.save(str(folder), show_progress=False)
        if self.pids is not None:
            np.save(folder / PIDS_FILE, np.concatenate([[self._size], self.pids]))
        if self.counts is not None:
            np.save(folder / TF_FILE, self.counts.tf)
            np.save(folder / LENGTHS_FILE, self.counts.lengths)

    @classmethod
    def load(cls, folder: Path, mmap: bool = False) -> "BM25":
        folder = Path(folder)
        retriever = bm25s.BM25.load(str(folder), mmap=mmap, show_progress=False)
        counts = None
        if (folder / TF_FILE).exists() and (folder / LENGTHS_FILE).exists():
            mode = "r" if mmap else None
            s = retriever.scores
            counts = TermCounts(retriever.vocab_dict, s["indptr"], s["indices"],
                                np.load(folder / TF_FILE, mmap_mode=mode), np.load(folder / LENGTHS_FILE, mmap_mode=mode))
        path = folder / PIDS_FILE
        if not path.exists():
            return cls(retriever, counts=counts)
        stored = np.load(path)
        return cls(retriever, stored[1:], int(stored[0]), counts)
