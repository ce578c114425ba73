"""Fit the decision over the reader's logits (bot/decision.py) on prepared dev questions.

Called by `scripts/evaluate.py --reader-folds DIR` (held out: each question is read by the reader
of the fold that never saw its article, and decided by a decision fitted on the other folds), and
with `--save-decision` once more on every question's out-of-fold reading, for the shipped file.

What is fitted, on the training folds' questions only:
- how many candidates the reader reads and the blend of the scorer's logit: grids, by the share of
  answerable questions whose first quote holds the answer (a smaller N wins ties within 0.002);
- the calibration: logistic regression (L2) of "the first quote answers" on DECISION_FEATURES,
  unanswerable questions (article removed, close-topic) counting as 0;
- the tiers: `answer` refuses at most `max_refused` of the answerable questions the rules let
  through; of those it refuses, all but the lowest `none_share` (1%) get `not_sure` (the closest
  quotes, labelled as possibly not answering) rather than nothing. Only `answer` counts as
  answering, so `not_sure` changes no accuracy figure; it is what a reporter sees of the
  answerable questions the answer tier just missed (and of the unanswerable ones as close).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from bot.decision import DECISION_FEATURES, Decision, blended, decision_row
from bot.features import SENTENCE_FEATURES, question_features
from bot.pipeline import refusals
from bot.reader import Reader
from bot.scorer import Linear, Scorer

CANDIDATE_GRID = (4, 6, 8)
BLEND_GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


@dataclass
class Read:
    """One prepared question as the decision sees it: its best candidates by the scorer, read."""
    answerable: bool
    read: np.ndarray            # reader logits of the candidates (scorer order)
    scorer_logits: np.ndarray   # ... and their scorer logits
    rows: np.ndarray            # ... and their rows among all the question's candidates
    gold: np.ndarray            # ... and whether each holds the answer
    same_lang: np.ndarray
    scorer_confidence: float
    example: object             # the scripts/train_scorer.Example (its understood question and candidates)

    def final(self, n: int, blend: float) -> np.ndarray:
        return blended(self.read[:n], self.scorer_logits[:n], blend)

    def row(self, n: int, blend: float) -> np.ndarray:
        f = self.final(n, blend)
        u, c = self.example.prepared.understood, self.example.prepared.candidates
        return decision_row(f, self.scorer_confidence, bool(self.same_lang[int(np.argmax(f))]), u.romanised,
                            c.salient_missing_share, c.numbers_missing > 0, c.unmatched_idf)

    def right(self, n: int, blend: float) -> bool:
        return bool(self.answerable and self.gold[int(np.argmax(self.final(n, blend)))])

    def ruled(self, n: int, blend: float, settings) -> bool:
        """A rule (pipeline.refusals) refuses it whatever the confidence, on the logits the pipeline
        would rank with (the read candidates first, as `Pipeline._read` lays them out)."""
        u, c = self.example.prepared.understood, self.example.prepared.candidates
        f = self.final(n, blend)
        logits = np.full(len(c), float(f.min()) - 10.0)
        logits[self.rows[:n]] = f
        return bool(refusals(u, c, logits, settings))


def read_example(e, scorer: Scorer, reader: Reader, n: int = max(CANDIDATE_GRID)) -> Read | None:
    """The reader's view of one evaluation example (scripts/train_scorer.Example)."""
    c = e.prepared.candidates
    if c is None or not len(c):
        return None
    logits = scorer.logits(c.features)
    rows = np.argsort(-logits, kind="stable")[:n]
    u = e.prepared.understood
    read = reader.run(e.prepared.reader_question or u.question, [e.pipeline.candidate(int(c.sids[i])) for i in rows])
    gold = e.gold[rows] if e.gold is not None else np.zeros(len(rows), dtype=bool)
    return Read(e.answerable, read, logits[rows], rows, gold,
                c.features[rows, SENTENCE_FEATURES.index("same_lang")] > 0,
                scorer.probability(question_features(c, logits, u.romanised)), e)


def fit_calibration(x: np.ndarray, y: np.ndarray, l2: float = 1e-2) -> Linear:
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    z = (x - mean) / scale

    def loss(params):
        w, b = params[:-1], params[-1]
        t = z @ w + b
        p = 1 / (1 + np.exp(-t))
        grad_t = (p - y) / len(y)
        return (np.mean(np.logaddexp(0, t) - y * t) + l2 * w @ w,
                np.concatenate([z.T @ grad_t + 2 * l2 * w, [grad_t.sum()]]))

    res = minimize(loss, np.zeros(z.shape[1] + 1), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return Linear(DECISION_FEATURES, mean.astype(np.float32), scale.astype(np.float32),
                  res.x[:-1].astype(np.float32), float(res.x[-1]))


def tiers(conf: np.ndarray, answerable: np.ndarray, ruled: np.ndarray, max_refused: float,
          none_share: float) -> tuple[float, float]:
    """(answer at, not sure at): the confidences below which `max_refused` and `none_share` of the
    answerable questions the rules let through lie."""
    scores = np.sort(conf[answerable & ~ruled])
    if not len(scores):
        return 0.5, 0.5

    def below(share: float) -> float:
        return float(scores[int(np.floor(share * len(scores)))])
    answer_at = below(max_refused)
    return answer_at, min(below(min(none_share, max_refused)), answer_at)


def fit_decision(reads: list[Read], settings, max_refused: float = 0.04, none_share: float = 0.01,
                 reader_id: str | None = None, meta: dict | None = None) -> Decision:
    """`settings`: the AnswerSettings whose rules (`pipeline.refusals`) the tiers are chosen beside."""
    reads = [r for r in reads if r is not None]
    answerable = [r for r in reads if r.answerable and r.gold.any()]
    best = None
    for n in CANDIDATE_GRID:
        for blend in BLEND_GRID:
            acc = float(np.mean([r.right(n, blend) for r in answerable])) if answerable else 0.0
            if best is None or acc > best[0] + 0.002:
                best = (acc, n, blend)
    _, n, blend = best
    x = np.array([r.row(n, blend) for r in reads])
    y = np.array([r.right(n, blend) for r in reads], dtype=float)
    cal = fit_calibration(x, y)
    z = cal(x)
    conf = 1 / (1 + np.exp(-z))
    answer_at, not_sure_at = tiers(conf, np.array([r.answerable for r in reads]),
                                   np.array([r.ruled(n, blend, settings) for r in reads]), max_refused, none_share)
    return Decision(cal, blend=blend, answer_at=answer_at, not_sure_at=not_sure_at, candidates=n,
                    reader_id=reader_id, meta={**(meta or {}), "train_top1": round(best[0], 4),
                                               "questions": len(reads)})


def fold_readers(folder: Path, model_dir: Path, precision: str = "fp32", log=print) -> dict[int, Reader]:
    """article → the reader of the fold that never saw it (scripts/train_reader.py's fold files),
    each exported to ONNX once and served as the bot serves its reader."""
    from bot.reader import read_weights_header
    from bot.reader_model import export

    out: dict[int, Reader] = {}
    files = sorted(Path(folder).expanduser().glob("fold*.npz"))
    if not files:
        raise SystemExit(f"evaluate: no fold*.npz in {folder}; run scripts/train_reader.py first")
    for path in files:
        header = read_weights_header(path)
        export(model_dir, path)
        reader = Reader(model_dir, path, cache_items=400_000, precision=precision).warm_up()
        for a in header["held_out_articles"]:
            out[int(a)] = reader
        log(f"  reader {path.name}: {reader.id}, held out articles {header['held_out_articles']}")
    return out
