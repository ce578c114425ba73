"""Train the answerer's sentence scorer and confidence calibration on XQuAD dev, and write the weights.

    python scripts/train_scorer.py --xquad ../shared/eval/xquad-dev [--work DIR] [--out bot/scorer_weights.json]

Every question goes through `Pipeline.prepare`, the code the bot serves with (same retrieval,
same candidate passages, same features), over the XQuAD settings of scripts/evaluate.py:
answerable questions (en→en, hi→hi, en→hi, hi→en, mixed, split), the same questions with their
article removed, the close-topic unanswerable set and the romanised-Hindi set (scripts/eval_sets/).

* The sentence scorer is a listwise linear model: the softmax of its logits over a question's
  candidates is trained to put its mass on sentences holding the gold answer (L2-regularised,
  L-BFGS).
* The confidence is a logistic regression over QUESTION_FEATURES, trained on out-of-fold logits
  (folds grouped by article), labelled 1 when the top sentence holds the answer.
* The token projection behind the alignment features is trained first (scripts/train_alignment.py
  writes bot/alignment_weights.npz); the scorer is fitted on alignments from per-fold projections,
  each of which never saw the question's article (stacking), and records the shipped one's digest.
* The threshold is the highest confidence at which at most `--max-refused` of the answerable
  questions are refused, again on out-of-fold confidences.

Held-out figures (every question scored by a model that never saw its article) come from
`scripts/evaluate.py --folds 5`, which calls `fit` from here.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bot.features import QUESTION_FEATURES, SENTENCE_FEATURES, question_features  # noqa: E402
from bot.pipeline import refusal  # noqa: E402
from bot.config import AnswerSettings  # noqa: E402
from bot.scorer import DEFAULT_WEIGHTS, Linear, Scorer  # noqa: E402
from train_alignment import fold_of_articles  # noqa: E402
from xquad_dev import Example  # noqa: E402, F401 - fit's examples, prepared there

#: Answerable questions the rules refuse anyway (a name or number missing, a count with no number) are left
#: out when the threshold is chosen: the threshold's budget is for what the rules let through.
RULES = AnswerSettings()


# --- the sentence scorer: listwise softmax regression ------------------------------------------------
def _standardiser(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    return mean, np.where(scale > 1e-6, scale, 1.0)


def fit_sentence_model(examples: list[Example], l2: float = 1e-2) -> Linear:
    train = [e for e in examples if e.trainable]
    x = np.concatenate([e.prepared.candidates.features for e in train]).astype(np.float64)
    gold = np.concatenate([e.gold for e in train])
    sizes = np.array([len(e.gold) for e in train])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    seg = np.repeat(np.arange(len(train)), sizes)
    mean, scale = _standardiser(x)
    z = (x - mean) / scale

    def loss(w):
        logits = z @ w
        top = np.maximum.reduceat(logits, starts)
        e = np.exp(logits - top[seg])
        all_sum = np.add.reduceat(e, starts)
        gold_sum = np.add.reduceat(e * gold, starts)
        value = -np.sum(np.log(gold_sum) - np.log(all_sum)) / len(train) + l2 * w @ w
        p_all = e / all_sum[seg]
        p_gold = e * gold / gold_sum[seg]
        grad = z.T @ (p_all - p_gold) / len(train) + 2 * l2 * w
        return value, grad

    res = minimize(loss, np.zeros(z.shape[1]), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return Linear(SENTENCE_FEATURES, mean.astype(np.float32), scale.astype(np.float32), res.x.astype(np.float32))


#: Evidence that the archive lacks what the question asks can only lower the confidence, and a
#: better-covered question can only raise it: the calibration's coefficients on these are bounded
#: to that sign (L-BFGS-B bounds). Unbounded, collinear features took the wrong sign: three words
#: the archive never printed raised the confidence of an off-topic question.
LOWERS_CONFIDENCE = ("absent_terms", "unmatched_idf", "names_missing")
RAISES_CONFIDENCE = ("top_coverage", "best_coverage")


def _sign_bounds(names: tuple[str, ...]) -> list[tuple[float | None, float | None]]:
    return [(None, 0.0) if n in LOWERS_CONFIDENCE else (0.0, None) if n in RAISES_CONFIDENCE else (None, None)
            for n in names] + [(None, None)]  # the intercept


def fit_confidence(rows: np.ndarray, labels: np.ndarray, l2: float = 1e-2) -> Linear:
    mean, scale = _standardiser(rows.astype(np.float64))
    z = (rows - mean) / scale
    y = labels.astype(np.float64)

    def loss(params):
        w, b = params[:-1], params[-1]
        t = z @ w + b
        p = 1 / (1 + np.exp(-t))
        value = np.mean(np.logaddexp(0, t) - y * t) + l2 * w @ w
        grad_t = (p - y) / len(y)
        return value, np.concatenate([z.T @ grad_t + 2 * l2 * w, [grad_t.sum()]])

    res = minimize(loss, np.zeros(z.shape[1] + 1), jac=True, method="L-BFGS-B", options={"maxiter": 500},
                   bounds=_sign_bounds(QUESTION_FEATURES))
    return Linear(QUESTION_FEATURES, mean.astype(np.float32), scale.astype(np.float32),
                  res.x[:-1].astype(np.float32), float(res.x[-1]))


def folds_by_article(examples: list[Example], k: int) -> list[np.ndarray]:
    """Fold number per example: articles dealt round-robin into k folds."""
    fold_of = fold_of_articles([e.article for e in examples], k)
    return np.array([fold_of[e.article] for e in examples])


def _top_correct(e: Example, logits: np.ndarray) -> bool:
    return bool(e.answerable and e.gold is not None and e.gold[int(np.argmax(logits))])


def question_rows(examples: list[Example], sentence_models: list[Linear], fold: np.ndarray):
    """Question features and labels, each example scored by the sentence model of its fold, and
    whether a rule (`pipeline.refusal`) refuses it whatever the confidence."""
    rows, labels, idx, ruled = [], [], [], []
    for i, e in enumerate(examples):
        c = e.prepared.candidates
        if c is None:
            continue
        logits = sentence_models[fold[i]](c.features)
        rows.append(question_features(c, logits, e.prepared.understood.romanised))
        labels.append(_top_correct(e, logits))
        idx.append(i)
        ruled.append(refusal(e.prepared.understood, c, logits, RULES) is not None)
    return np.array(rows), np.array(labels), np.array(idx), np.array(ruled)


def choose_threshold(conf: np.ndarray, answerable: np.ndarray, max_refused: float) -> float:
    """The highest threshold that refuses at most `max_refused` of the answerable questions."""
    scores = np.sort(conf[answerable])
    return float(scores[int(np.floor(max_refused * len(scores)))]) if len(scores) else 0.5


def fit(examples: list[Example], max_refused: float = 0.04, inner_folds: int = 5, model_id: str | None = None,
        meta: dict | None = None) -> Scorer:
    """A complete scorer from examples: sentence model, calibration on out-of-fold logits, threshold."""
    inner = folds_by_article(examples, inner_folds)
    models = [fit_sentence_model([e for e, f in zip(examples, inner) if f != k]) for k in range(inner_folds)]
    rows, labels, idx, ruled = question_rows(examples, models, inner)
    # Calibration is itself cross-validated so the threshold is chosen on confidences it never fitted.
    conf = np.zeros(len(idx))
    row_fold = inner[idx]
    for k in range(inner_folds):
        model = fit_confidence(rows[row_fold != k], labels[row_fold != k])
        z = model(rows[row_fold == k])
        conf[row_fold == k] = 1 / (1 + np.exp(-z))
    answerable = np.array([examples[i].answerable for i in idx]) & ~ruled
    threshold = choose_threshold(conf, answerable, max_refused)
    return Scorer(sentence=fit_sentence_model(examples), confidence=fit_confidence(rows, labels),
                  threshold=threshold, model_id=model_id, meta=meta)


def main(argv: list[str] | None = None) -> int:
    from bot.projection import TokenProjection
    from train_alignment import out_of_fold
    from xquad_dev import collect_examples

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--xquad", type=Path, required=True, help="folder with xquad.en.json and xquad.hi.json")
    ap.add_argument("--work", type=Path, default=ROOT / ".khabar" / "eval", help="corpora, indexes, cache")
    ap.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS, help="where to write the weights")
    ap.add_argument("--max-refused", type=float, default=0.04,
                    help="share of answerable questions the threshold may refuse (out of fold)")
    args = ap.parse_args(argv)
    from bot.config import load_settings
    from index.embed import Embedder

    settings = load_settings()
    embedder = Embedder(settings.index)
    # Stacked: every question's alignments come from a token projection that never saw its article,
    # as the shipped projection never saw the questions the bot will be asked.
    oof = out_of_fold(args.xquad, embedder, 5, log=lambda m: print(m, file=sys.stderr, flush=True))
    examples = collect_examples(args.xquad, args.work, settings, embedder, folds=oof)
    meta = {"trained": dt.date.today().isoformat(),
            "command": "python scripts/train_scorer.py --xquad ../shared/eval/xquad-dev",
            "examples": len(examples), "trainable": sum(e.trainable for e in examples),
            "max_refused": args.max_refused,
            # The projection the served alignments come from (bot/projection.py; the engine warns on a mismatch).
            "projection": TokenProjection.load(settings.answer.alignment).digest()}
    scorer = fit(examples, args.max_refused, model_id=embedder.model_id, meta=meta)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    scorer.save(args.out)
    weights = dict(zip(SENTENCE_FEATURES, np.round(scorer.sentence.coef, 3).tolist()))
    print(json.dumps({"out": str(args.out), "threshold": round(scorer.threshold, 4), "weights": weights},
                     ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
