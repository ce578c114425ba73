"""The composition root: one object builds, owns, starts and closes everything a front end needs.

    with Runtime(settings, index_dir, durable=True, watch_index=True) as rt:
        rt.engine.ask("...")

`start()` does the heavy work, in this order: check the index folder (a wrong path is reported
before the model loads), load the embedder, build the seeds index if none was named, open the
state store and the metrics (durable mode: Slack), build the engine over both, and start the
background loop that hot-swaps a rebuilt index and prunes expired state. `close()` stops the loop, joins the
engine's threads and closes the store. The CLI's `ask` and `repl` and the Slack bot all use it.
"""
from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path

from bot.config import Settings
from bot.conversation import Conversations
from bot.engine import Engine, ensure_seed_index
from bot.state import StateStore
from index.embed import Embedder
from index.store import read_manifest

log = logging.getLogger(__name__)

#: Expired dedupe ids, threads, turns and old finished inbox rows are dropped this often.
PRUNE_EVERY_SECONDS = 600.0


class Runtime:
    def __init__(self, settings: Settings, index_dir: Path | str | None = None, *, durable: bool = False,
                 watch_index: bool = False, prewarm: bool = False, progress: bool | None = None,
                 embedder: Embedder | None = None):
        """`durable`: keep conversations (and the Slack bot's state) in the SQLite state file;
        `watch_index`: swap in a rebuilt index every `slack.reload_check_seconds`;
        `embedder`: an already-loaded model (tests share one)."""
        self.settings = settings
        folder = index_dir or settings.index_dir
        self.index_dir = Path(folder) if folder else None
        self.durable = durable
        self.watch_index = watch_index
        self.prewarm = prewarm
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.embedder = embedder
        self.store: StateStore | None = None
        self.metrics = None  # bot.metrics.Metrics in durable mode (`GET /metrics`)
        self.engine: Engine | None = None
        self._stop = threading.Event()
        self._loop: threading.Thread | None = None

    def start(self) -> "Runtime":
        if self.engine is not None:
            return self
        if self.index_dir is not None:
            read_manifest(self.index_dir)  # a wrong folder is reported now, not after the model has loaded
        if self.durable:
            from bot.metrics import Metrics  # only the bot exports metrics; the CLI never imports them

            self.store = StateStore(self.settings.state_file()).open()
            self.metrics = Metrics()
        try:
            self.embedder = self.embedder or Embedder(self.settings.index)
            index_dir = self.index_dir or ensure_seed_index(self.settings, self.embedder, self.progress)
            conversations = Conversations(self.settings.conversation, store=self.store)
            self.engine = Engine(self.settings, index_dir, self.embedder, conversations, prewarm=self.prewarm)
        except BaseException:
            self.close()
            raise
        self.index_dir = self.engine.index_dir
        if self.metrics is not None:
            self.metrics.watch_engine(self.engine)
        if self.watch_index or self.store is not None:
            self._loop = threading.Thread(target=self._background, name="khabar-maintenance", daemon=True)
            self._loop.start()
        return self

    def _background(self) -> None:
        interval = self.settings.slack.reload_check_seconds if self.watch_index else 0
        tick = interval if interval > 0 else PRUNE_EVERY_SECONDS
        last_prune = 0.0
        while not self._stop.wait(tick):
            if interval > 0:
                try:
                    if self.engine.reload_if_changed():
                        log.warning("hot index swap: now serving %s", self.engine.index_dir)
                except Exception:  # never let the loop die; the old index keeps serving
                    log.exception("index reload check failed; still serving the current index")
            if self.store is not None and time.monotonic() - last_prune >= PRUNE_EVERY_SECONDS:
                last_prune = time.monotonic()
                try:
                    conv = self.settings.conversation
                    gone = self.store.prune(idle_seconds=conv.idle_seconds, max_conversations=conv.max_conversations,
                                            keep_questions_seconds=self.settings.slack.stats_keep_days * 86400)
                    log.info("pruned expired state: %s", gone)
                except Exception:
                    log.exception("pruning the state file failed; will try again")

    def close(self) -> None:
        self._stop.set()
        if self._loop is not None:
            self._loop.join(timeout=10.0)
            self._loop = None
        if self.engine is not None:
            self.engine.close()
        if self.store is not None:
            self.store.close()

    def __enter__(self) -> "Runtime":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
