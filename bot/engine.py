"""The one path every question takes: clean → the answering pipeline → remember the turn.

Slack, the REPL and the CLI all hold an Engine and call `ask`. The engine also owns the
served index and swaps in a rebuilt one without a restart: the new folder is loaded and
checked beside the old one, then replaced in a single assignment, so a question in flight
finishes on the index it started with and a broken rebuild never replaces a working index.
"""
from __future__ import annotations

import logging
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from bot.answer import AnswerResult
from bot.config import Settings
from bot.conversation import Conversations, Turn
from bot.decision import Decision, reader_problem
from bot.pipeline import Pipeline
from bot.projection import TokenProjection
from bot.reader import Reader, ReaderError
from bot.scorer import Scorer, ScorerError, answerer_mismatch
from bot.transliterate import Transliterator
from bot.understand import QuestionError, clean_question
from index.build import build_index
from index.config import khabar_home
from index.corpus import read_corpus
from index.embed import Embedder, resolve_model_path
from index.retrieve import Retriever
from index.store import Index, IndexLoadError, corpus_fingerprint, load_index, read_manifest, same_model

log = logging.getLogger(__name__)

#: The bundled default corpus (the repository's seeds/ folder).
SEEDS_DIR = Path(__file__).resolve().parent.parent / "seeds"


@dataclass
class _Served:
    index: Index
    pipeline: Pipeline


def default_index_dir() -> Path:
    return khabar_home() / "indexes" / "seeds"


def ensure_seed_index(settings: Settings, embedder: Embedder, progress: bool = True) -> Path:
    """Build the seeds index on first use; rebuild only if the seeds or the model changed."""
    out = default_index_dir()
    try:
        manifest = read_manifest(out)
        fresh = (same_model(manifest["model"]["id"], embedder.model_id) and
                 manifest["corpus_fingerprint"] == corpus_fingerprint(read_corpus(SEEDS_DIR).documents))
    except (IndexLoadError, KeyError):
        fresh = False
    if not fresh:
        print(f"Building the index of the bundled seed articles into {out} (first use)...", file=sys.stderr)
        summary = build_index([SEEDS_DIR], out, settings.index, embedder=embedder, progress=progress)
        print("\n".join(summary.lines()), file=sys.stderr)
    return out


