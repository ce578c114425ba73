"""The inbox: acknowledged work, durable in the state store, done by a few worker threads.

- A job is written to SQLite (with its dedupe keys, in one transaction) before the request
  is acknowledged, so an acked question survives kill -9; `start()` picks up every
  unfinished job left by the last process.
- Jobs of one conversation (a Slack thread, a DM) run one at a time in arrival order, so a
  follow-up is answered after, and in the context of, the question before it. Other
  conversations are never held up.
- A step that cannot finish now (Slack said 429, or 5xx, or timed out) returns a delay: the
  job goes back on a timer and the worker moves on to other jobs. No worker ever sleeps on
  behalf of one post.
"""
from __future__ import annotations

import heapq
import logging
import threading
import time
from collections import deque
from typing import Callable

from bot.state import FINAL_STATUSES, Job, StateStore

log = logging.getLogger(__name__)

#: work(job) -> None when the job is finished (its final status saved), or seconds until it
#: should run again.
Work = Callable[[Job], "float | None"]


class Inbox:
    def __init__(self, store: StateStore, work: Work, workers: int = 4, dedupe_seconds: float = 3600.0,
                 clock: Callable[[], float] = time.monotonic):
        self.store = store
        self.work = work
        self.n_workers = max(1, workers)
        self.dedupe_seconds = dedupe_seconds
        self.clock = clock
        self._cond = threading.Condition()
        self._due: list[tuple[float, int, str]] = []      # (when, seq, job id) of runnable jobs
        self._jobs: dict[str, Job] = {}                     # every job not finished yet
        self._lines: dict[str, deque[str]] = {}             # cid -> job ids in arrival order
        self._running = 0
        self._stop = False
        self._threads: list[threading.Thread] = []
        #: A step that raised (a bug, a full disk) is tried again after this long.
        self._retry_after_crash = 30.0

    # --- intake ---------------------------------------------------------------------------------
    def accept(self, job: Job | None, keys: list[str]) -> bool:
        """Durably accept `job` unless a dedupe key or its id was seen; True if it is new."""
        if not self.store.accept(job, keys, self.dedupe_seconds):
            return False
        if job is not None:
            self._add(job)
        return True

    def _add(self, job: Job) -> None:
        with self._cond:
            if job.id in self._jobs:
                return
            self._jobs[job.id] = job
            line = self._lines.setdefault(job.cid, deque())
            line.append(job.id)
            if len(line) == 1:
                heapq.heappush(self._due, (self.clock(), job.seq, job.id))
                self._cond.notify()

    # --- lifecycle --------------------------------------------------------------------------------
    def start(self) -> int:
        """Recover unfinished jobs and start the workers; returns how many jobs were recovered."""
        left = self.store.open_jobs()
        for job in left:
            self._add(job)
        if left:
            log.warning("answering %d question(s) acknowledged before the last stop", len(left))
        for n in range(self.n_workers):
            t = threading.Thread(target=self._worker, name=f"khabar-inbox-{n}", daemon=True)
            t.start()
            self._threads.append(t)
        return len(left)

    def close(self, wait_seconds: float = 30.0) -> None:
        """Let running steps finish (up to `wait_seconds`), then stop; unfinished jobs stay in the store."""
        self.wait_idle(wait_seconds, only_running=True)
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout=max(1.0, wait_seconds))
        self._threads.clear()

    def wait_idle(self, timeout: float = 30.0, only_running: bool = False) -> bool:
        """Block until nothing is pending (or, with only_running, until no step is running)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._running or (not only_running and self._jobs):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(timeout=min(left, 0.2))
            return True

    def pending(self) -> int:
        with self._cond:
            return len(self._jobs)

    # --- the workers ------------------------------------------------------------------------------
    def _next(self) -> Job | None:
        with self._cond:
            while not self._stop:
                if self._due and self._due[0][0] <= self.clock():
                    _, _, job_id = heapq.heappop(self._due)
                    self._running += 1
                    return self._jobs[job_id]
                wait = (self._due[0][0] - self.clock()) if self._due else None
                self._cond.wait(timeout=None if wait is None else max(0.0, min(wait, 1.0)))
            return None

    def _worker(self) -> None:
        while True:
            job = self._next()
            if job is None:
                return
            delay = None
            try:
                fresh = self.store.job(job.id)  # a delete may have cancelled it meanwhile
                if fresh is not None and fresh.status not in FINAL_STATUSES:
                    delay = self.work(job)
            except Exception:
                log.exception("inbox job %s (%s) failed; it stays in the inbox and is retried", job.id, job.kind)
                delay = self._retry_after_crash
            self._done_step(job, delay)

    def _done_step(self, job: Job, delay: float | None) -> None:
        with self._cond:
            self._running -= 1
            if delay is not None and not self._stop:
                heapq.heappush(self._due, (self.clock() + max(0.0, delay), job.seq, job.id))
            elif delay is None:
                del self._jobs[job.id]
                line = self._lines[job.cid]
                line.popleft()
                if line:
                    nxt = self._jobs[line[0]]
                    heapq.heappush(self._due, (self.clock(), nxt.seq, nxt.id))
                else:
                    del self._lines[job.cid]
            self._cond.notify_all()
