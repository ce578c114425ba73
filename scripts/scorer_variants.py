"""Compare choices around the scorer on the same prepared XQuAD questions, held out by article.

    python scripts/scorer_variants.py --xquad ../shared/eval/xquad-dev [--cache FILE] [--names-rule 0 0.34 0.5]

Every question is prepared once by the serving pipeline (`xquad_dev.collect_examples`; `--cache`
keeps them in a pickle so later runs take seconds), then for each variant the scorer is refitted
on 5 folds grouped by article (`train_scorer.fit`) and each question is decided by the fold that
never saw its article, with the same rules as `Pipeline.decide` (`pipeline.refusal`, its
settings varied: the names rule, whether a count question needs a number), then the confidence
threshold. Also reported:
top-1 accuracy with no abstention, for the linear scorer and for gradient-boosted trees on the
same features (does a non-linear model find more in them?).
"""
from __future__ import annotations

import argparse
import pickle
import sys
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bot.config import AnswerSettings  # noqa: E402
from bot.features import question_features  # noqa: E402
from bot.pipeline import refusal  # noqa: E402
from train_scorer import fit, fit_sentence_model, folds_by_article  # noqa: E402


def load_examples(args):
    if args.cache and args.cache.exists():
        return pickle.loads(args.cache.read_bytes())
    from bot.config import load_settings
    from xquad_dev import collect_examples
    from index.embed import Embedder

    from train_alignment import out_of_fold

    settings = load_settings()
    embedder = Embedder(settings.index)
    examples = collect_examples(args.xquad, args.work, settings, embedder, folds=out_of_fold(args.xquad, embedder, 5))
    for e in examples:
        e.pipeline = None  # the index does not pickle; decisions below need only the features
    if args.cache:
        args.cache.write_bytes(pickle.dumps(examples))
    return examples


def decide_all(examples, fold, rules: AnswerSettings, k: int) -> list[tuple]:
    rows = []
    for held in range(k):
        scorer = fit([e for e, f in zip(examples, fold) if f != held])
        for e, f in zip(examples, fold):
            if f != held:
                continue
            c = e.prepared.candidates
            if c is None:
                rows.append((e.setting, e.kind, False, True))
                continue
            logits = scorer.logits(c.features)
            conf = scorer.probability(question_features(c, logits, e.prepared.understood.romanised))
            right = bool(e.answerable and e.gold is not None and e.gold[int(np.argmax(logits))])
            ruled = refusal(e.prepared.understood, c, logits, rules) is not None
            rows.append((e.setting, e.kind, right, ruled or conf < scorer.threshold))
    return rows


def report(rows) -> None:
    groups = defaultdict(list)
    for r in rows:
        groups[r[0]].append(r)
    for setting, rs in groups.items():
        ans = [r for r in rs if r[1] in ("answerable", "romanised")]
        una = [r for r in rs if r[1] in ("removed", "close")]
        line = f"  {setting:19s}"
        if ans:
            line += (f" accuracy {np.mean([r[2] and not r[3] for r in ans]):.3f}"
                     f"  answerable refused {np.mean([r[3] for r in ans]):.3f}")
        if una:
            line += f"  unanswerable refused {np.mean([r[3] for r in una]):.3f}"
        print(line)


def top1_linear_vs_trees(examples, fold, k: int) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    out = defaultdict(list)
    for held in range(k):
        train = [e for e, f in zip(examples, fold) if f != held]
        linear = fit_sentence_model(train)
        rows = [e for e in train if e.trainable]
        trees = HistGradientBoostingClassifier(max_iter=300, learning_rate=0.05, max_leaf_nodes=15,
                                               l2_regularization=1.0, random_state=0)
        trees.fit(np.concatenate([e.prepared.candidates.features for e in rows]), np.concatenate([e.gold for e in rows]))
        for e, f in zip(examples, fold):
            if f == held and e.answerable and e.prepared.candidates is not None:
                x = e.prepared.candidates.features
                out[e.setting].append((e.gold[int(np.argmax(linear(x)))], e.gold[int(np.argmax(trees.predict_proba(x)[:, 1]))]))
    for setting, r in out.items():
        r = np.array(r)
        print(f"  {setting:19s} linear {r[:, 0].mean():.3f}  trees {r[:, 1].mean():.3f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--xquad", type=Path, required=True)
    ap.add_argument("--work", type=Path, default=ROOT / ".khabar" / "eval")
    ap.add_argument("--cache", type=Path, default=None, help="pickle of the prepared questions (made if absent)")
    ap.add_argument("--names-rule", type=float, nargs="+", default=[0.0, 0.34, 0.5])
    ap.add_argument("--folds", type=int, default=5)
    args = ap.parse_args(argv)
    examples = load_examples(args)
    fold = folds_by_article(examples, args.folds)
    for rule in args.names_rule:
        for counts in (False, True):
            print(f"names rule: abstain when more than {rule:.2f} of the question's names are missing; "
                  f"count questions need a number: {'yes' if counts else 'no'}")
            report(decide_all(examples, fold, replace(AnswerSettings(), abstain_names_missing=rule,
                                                      counts_need_a_number=counts), args.folds))
    print("top-1 accuracy, no abstention: linear listwise scorer vs gradient-boosted trees")
    top1_linear_vs_trees(examples, fold, args.folds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
