"""Stage 3c: the reader, a cross-encoder that reads the question and a candidate sentence together.

The bi-encoder features (bot/features.py) tell "this sentence is about the same topic"; the reader
is trained to tell "this sentence answers the question" (scripts/train_reader.py, folds by
article; BENCHMARKS.md §11). It reads, as one sequence of at most MAX_TOKENS pieces,

    <s> query: QUESTION </s></s> SENTENCE </s> HEADLINE | PREVIOUS SENTENCE </s>

(the context is cut first, then the sentence, then the question) and gives one logit per
candidate. Training treats a question's candidates and a "nothing here" option of logit 0 as
one softmax, so a logit above 0 means the sentence is likelier the answer than nothing.

Serving runs the ONNX export (`python -m bot.reader_model`, made by setup) through onnxruntime:
no torch. Like a Haystack component, construction is cheap; `warm_up()` loads the session, and
`run()` scores a batch of candidates in one call.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: The reader shipped with Khabar (top layers + head over the bundled e5-small; fp16).
DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "reader_weights.npz"
TRAIN_COMMAND = "python scripts/train_reader.py --xquad ../shared/eval/xquad-dev"
EXPORT_COMMAND = "python -m bot.reader_model"
EXPORT_NAME = "reader.onnx"
EXPORT_INT8_NAME = "reader-int8.onnx"
#: Pieces of one (question, candidate) input, and the question's and the sentence's share of them.
MAX_TOKENS = 128
QUESTION_TOKENS = 40
SENTENCE_TOKENS = 72
BOS, EOS, PAD = 0, 2, 1


class ReaderError(Exception):
    """The reader's weights or export are missing or do not fit; the message says what to run."""


@dataclass(frozen=True)
class Candidate:
    """What the reader sees of one candidate sentence."""
    sentence: str
    title: str = ""
    previous: str = ""

    @property
    def context(self) -> str:
        return f"{self.title} | {self.previous}" if self.previous else self.title


def read_weights_header(path: Path) -> dict:
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            raw = data["__header__"].tobytes()
    except FileNotFoundError:
        raise ReaderError(f"reader weights not found at {path}; train them: {TRAIN_COMMAND}") from None
    except (KeyError, ValueError, OSError) as exc:
        raise ReaderError(f"{path} is not a reader weights file ({exc}); retrain it: {TRAIN_COMMAND}") from None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReaderError(f"{path} has a damaged header ({exc}); retrain it: {TRAIN_COMMAND}") from None


def weights_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def reader_id(digest: str, base_model: str) -> str:
    """The reader's identity: its weights and the model they were trained over."""
    return f"reader-{digest}@{base_model}"


def export_dir(model_dir: Path, weights: Path) -> Path:
    """Where the ONNX export of these weights over this base model lives (beside the base model)."""
    return Path(model_dir) / "reader" / weights_digest(weights)


def pair_ids(question: list[int], sentence: list[int], context: list[int]) -> list[int]:
    """The reader's input from the pieces of its three parts (no special tokens in them)."""
    q = question[:QUESTION_TOKENS]
    s = sentence[: max(SENTENCE_TOKENS, MAX_TOKENS - 5 - len(q) - len(context))]
    room = MAX_TOKENS - 5 - len(q) - len(s)
    return [BOS, *q, EOS, EOS, *s, EOS, *context[: max(0, room)], EOS]


def encode(tokenizer, question: str, candidates: list[Candidate]) -> list[list[int]]:
    """Token ids of each (question, candidate) input, with the `tokenizers` tokenizer of the base model."""
    q = tokenizer.encode(f"query: {question}", add_special_tokens=False).ids
    texts = [c.sentence for c in candidates] + [c.context for c in candidates]
    pieces = [e.ids for e in tokenizer.encode_batch(texts, add_special_tokens=False)]
    n = len(candidates)
    return [pair_ids(q, pieces[i], pieces[n + i]) for i in range(n)]


