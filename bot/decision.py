"""Stage 3d: from the reader's logits to one decision: which sentence, how sure, which tier.

    final logit   = reader logit + blend · (scorer logit − the best scorer logit)
    confidence    = sigmoid(standardised DECISION_FEATURES · w + b)   P(the first quote answers)
    tier          = "answer"   if confidence ≥ tiers.answer
                    "not_sure" if confidence ≥ tiers.not_sure   (the closest quotes, labelled as such)
                    "none"     otherwise                         (nothing found)

Everything here is fitted on XQuAD dev with folds by article (`scripts/evaluate.py --folds K
--reader-folds DIR --save-decision bot/decision_weights.json`; BENCHMARKS.md §11): the blend and
the calibration on the reader's out-of-fold logits, the tiers on the calibrated confidence
(`answer` refuses at most a set share of answerable questions; below `not_sure`, at least a set
share of the questions are ones the archive cannot answer). Pure functions of numbers: the
pipeline computes the inputs, this module decides.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bot.scorer import Linear, ScorerError, read_weights_json

DEFAULT_DECISION = Path(__file__).resolve().parent / "decision_weights.json"
FIT_COMMAND = ("python scripts/evaluate.py --xquad ../shared/eval/xquad-dev --folds 5 "
               "--reader-folds ~/.cache/khabar/reader-train --save-decision bot/decision_weights.json")
#: What the calibration reads of a question's read candidates.
DECISION_FEATURES = ("reader_top", "reader_margin", "reader_mass", "scorer_confidence", "top_same_lang",
                     "romanised", "names_missing", "numbers_missing", "unmatched_idf")
TIERS = ("answer", "not_sure", "none")


@dataclass
class Decision:
    calibration: Linear
    #: Weight of the sentence scorer's logit beside the reader's in choosing the sentence.
    blend: float = 0.0
    #: Confidence at or above which Khabar answers, and at or above which it says "not sure".
    answer_at: float = 0.5
    not_sure_at: float = 0.2
    #: How many candidate sentences (best by the scorer first) the reader reads.
    candidates: int = 12
    reader_id: str | None = None
    meta: dict = field(default_factory=dict)

    def final_logits(self, reader_logits: np.ndarray, scorer_logits: np.ndarray) -> np.ndarray:
        return blended(reader_logits, scorer_logits, self.blend)

    def probability(self, row: np.ndarray) -> float:
        return float(1.0 / (1.0 + np.exp(-self.calibration(row[None, :])[0])))

    def tier(self, confidence: float) -> str:
        if confidence >= self.answer_at:  # a NaN is never an answer
            return "answer"
        return "not_sure" if confidence >= self.not_sure_at else "none"

    def save(self, path: Path) -> None:
        data = {"calibration": self.calibration.to_json(), "blend": round(self.blend, 4),
                "tiers": {"answer": round(self.answer_at, 4), "not_sure": round(self.not_sure_at, 4)},
                "candidates": self.candidates, "reader_id": self.reader_id, "meta": self.meta}
        path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path | None = None) -> "Decision":
        path = Path(path) if path else DEFAULT_DECISION
        data = read_weights_json(path, "decision weights", FIT_COMMAND)
        try:
            cal = Linear.from_json(data["calibration"], DECISION_FEATURES, str(path), FIT_COMMAND)
            tiers = data["tiers"]
            decision = cls(cal, float(data["blend"]), float(tiers["answer"]), float(tiers["not_sure"]),
                           int(data["candidates"]), data.get("reader_id"), data.get("meta") or {})
        except (KeyError, TypeError, ValueError) as exc:
            raise ScorerError(f"{path} is damaged ({exc}); refit it: {FIT_COMMAND}") from None
        if not (0.0 <= decision.not_sure_at <= decision.answer_at <= 1.0) or decision.candidates < 1:
            raise ScorerError(f"{path} has tiers {tiers} or candidates {decision.candidates} out of range; "
                              f"refit it: {FIT_COMMAND}")
        return decision


def blended(reader_logits: np.ndarray, scorer_logits: np.ndarray, blend: float) -> np.ndarray:
    """The final logit of each read candidate: the reader's, plus `blend` × the scorer's below its best."""
    return reader_logits + blend * (scorer_logits - scorer_logits.max())


def decision_row(final: np.ndarray, scorer_confidence: float, top_same_lang: bool, romanised: bool,
                 names_missing: float, numbers_missing: bool, unmatched_idf: float) -> np.ndarray:
    """DECISION_FEATURES of one question from its read candidates' final logits."""
    order = np.sort(final)[::-1]
    top = float(order[0])
    margin = float(order[0] - order[1]) if len(order) > 1 else 4.0
    mass = float(np.logaddexp.reduce(final))
    return np.array([top, min(margin, 4.0), mass, scorer_confidence, float(top_same_lang), float(romanised),
                     names_missing, float(numbers_missing), unmatched_idf], dtype=np.float64)


def reader_problem(reader, decision: "Decision | None", model_id: str) -> str | None:
    """Why the reader (bot.reader.Reader, described) and the decision do not fit the served model or
    each other (None: they do): the engine then decides without the reader and warns; `khabar
    doctor` fails with it."""
    from bot.reader import TRAIN_COMMAND
    from index.store import same_model

    if reader.base_model and not same_model(reader.base_model, model_id):
        return (f"the reader was trained over model {reader.base_model} but this model is {model_id}; "
                f"retrain it: {TRAIN_COMMAND}")
    problem = reader.stamp_problem()
    if problem:
        return problem
    if decision is not None and decision.reader_id and decision.reader_id != reader.id:
        return (f"the decision weights were fitted for reader {decision.reader_id}, this reader is {reader.id}; "
                f"refit them: {FIT_COMMAND}")
    return None
