"""Durable bot state in one SQLite file: what must survive kill -9, an OOM or a deploy.

- **inbox**: every acknowledged Slack request that needs work (a question, a help reply, a
  notice, an edit, a delete). A row is written before the ack returns, answered by a worker,
  and marked done only once Slack has the reply, so a restart finishes whatever was left.
- **seen**: dedupe keys (event ids, message ids) with an expiry, so Slack's retries and
  duplicate deliveries are handled once, across restarts too.
- **threads**: the threads Khabar answered in, where follow-ups need no mention.
- **turns**: each conversation's recent turns (the engine's follow-up context).
- **replies**: which messages Khabar posted for which question (for edits and deletes).
- **votes**: 👍/👎, one per user and message (the last vote wins); a 👎 may carry its reason.
- **escalations**: "Still need help?" clicks, one per user and message: who asked the desk
  (`slack.escalate_to`) about which answer, and whether the tag reached the thread.
- **questions**: the ledger `khabar stats` reads: each question's outcome, stage times,
  citations and delivery (retries, result). Kept `keep_questions_seconds` (90 days), longer
  than the inbox, so an editor can look back.

WAL journal with synchronous=FULL: a committed row is on disk before the call returns. One
connection guarded by a lock (sqlite3 objects must not be shared unguarded across threads);
every statement is short, so the lock is never held for long. Times are wall-clock seconds
(time.time()), because they must mean the same thing after a restart.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

#: Inbox statuses: new (acked, not answered yet), answered (reply ready, being delivered),
#: then one of the final ones.
OPEN_STATUSES = ("new", "answered")
FINAL_STATUSES = ("done", "failed", "cancelled")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS inbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL,
    cid        TEXT NOT NULL,
    payload    TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'new',
    messages   TEXT,
    posted     TEXT NOT NULL DEFAULT '[]',
    attempting INTEGER,
    tries      INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    error      TEXT
);
CREATE INDEX IF NOT EXISTS inbox_open ON inbox(status) WHERE status IN ('new', 'answered');
CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS threads (key TEXT PRIMARY KEY, touched_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS turns (cid TEXT PRIMARY KEY, turns TEXT NOT NULL, touched_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS replies (
    channel TEXT NOT NULL, question_ts TEXT NOT NULL, reply_ts TEXT NOT NULL, thread_ts TEXT,
    cid TEXT NOT NULL, job_id TEXT NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (channel, question_ts)
);
CREATE TABLE IF NOT EXISTS votes (
    user TEXT NOT NULL, message_ts TEXT NOT NULL, vote TEXT NOT NULL, entry TEXT NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (user, message_ts)
);
CREATE TABLE IF NOT EXISTS escalations (
    id TEXT PRIMARY KEY, at REAL NOT NULL, user TEXT, channel TEXT NOT NULL, thread_ts TEXT,
    message_ts TEXT NOT NULL, desk TEXT NOT NULL, entry TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending', posted_ts TEXT, error TEXT
);
CREATE TABLE IF NOT EXISTS questions (
    job_id       TEXT PRIMARY KEY,
    asked_at     REAL NOT NULL,
    kind         TEXT NOT NULL,
    channel      TEXT,
    user         TEXT,
    question     TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    reason       TEXT,
    confidence   REAL,
    answers      TEXT NOT NULL DEFAULT '[]',
    retrieve_s   REAL,
    choose_s     REAL,
    answered_at  REAL NOT NULL,
    delivery     TEXT NOT NULL DEFAULT 'pending',
    deliver_s    REAL,
    retries      INTEGER NOT NULL DEFAULT 0,
    rate_limited INTEGER NOT NULL DEFAULT 0,
    reply_ts     TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS questions_asked ON questions(asked_at);
"""

#: What a question's row says of its delivery: pending (being posted), posted, failed, cancelled
#: (its message was deleted first), silent (nothing to post: chat, or a refusal Slack never sees).
DELIVERIES = ("pending", "posted", "failed", "cancelled", "silent")