class Engine:
    """Answers questions over one served index; built and owned by `bot.runtime.Runtime`.

    The constructor loads the index folder it is given with the already-loaded `embedder` (it
    never loads a model or builds an index itself); `conversations` may be a durable one.
    """

    #: The moment embargoes are checked against and relative dates of questions ("last week") are
    #: read from (a zone-aware datetime; `khabar ask/repl --as-of`); None: the clock. Read at every
    #: question, so setting it needs no reload.
    as_of = None

    def __init__(self, settings: Settings, index_dir: Path, embedder: Embedder,
                 conversations: Conversations | None = None, prewarm: bool = False):
        """`prewarm`: encode passage tokens for the answerer in the background (for the REPL and
        Slack, which live long enough to use them; a one-shot `ask` would only wait for it)."""
        self.settings = settings
        self._prewarm = prewarm
        self._stopping = threading.Event()
        self._prewarm_threads: list[threading.Thread] = []
        self.embedder = embedder
        self.index_dir = Path(index_dir)
        self.conversations = conversations or Conversations(settings.conversation)
        self.scorer = Scorer.load(settings.answer.scorer)
        self.projection = TokenProjection.load(settings.answer.alignment, dim=self.embedder.dim)
        problem = answerer_mismatch(self.scorer, self.projection, self.embedder.model_id)
        if problem:
            log.warning("%s; answers may be poorly chosen and calibrated until then", problem)
        #: The cross-encoder reader and its decision (None, None: the scorer decides alone, warned).
        self.reader, self.decision = self._load_reader()
        #: Romanised Hindi read in Devanagari (loaded on the first romanised question, or by prewarm).
        self.transliterator = Transliterator()
        self._served = self._load(self.index_dir)
        #: Indexes loaded by this engine (1 at start, +1 per hot swap), and rebuilt ones it refused.
        self.generation = 1
        self.reload_failures = 0
        self._reload_lock = threading.Lock()
        self._last_refusal: str | None = None

    def _load_reader(self) -> tuple[Reader | None, Decision | None]:
        answer = self.settings.answer
        if not answer.reader_enabled:
            return None, None
        reader = Reader(Path(resolve_model_path(self.settings.index)), answer.reader,
                        threads=self.settings.index.embed_threads, precision=answer.reader_precision)
        try:
            reader.describe()
            decision = Decision.load(answer.decision)
            problem = reader_problem(reader, decision, self.embedder.model_id)
            if problem:
                raise ReaderError(problem)
            reader.warm_up()
        except (ReaderError, ScorerError) as exc:
            log.warning("answering without the reader: %s", exc)
            return None, None
        return reader, decision

    def _load(self, path: Path) -> _Served:
        index = load_index(path, expect_model_id=self.embedder.model_id)
        retriever = Retriever(index, self.embedder, self.settings.index, clock=lambda: self.as_of)
        served = _Served(index, Pipeline(index, self.embedder, retriever, self.settings.answer,
                                         self.settings.conversation, self.scorer, self.projection,
                                         self.transliterator, self.reader, self.decision,
                                         clock=lambda: self.as_of))
        if self._prewarm:
            # Daemon so a stuck model never blocks exit; close() stops and joins it, because a
            # thread still inside torch when the interpreter exits aborts the process.
            def prewarm() -> None:
                self.transliterator.warm_up()
                served.pipeline.aligner.prewarm(served.pipeline.projection, self._stopping)
            thread = threading.Thread(target=prewarm, name="khabar-prewarm", daemon=True)
            # Finished threads are dropped, so a bot that reloads for months keeps a short list.
            self._prewarm_threads = [t for t in self._prewarm_threads if t.is_alive()] + [thread]
            thread.start()
        return served

    def close(self) -> None:
        """Stop background work (token prewarming); call before the process exits."""
        self._stopping.set()
        for thread in self._prewarm_threads:
            thread.join(timeout=30.0)

    @property
    def index(self) -> Index:
        return self._served.index

    def reload_if_changed(self) -> bool:
        """Swap in a rebuilt index if the folder now holds a different build. True if swapped.

        A problem is logged once (not on every poll) until the folder changes again.
        """
        with self._reload_lock:
            try:
                build_id = read_manifest(self.index_dir).get("build_id")
            except IndexLoadError as exc:
                self._log_refusal(logging.WARNING, f"index folder not usable right now ({exc})")
                return False
            if build_id == self._served.index.build_id:
                return False
            try:
                served = self._load(self.index_dir)
            except IndexLoadError as exc:
                if self._log_refusal(logging.ERROR, f"refusing the new index in {self.index_dir}: {exc}"):
                    self.reload_failures += 1  # once per refused build, not once per poll
                return False
            self._served = served
            self.generation += 1
            self._last_refusal = None
            log.warning("now serving index build %s (%d passages)", served.index.build_id,
                        len(served.index.passages))
            return True

    def _log_refusal(self, level: int, message: str) -> bool:
        """Log a problem unless it was the last one logged; True if it is new."""
        if message == self._last_refusal:
            return False
        log.log(level, "%s; still serving build %s", message, self._served.index.build_id)
        self._last_refusal = message
        return True

    def ask(self, question: str, conversation_id: str | None = None, top_k: int | None = None) -> AnswerResult:
        """Answer one question (raises QuestionError for empty or over-long input).

        Chat that is not a question comes back with `not_question` set and no answers, and is
        not remembered, so "thanks" never becomes the topic of a follow-up.
        """
        question = clean_question(question, self.settings.answer.max_question_chars)
        served = self._served  # one index for the whole question, whatever a reload does meanwhile
        history = self.conversations.history(conversation_id)
        result = served.pipeline.run(question, history, top_k=top_k)
        if not result.not_question:
            self.conversations.add(conversation_id, Turn(question, result.retrieval_query, result.anchor,
                                                         [a.citation.sid for a in result.answers]))
        return result

    def reset(self, conversation_id: str | None) -> None:
        self.conversations.reset(conversation_id)
