"""BM25 updated in place (issue 22): an `--add` of a small share at 1M passages, in one run.

    python scripts/bench_bm25_update.py [--passages 1000000] [--add-share 0.001] [--xquad DIR] [--json FILE]

The synthetic archive repeats XQuAD's en/hi paragraphs (and the seeds), each copy given a term of
its own so the vocabulary grows with N as a real archive's does. Its term counts are tiled from
the source paragraphs' counts (analysing 1M passages would take minutes and is not what is
measured). Then, in one run:

1. `BM25.updated`: the added passages analysed, the counts merged, every score recomputed,
   written (what `khabar build --add` now does); that its scores are a full build's to 1e-6 is
   tests/test_bm25.py's and tests/test_update.py's job;
2. the rebuild an update did before: analysing every passage's text (`search_terms`), timed on
   a sample and projected to N (the scoring after it is the same pass as in 1).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.bm25 import BM25, TermCounts, _retriever, count_terms, lucene_scores  # noqa: E402
from index.text import search_terms  # noqa: E402


def source_texts(xquad: Path) -> list[str]:
    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").glob("*.txt"))]
    for lang in ("en", "hi"):
        data = json.loads((xquad / f"xquad.{lang}.json").read_text(encoding="utf-8"))
        texts += [p["context"] for a in data["data"] for p in a["paragraphs"]]
    return texts


def tiled(source: TermCounts, n: int) -> TermCounts:
    """Counts of `n` passages: passage i is source passage i % S plus a term of its own ("copy{i}")."""
    s = source.n_docs
    copies = np.arange(n, dtype=np.int64)
    src = copies % s
    per_doc = np.zeros(s, dtype=np.int64)  # postings of each source passage
    term_of = np.repeat(np.arange(len(source.indptr) - 1), np.diff(source.indptr))
    np.add.at(per_doc, source.docs, 1)
    # Postings of the source by document: (doc, term, tf), doc-major.
    order = np.lexsort((term_of, source.docs))
    d_terms, d_tf = term_of[order], source.tf[order]
    d_start = np.concatenate([[0], np.cumsum(per_doc)])
    lens = per_doc[src] + 1
    starts = np.concatenate([[0], np.cumsum(lens)])[:-1]
    total = int(lens.sum())
    doc = np.repeat(copies, lens)
    within = np.arange(total) - np.repeat(starts, lens)
    own = within == lens[doc] - 1  # the copy's own term, last
    src_of = src[doc]
    idx = d_start[src_of] + np.minimum(within, per_doc[src_of] - 1)
    n_vocab0 = len(source.vocab)
    terms = np.where(own, n_vocab0 + doc, d_terms[idx])
    tf = np.where(own, 1, d_tf[idx]).astype(np.uint16)
    vocab = dict(source.vocab)
    vocab.update({f"copy{i}": n_vocab0 + i for i in range(n)})
    by_term = np.lexsort((doc, terms))
    indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
    np.cumsum(np.bincount(terms, minlength=len(vocab)), out=indptr[1:])
    return TermCounts(vocab, indptr, doc[by_term].astype(np.int32), tf[by_term], (source.lengths[src] + 1).astype(np.int32))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--passages", type=int, default=1_000_000)
    ap.add_argument("--add-share", type=float, default=0.001)
    ap.add_argument("--xquad", type=Path, default=ROOT.parent / "shared" / "eval" / "xquad-dev")
    ap.add_argument("--sample", type=int, default=5000, help="passages analysed to time the old full rebuild")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    k1, b = 1.5, 0.75
    texts = source_texts(args.xquad)
    t = time.perf_counter()
    source = count_terms([search_terms(x) for x in texts])
    counts = tiled(source, args.passages)
    print(f"synthetic: {args.passages:,} passages, {len(counts.docs):,} postings, {len(counts.vocab):,} terms "
          f"(tiled in {time.perf_counter() - t:.1f} s)", file=sys.stderr)
    base = BM25(_retriever(counts, k1, b), None, args.passages, counts)
    n_add = max(1, int(args.passages * args.add_share))
    added = [f"{texts[i % len(texts)]} update{i}" for i in range(n_add)]
    live = np.ones(args.passages + n_add, dtype=bool)
    live[np.arange(0, args.passages, max(1, args.passages // 50))] = False  # a few retractions too
    with tempfile.TemporaryDirectory() as tmp:
        base.save(Path(tmp) / "v1")
        old = BM25.load(Path(tmp) / "v1", mmap=True)
        t = time.perf_counter()
        new = old.updated(added, live, k1=k1, b=b)
        t_update = time.perf_counter() - t
        t = time.perf_counter()
        new.save(Path(tmp) / "v2")
        t_save = time.perf_counter() - t
    sample = [texts[i % len(texts)] for i in range(args.sample)]
    t = time.perf_counter()
    for x in sample:
        search_terms(x)
    per_passage = (time.perf_counter() - t) / args.sample
    projected = per_passage * (args.passages + n_add)
    t = time.perf_counter()
    lucene_scores(new.counts, k1, b)
    t_score = time.perf_counter() - t
    result = {"passages": args.passages, "added": n_add, "retracted": int((~live[: args.passages]).sum()),
              "postings": int(len(new.counts.docs)),
              "in_place_seconds": round(t_update, 2), "in_place_write_seconds": round(t_save, 2),
              "scoring_pass_seconds": round(t_score, 2),
              "full_rebuild_analysis_seconds_projected": round(projected, 1),
              "analysis_ms_per_passage": round(per_passage * 1e3, 3),
              "speedup_vs_rebuild": round((projected + t_score) / (t_update), 1)}
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
