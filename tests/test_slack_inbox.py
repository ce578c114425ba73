"""The inbox's scheduling: per-conversation order, rescheduling without holding a worker, recovery."""
from __future__ import annotations

import threading
import time

from bot.slack.inbox import Inbox
from bot.state import Job, StateStore


def _store(tmp_path):
    return StateStore(tmp_path / "state.sqlite3").open()


def test_one_conversation_in_order_others_not_held_up(tmp_path):
    store = _store(tmp_path)
    order, gate = [], threading.Event()

    def work(job):
        if job.id == "a1":
            gate.wait(5)  # the first question of conversation a is slow
        order.append(job.id)
        store.finish(job, "done")

    inbox = Inbox(store, work, workers=3)
    inbox.start()
    for jid, cid in (("a1", "a"), ("a2", "a"), ("b1", "b")):
        assert inbox.accept(Job(id=jid, kind="q", cid=cid, payload={}), [f"k:{jid}"])
    deadline = time.monotonic() + 5
    while "b1" not in order and time.monotonic() < deadline:
        time.sleep(0.01)
    assert order == ["b1"]  # b is answered while a1 is still running; a2 waits for a1
    gate.set()
    assert inbox.wait_idle(5)
    assert order == ["b1", "a1", "a2"]
    assert not inbox.accept(Job(id="a1", kind="q", cid="a", payload={}), [])  # a duplicate
    inbox.close()


def test_a_delayed_job_frees_its_worker(tmp_path):
    """One worker: a job told to come back in 0.5 s (a 429) lets another conversation through first."""
    store = _store(tmp_path)
    seen = []

    def work(job):
        seen.append((job.id, time.monotonic()))
        if job.id == "limited" and len([s for s in seen if s[0] == "limited"]) == 1:
            return 0.5
        store.finish(job, "done")
        return None

    inbox = Inbox(store, work, workers=1)
    inbox.start()
    inbox.accept(Job(id="limited", kind="q", cid="c1", payload={}), [])
    inbox.accept(Job(id="other", kind="q", cid="c2", payload={}), [])
    assert inbox.wait_idle(5)
    ids = [s[0] for s in seen]
    assert ids == ["limited", "other", "limited"]
    assert seen[2][1] - seen[0][1] >= 0.45
    inbox.close()


def test_unfinished_jobs_recovered_and_cancelled_skipped(tmp_path):
    store = _store(tmp_path)
    for jid in ("j1", "j2", "j3"):
        store.accept(Job(id=jid, kind="q", cid="c", payload={}), [], 60)
    store.cancel_pending("j2")
    done = []

    def work(job):
        done.append(job.id)
        store.finish(job, "done")

    inbox = Inbox(store, work, workers=2)
    assert inbox.start() == 2
    assert inbox.wait_idle(5) and done == ["j1", "j3"]
    inbox.close()


def test_a_crashing_step_is_retried_not_lost(tmp_path):
    store = _store(tmp_path)
    calls = []

    def work(job):
        calls.append(job.id)
        if len(calls) == 1:
            raise RuntimeError("boom")
        store.finish(job, "done")

    inbox = Inbox(store, work, workers=1)
    inbox._retry_after_crash = 0.05
    inbox.start()
    inbox.accept(Job(id="j", kind="q", cid="c", payload={}), [])
    assert inbox.wait_idle(5) and calls == ["j", "j"]
    inbox.close()
