"""Search the hybrid fusion weights on XQuAD, against RRF and each retriever alone.

    python scripts/tune_retrieval.py --xquad ../shared/eval/xquad-dev [--work DIR]

For every setting it prints paragraph P@1 of BM25, dense, reciprocal-rank fusion (k=60) and
the language-aware fusion of `index.retrieve.fuse` over a grid of (same, cross) BM25 weights.
The chosen weights must keep the hybrid ≥ its best part in every setting.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.config import load_settings  # noqa: E402
from xquad_dev import SETTINGS, build_corpus_index, load_xquad  # noqa: E402
from index.embed import Embedder  # noqa: E402
from index.retrieve import Retriever, fuse  # noqa: E402
from index.text import detect_lang  # noqa: E402

SAME = [0.0, 0.02, 0.04, 0.06, 0.08, 0.1]
CROSS = [0.0, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08]
RRF_K = 60


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--xquad", type=Path, required=True)
    ap.add_argument("--work", type=Path, default=Path(__file__).resolve().parent.parent / ".khabar" / "eval")
    args = ap.parse_args(argv)
    settings = load_settings()
    embedder = Embedder(settings.index)
    data = load_xquad(args.xquad)
    qs = data["questions"]
    table = {}
    for setting, (qlang, langs) in SETTINGS.items():
        idx = build_corpus_index(data["paragraphs"], langs, args.work, settings, embedder)
        r = Retriever(idx, embedder, settings.index)
        key = np.array([idx.passages[p].doc_id.split("-", 1)[1] for p in range(len(idx.passages))])
        texts = [q["q"][l] for q in qs for l in ([qlang] if qlang else ["en", "hi"])]
        golds = [q["key"] for q in qs for _ in ([qlang] if qlang else ["en", "hi"])]
        qv = embedder.queries(texts)
        pv = np.asarray(idx.passage_vectors)
        counts = {"bm25": 0, "dense": 0, "rrf": 0}
        grid = {(a, b): 0 for a in SAME for b in CROSS}
        for text, gold, v in zip(texts, golds, qv):
            d = pv @ v
            b = r.bm25_normalised(text)
            counts["dense"] += key[np.argmax(d)] == gold
            counts["bm25"] += key[np.argmax(b)] == gold if b.max() > 0 else 0
            rank_d = np.argsort(np.argsort(-d))
            rank_b = np.argsort(np.argsort(-b))
            counts["rrf"] += key[np.argmax(1 / (RRF_K + rank_d) + 1 / (RRF_K + rank_b))] == gold
            same = r.passage_langs == detect_lang(text)
            for (a, c) in grid:
                settings.index.bm25_weight_same, settings.index.bm25_weight_cross = a, c
                grid[(a, c)] += key[np.argmax(fuse(d, b, same, settings.index))] == gold
        n = len(texts)
        table[setting] = {k: v / n for k, v in counts.items()} | {k: v / n for k, v in grid.items()}
        print(setting, {k: round(v / n, 3) for k, v in counts.items()}, flush=True)
    print("\nsame  cross  " + "  ".join(f"{s:>6s}" for s in SETTINGS) + "   min(hybrid - best part)")
    for a in SAME:
        for c in CROSS:
            row = [table[s][(a, c)] for s in SETTINGS]
            margin = min(table[s][(a, c)] - max(table[s]["bm25"], table[s]["dense"]) for s in SETTINGS)
            print(f"{a:4.3f} {c:5.3f}  " + "  ".join(f"{x:6.3f}" for x in row) + f"   {margin:+.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
