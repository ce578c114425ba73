"""Fit the answerer's sentence weights and abstention thresholds on XQuAD, and report them.

    python scripts/tune_answerer.py --xquad ../shared/eval/xquad-dev [--work DIR]

Features come from `Answerer.features` (the code the bot runs), computed once per question;
the weights are then searched on a coarse grid for the best mean answer-sentence accuracy
over the five settings, so no setting is tuned at the others' expense. Thresholds are set so
that at most `--max-refused` of answerable questions are refused, per same/cross language.
It prints the figures; copying chosen values into bot/config.py is a deliberate human step.
"""
from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.answer import FEATURES, Answerer  # noqa: E402
from bot.config import load_settings  # noqa: E402
from index.embed import Embedder  # noqa: E402
from index.retrieve import Retriever  # noqa: E402
from evaluate import SETTINGS, _norm, build_corpus_index, load_xquad  # noqa: E402

GRID = {
    "similarity": [0.0, 0.25, 0.5, 1.0],
    "alignment": [0.0, 0.5, 1.0, 2.0],
    "passage": [1.0, 2.0, 3.0, 4.0],
    "lexical": [0.0, 0.04, 0.08, 0.15],
    "cue": [0.0, 0.02, 0.04],
}


def collect(args, settings, embedder):
    data = load_xquad(args.xquad)
    qs = data["questions"]
    texts = sorted({q["q"][l] for q in qs for l in ("en", "hi")})
    qvec = dict(zip(texts, embedder.queries(texts)))
    rows = {}
    for setting, (qlang, langs) in SETTINGS.items():
        idx = build_corpus_index(data["paragraphs"], langs, args.work, settings, embedder)
        retriever = Retriever(idx, embedder, settings.index)
        answerer = Answerer(idx, settings.answer, embedder)
        article = {d: int(d.split("-")[1]) for d in idx.documents}
        out = []
        for q in qs:
            for l in ([qlang] if qlang else ["en", "hi"]):
                text = q["q"][l]
                hits = retriever.search(text, k=60, qvec=qvec[text])
                sids, feats, _ = answerer.features(text, hits[:10], [qvec[text]])
                gold = np.array([any(_norm(g) in _norm(idx.sentences[s].text)
                                     for g in q["a"].get(idx.sentences[s].lang, q["a"]["en"])) for s in sids])
                others = [h for h in hits if article[idx.passages[h.pid].doc_id] != q["article"]]
                out.append({"feats": feats, "gold": gold, "ans": answerer.best_dense(text, hits[:10]),
                            "unans": answerer.best_dense(text, others[:10])})
        rows[setting] = out
        print(f"collected {setting}: {len(out)} questions", file=sys.stderr)
    return rows


def accuracy(rows, w):
    return {s: float(np.mean([r["gold"][int(np.argmax(r["feats"] @ w))] for r in rs])) for s, rs in rows.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--xquad", type=Path, required=True)
    ap.add_argument("--work", type=Path, default=Path(__file__).resolve().parent.parent / ".khabar" / "eval")
    ap.add_argument("--max-refused", type=float, default=0.02)
    args = ap.parse_args(argv)
    settings = load_settings()
    embedder = Embedder(settings.index)
    rows = collect(args, settings, embedder)
    ceiling = {s: float(np.mean([r["gold"].any() for r in rs])) for s, rs in rows.items()}
    print("ceiling (gold sentence among candidates):", {k: round(v, 3) for k, v in ceiling.items()})
    current = Answerer(None, settings.answer).weights()  # type: ignore[arg-type]
    print("current weights", dict(zip(FEATURES, current.tolist())),
          {k: round(v, 3) for k, v in accuracy(rows, current).items()})
    results = []
    for combo in itertools.product(*(GRID[f] for f in FEATURES)):
        w = np.array(combo, dtype=np.float32)
        acc = accuracy(rows, w)
        results.append((float(np.mean(list(acc.values()))), combo, acc))
    results.sort(key=lambda r: -r[0])
    for mean, combo, acc in results[:8]:
        print(f"mean {mean:.3f}", dict(zip(FEATURES, combo)), {k: round(v, 3) for k, v in acc.items()})
    # Abstention thresholds: same-language and cross-language best dense cosines.
    for kind, i, settings_of_kind in (("same", 0, ["en→en", "hi→hi"]), ("cross", 1, ["en→hi", "hi→en"])):
        ans = np.array([r["ans"][i] for s in settings_of_kind for r in rows[s]])
        unans = np.array([r["unans"][i] for s in settings_of_kind for r in rows[s]])
        t = float(np.quantile(ans, args.max_refused))
        print(f"{kind}: threshold {t:.3f} refuses {np.mean(ans < t):.3f} answerable, "
              f"{np.mean(unans < t):.3f} unanswerable (article removed)")
        for t in (0.76, 0.78, 0.80, 0.82, 0.84):
            print(f"   at {t:.2f}: answerable refused {np.mean(ans < t):.3f}, unanswerable refused {np.mean(unans < t):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