class StateError(Exception):
    """The state file cannot be opened or written; the message says which file and why."""


@dataclass
class Job:
    """One inbox row. `payload` is whatever the job's kind needs (channel, text, user, ...)."""
    id: str
    kind: str
    cid: str
    payload: dict
    status: str = "new"
    messages: list[dict] | None = None      # the reply, rendered (SlackMessage.kwargs() dicts)
    posted: list[str] = field(default_factory=list)  # ts of each part Slack has
    attempting: int | None = None           # the part whose post may or may not have landed
    tries: int = 0
    created_at: float = 0.0
    seq: int = 0


class StateStore:
    """The one SQLite file. `open()` before use, `close()` at shutdown."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time):
        self.path = Path(path)
        self.clock = clock
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    # --- lifecycle ------------------------------------------------------------------------------
    def open(self) -> "StateStore":
        if self._db is not None:
            return self
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30.0)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise StateError(f"cannot open the bot's state file {self.path} ({exc}); check the folder is "
                             f"writable, or set KHABAR_SLACK_STATE_FILE to another path") from None
        self._db = db
        return self

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _run(self, sql: str, args: Iterable = ()) -> list[tuple]:
        with self._lock:
            if self._db is None:
                raise StateError(f"the state file {self.path} is not open")
            return self._db.execute(sql, tuple(args)).fetchall()

    # --- dedupe and the inbox ----------------------------------------------------------------------
    def accept(self, job: Job | None, keys: list[str], ttl_seconds: float) -> bool:
        """Claim every dedupe key and write `job` (if any), in one transaction.

        False, and nothing written, if any key was seen within its time to live or a job with
        this id exists: a retry or duplicate delivery. One transaction, so a crash can never
        leave a claimed key without its job (the retry would then be dropped and the question lost).
        """
        now = self.clock()
        with self._lock:
            db = self._db
            if db is None:
                raise StateError(f"the state file {self.path} is not open")
            db.execute("BEGIN IMMEDIATE")
            try:
                marks = ",".join("?" * len(keys))
                seen = keys and db.execute(f"SELECT 1 FROM seen WHERE key IN ({marks}) AND expires_at > ?",
                                           (*keys, now)).fetchone()
                exists = job is not None and db.execute("SELECT 1 FROM inbox WHERE id = ?", (job.id,)).fetchone()
                db.executemany("INSERT OR REPLACE INTO seen(key, expires_at) VALUES (?, ?)",
                               [(k, now + ttl_seconds) for k in keys])
                if seen or exists:
                    db.execute("COMMIT")
                    return False
                if job is not None:
                    cur = db.execute(
                        "INSERT INTO inbox(id, kind, cid, payload, status, created_at, updated_at) "
                        "VALUES (?, ?, ?, ?, 'new', ?, ?)",
                        (job.id, job.kind, job.cid, json.dumps(job.payload, ensure_ascii=False), now, now))
                    job.seq, job.created_at = cur.lastrowid, now
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return True

    def job(self, job_id: str) -> Job | None:
        rows = self._run("SELECT seq, id, kind, cid, payload, status, messages, posted, attempting, tries, "
                         "created_at FROM inbox WHERE id = ?", (job_id,))
        return _job(rows[0]) if rows else None

    def open_jobs(self) -> list[Job]:
        """Unfinished jobs, oldest first (what a restart must still do)."""
        rows = self._run("SELECT seq, id, kind, cid, payload, status, messages, posted, attempting, tries, "
                         "created_at FROM inbox WHERE status IN ('new', 'answered') ORDER BY seq")
        return [_job(r) for r in rows]

    def save_progress(self, job: Job) -> None:
        """Write the job's status, rendered reply and delivery progress."""
        self._run("UPDATE inbox SET status = ?, messages = ?, posted = ?, attempting = ?, tries = ?, "
                  "updated_at = ? WHERE id = ?",
                  (job.status, None if job.messages is None else json.dumps(job.messages, ensure_ascii=False),
                   json.dumps(job.posted), job.attempting, job.tries, self.clock(), job.id))

    def finish(self, job: Job, status: str, error: str | None = None) -> None:
        if status not in FINAL_STATUSES:
            raise ValueError(f"finish() takes one of {FINAL_STATUSES}, not {status!r}")
        job.status = status
        self._run("UPDATE inbox SET status = ?, posted = ?, attempting = NULL, error = ?, updated_at = ? "
                  "WHERE id = ?", (status, json.dumps(job.posted), error, self.clock(), job.id))

    def cancel_pending(self, job_id: str) -> bool:
        """Cancel a job nobody has answered yet (its question was deleted). True if it was."""
        with self._lock:
            if self._db is None:
                raise StateError(f"the state file {self.path} is not open")
            cur = self._db.execute("UPDATE inbox SET status = 'cancelled', updated_at = ? "
                                   "WHERE id = ? AND status = 'new'", (self.clock(), job_id))
            return cur.rowcount > 0

    def counts(self) -> dict[str, int]:
        return {status: n for status, n in self._run("SELECT status, COUNT(*) FROM inbox GROUP BY status")}

    # --- followed threads -------------------------------------------------------------------------
    def follow(self, channel: str, thread_ts: str) -> None:
        self._run("INSERT OR REPLACE INTO threads(key, touched_at) VALUES (?, ?)",
                  (f"{channel}:{thread_ts}", self.clock()))

    def is_followed(self, channel: str, thread_ts: str, idle_seconds: float) -> bool:
        rows = self._run("SELECT touched_at FROM threads WHERE key = ?", (f"{channel}:{thread_ts}",))
        return bool(rows) and self.clock() - rows[0][0] <= idle_seconds

    # --- conversation turns -----------------------------------------------------------------------
    def save_turns(self, cid: str, turns: list[dict]) -> None:
        self._run("INSERT OR REPLACE INTO turns(cid, turns, touched_at) VALUES (?, ?, ?)",
                  (cid, json.dumps(turns, ensure_ascii=False), self.clock()))

    def load_turns(self, cid: str, idle_seconds: float) -> list[dict]:
        rows = self._run("SELECT turns, touched_at FROM turns WHERE cid = ?", (cid,))
        if not rows or self.clock() - rows[0][1] > idle_seconds:
            return []
        return json.loads(rows[0][0])

    def forget_turns(self, cid: str) -> None:
        self._run("DELETE FROM turns WHERE cid = ?", (cid,))

    # --- replies ----------------------------------------------------------------------------------
    def record_reply(self, channel: str, question_ts: str, reply_ts: list[str], thread_ts: str | None,
                     cid: str, job_id: str) -> None:
        self._run("INSERT OR REPLACE INTO replies(channel, question_ts, reply_ts, thread_ts, cid, job_id, at) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?)",
                  (channel, question_ts, json.dumps(reply_ts), thread_ts, cid, job_id, self.clock()))

    def reply_to(self, channel: str, question_ts: str) -> dict | None:
        rows = self._run("SELECT reply_ts, thread_ts, cid, job_id FROM replies WHERE channel = ? AND "
                         "question_ts = ?", (channel, question_ts))
        if not rows:
            return None
        reply_ts, thread_ts, cid, job_id = rows[0]
        return {"reply_ts": json.loads(reply_ts), "thread_ts": thread_ts, "cid": cid, "job_id": job_id}

    def forget_reply(self, channel: str, question_ts: str) -> None:
        self._run("DELETE FROM replies WHERE channel = ? AND question_ts = ?", (channel, question_ts))

    # --- votes ------------------------------------------------------------------------------------
    def vote(self, user: str, message_ts: str, vote: str, entry: dict) -> bool:
        """Store a vote (the last one wins). True if it changed anything."""
        rows = self._run("SELECT vote FROM votes WHERE user = ? AND message_ts = ?", (user, message_ts))
        self._run("INSERT OR REPLACE INTO votes(user, message_ts, vote, entry, at) VALUES (?, ?, ?, ?, ?)",
                  (user, message_ts, vote, json.dumps(entry, ensure_ascii=False), self.clock()))
        return not rows or rows[0][0] != vote

    def vote_reason(self, user: str, message_ts: str, reason: str) -> bool:
        """Add a 👎's "what was wrong?" to that vote. False if the user's vote there is not a 👎
        (they changed it meanwhile, or never voted)."""
        with self._lock:
            if self._db is None:
                raise StateError(f"the state file {self.path} is not open")
            rows = self._db.execute("SELECT entry FROM votes WHERE user = ? AND message_ts = ? AND vote = 'down'",
                                    (user, message_ts)).fetchall()
            if not rows:
                return False
            entry = json.loads(rows[0][0])
            entry["reason"] = reason
            self._db.execute("UPDATE votes SET entry = ? WHERE user = ? AND message_ts = ?",
                             (json.dumps(entry, ensure_ascii=False), user, message_ts))
            return True

    def votes(self) -> list[dict]:
        return [json.loads(e) for (e,) in self._run("SELECT entry FROM votes ORDER BY at")]

    # --- escalations ------------------------------------------------------------------------------
    def escalate(self, escalation_id: str, *, user: str | None, channel: str, thread_ts: str | None,
                 message_ts: str, desk: str, entry: dict) -> bool:
        """Record a "Still need help?" click (once per id: a second click changes nothing). True if new."""
        with self._lock:
            if self._db is None:
                raise StateError(f"the state file {self.path} is not open")
            cur = self._db.execute(
                "INSERT OR IGNORE INTO escalations(id, at, user, channel, thread_ts, message_ts, desk, entry) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (escalation_id, self.clock(), user, channel, thread_ts, message_ts, desk,
                 json.dumps(entry, ensure_ascii=False)))
            return cur.rowcount > 0

    def escalation_done(self, escalation_id: str, status: str, posted_ts: str | None = None,
                        error: str | None = None) -> None:
        """How the tag in the thread ended: posted, or failed (with Slack's error)."""
        self._run("UPDATE escalations SET status = ?, posted_ts = ?, error = ? WHERE id = ?",
                  (status, posted_ts, error, escalation_id))

    def escalations_since(self, since: float) -> list[dict]:
        cols = ("id", "at", "user", "channel", "thread_ts", "message_ts", "desk", "entry", "status", "posted_ts",
                "error")
        rows = self._run(f"SELECT {', '.join(cols)} FROM escalations WHERE at >= ? ORDER BY at", (since,))
        out = []
        for row in rows:
            item = dict(zip(cols, row))
            item["entry"] = json.loads(item["entry"])
            out.append(item)
        return out

    # --- the questions ledger -----------------------------------------------------------------------
    def record_question(self, job_id: str, *, asked_at: float, kind: str, channel: str | None, user: str | None,
                        question: str, outcome: str, reason: str = "", confidence: float | None = None,
                        answers: list[dict] | None = None, seconds: dict[str, float] | None = None,
                        delivery: str = "pending", replace: bool = True) -> bool:
        """Write a question's outcome (an answered one's delivery is then 'pending'). With
        `replace=False` an existing row is kept (a redelivered refusal). True if written."""
        if delivery not in DELIVERIES:
            raise ValueError(f"delivery must be one of {DELIVERIES}, not {delivery!r}")
        seconds = seconds or {}
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        with self._lock:
            if self._db is None:
                raise StateError(f"the state file {self.path} is not open")
            cur = self._db.execute(
                f"{verb} INTO questions(job_id, asked_at, kind, channel, user, question, outcome, reason, confidence, "
                "answers, retrieve_s, choose_s, answered_at, delivery) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (job_id, asked_at, kind, channel, user, question, outcome, reason, confidence,
                 json.dumps(answers or [], ensure_ascii=False), seconds.get("retrieve"), seconds.get("choose"),
                 self.clock(), delivery))
            return cur.rowcount > 0

    def question_retried(self, job_id: str, rate_limited: bool) -> None:
        self._run("UPDATE questions SET retries = retries + 1, rate_limited = rate_limited + ? WHERE job_id = ?",
                  (int(rate_limited), job_id))

    def question_delivered(self, job_id: str, delivery: str, reply_ts: list[str]) -> float | None:
        """Record how a question's delivery ended; the seconds from answer to Slack (None: no row,
        or it was not pending)."""
        if delivery not in DELIVERIES:
            raise ValueError(f"delivery must be one of {DELIVERIES}, not {delivery!r}")
        rows = self._run("SELECT answered_at FROM questions WHERE job_id = ? AND delivery = 'pending'", (job_id,))
        if not rows:
            return None
        took = max(0.0, self.clock() - rows[0][0])
        self._run("UPDATE questions SET delivery = ?, deliver_s = ?, reply_ts = ? WHERE job_id = ?",
                  (delivery, took, json.dumps(reply_ts), job_id))
        return took

    def questions_since(self, since: float) -> list[dict]:
        """The ledger's rows asked at or after `since` (wall-clock seconds), oldest first."""
        cols = ("job_id", "asked_at", "kind", "channel", "user", "question", "outcome", "reason", "confidence",
                "answers", "retrieve_s", "choose_s", "delivery", "deliver_s", "retries", "rate_limited", "reply_ts")
        rows = self._run(f"SELECT {', '.join(cols)} FROM questions WHERE asked_at >= ? ORDER BY asked_at", (since,))
        out = []
        for row in rows:
            item = dict(zip(cols, row))
            item["answers"], item["reply_ts"] = json.loads(item["answers"]), json.loads(item["reply_ts"])
            out.append(item)
        return out

    def votes_since(self, since: float) -> list[dict]:
        """Votes cast at or after `since`: each {vote, user, message_ts, at, entry}."""
        return [{"vote": v, "user": u, "message_ts": ts, "at": at, "entry": json.loads(e)}
                for v, u, ts, at, e in self._run("SELECT vote, user, message_ts, at, entry FROM votes WHERE at >= ? "
                                                 "ORDER BY at", (since,))]

    # --- bounded memory ---------------------------------------------------------------------------
    def prune(self, *, idle_seconds: float, keep_done_seconds: float = 7 * 86400.0,
              max_conversations: int = 5000, keep_questions_seconds: float = 90 * 86400.0) -> dict[str, int]:
        """Drop what has expired; returns how many rows went from each table."""
        now = self.clock()
        with self._lock:
            if self._db is None:
                raise StateError(f"the state file {self.path} is not open")
            db = self._db
            gone = {
                "seen": db.execute("DELETE FROM seen WHERE expires_at <= ?", (now,)).rowcount,
                "threads": db.execute("DELETE FROM threads WHERE touched_at < ?", (now - idle_seconds,)).rowcount,
                "turns": db.execute("DELETE FROM turns WHERE touched_at < ? OR cid NOT IN (SELECT cid FROM turns "
                                    "ORDER BY touched_at DESC LIMIT ?)",
                                    (now - idle_seconds, max_conversations)).rowcount,
                "inbox": db.execute("DELETE FROM inbox WHERE status IN ('done', 'failed', 'cancelled') AND "
                                    "updated_at < ?", (now - keep_done_seconds,)).rowcount,
                "replies": db.execute("DELETE FROM replies WHERE at < ?", (now - keep_done_seconds,)).rowcount,
                "questions": db.execute("DELETE FROM questions WHERE asked_at < ? AND delivery != 'pending'",
                                        (now - keep_questions_seconds,)).rowcount,
                "escalations": db.execute("DELETE FROM escalations WHERE at < ?",
                                          (now - keep_questions_seconds,)).rowcount,
            }
        return gone


def _job(row: tuple) -> Job:
    seq, job_id, kind, cid, payload, status, messages, posted, attempting, tries, created_at = row
    return Job(id=job_id, kind=kind, cid=cid, payload=json.loads(payload), status=status,
               messages=None if messages is None else json.loads(messages), posted=json.loads(posted),
               attempting=attempting, tries=tries, created_at=created_at, seq=seq)