def padded(rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    width = max(len(r) for r in rows)
    ids = np.full((len(rows), width), PAD, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = r
        mask[i, : len(r)] = 1
    return ids, mask


class Reader:
    """Scores candidate sentences for a question with the exported reader (onnxruntime)."""

    def __init__(self, model_dir: Path, weights: Path | None = None, threads: int = 0, device: str = "cpu",
                 cache_items: int = 4096, precision: str = "fp32"):
        """`cache_items`: (question, candidate) logits remembered (a repeated question, a follow-up
        over the same sentences, held-out evaluation asking one question in several settings)."""
        from bot.cache import LRU

        if precision not in ("fp32", "int8"):
            raise ReaderError(f"reader precision must be fp32 or int8, not {precision!r}")
        self.precision = precision
        self.model_dir = Path(model_dir)
        self._cache: LRU[tuple[str, Candidate], float] = LRU(max(1, cache_items))
        self.weights = Path(weights) if weights else DEFAULT_WEIGHTS
        self.threads = threads
        self.device = device
        self.header: dict = {}
        self.id = ""
        self._session = None
        self._tokenizer = None
        self._lock = threading.Lock()

    @property
    def base_model(self) -> str:
        return self.header.get("base_model", "")

    def describe(self) -> None:
        """Read the weights header and identity (cheap; `warm_up` calls it)."""
        self.header = read_weights_header(self.weights)
        self.id = reader_id(weights_digest(self.weights), self.base_model) + ("+int8" if self.precision == "int8" else "")

    def export_path(self) -> Path:
        return export_dir(self.model_dir, self.weights) / (EXPORT_INT8_NAME if self.precision == "int8" else EXPORT_NAME)

    def stamp_problem(self) -> str | None:
        """Why the export does not belong to these weights (None: it does)."""
        path = self.export_path()
        stamp = path.with_name("reader.json")  # written last, after both precisions
        if not path.is_file() or not stamp.is_file():
            return f"the reader is not exported for {self.weights.name}; run `{EXPORT_COMMAND}` (setup does)"
        try:
            found = json.loads(stamp.read_text(encoding="utf-8")).get("reader_id")
        except (OSError, json.JSONDecodeError):
            found = None
        if found != self.id.removesuffix("+int8"):
            return f"the reader export at {path} is {found}, the weights are {self.id}; run `{EXPORT_COMMAND} --force`"
        return None

    def warm_up(self) -> "Reader":
        with self._lock:
            if self._session is not None:
                return self
            import onnxruntime as ort
            from tokenizers import Tokenizer

            from index.onnx_model import providers

            if not self.id:  # the engine and doctor describe it first, to check it fits the model
                self.describe()
            problem = self.stamp_problem()
            if problem:
                raise ReaderError(problem)
            options = ort.SessionOptions()
            options.intra_op_num_threads = self.threads or (os.cpu_count() or 1)
            options.inter_op_num_threads = 1
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            try:
                session = ort.InferenceSession(str(self.export_path()), options, providers=providers(self.device))
            except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types for a bad file
                raise ReaderError(f"cannot load the reader export {self.export_path()} ({type(exc).__name__}); "
                                  f"run `{EXPORT_COMMAND} --force`") from None
            self._tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
            self._session = session
        return self

    def run(self, question: str, candidates: list[Candidate]) -> np.ndarray:
        """One logit per candidate, in one batched call (a logit > 0: likelier the answer than nothing)."""
        if not candidates:
            return np.zeros(0, dtype=np.float32)
        if self._session is None:
            self.warm_up()
        found = [self._cache.get((question, c)) for c in candidates]
        todo = [i for i, v in enumerate(found) if v is None]
        if todo:
            ids, mask = padded(encode(self._tokenizer, question, [candidates[i] for i in todo]))
            logits = self._session.run(["logits"], {"input_ids": ids, "attention_mask": mask})[0]
            for i, v in zip(todo, logits.tolist()):
                found[i] = float(v)
                self._cache.put((question, candidates[i]), float(v))
        return np.array(found, dtype=np.float32)
