"""The SQLite state store: what the Slack bot keeps across kill -9 (real files, real sqlite3)."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading

import pytest

from bot.state import Job, StateError, StateStore


@pytest.fixture()
def store(tmp_path):
    s = StateStore(tmp_path / "state.sqlite3").open()
    yield s
    s.close()


def test_wal_and_full_sync(store):
    db = sqlite3.connect(store.path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # WAL is a property of the file
    # synchronous is one connection's setting: ask the store's own connection (2 is FULL).
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2


def test_full_sync_is_set_not_inherited(tmp_path, monkeypatch):
    """synchronous=FULL comes from the store, not from this SQLite build's default (FULL here).

    Every connection the store opens starts at OFF, as under a build compiled with another
    default; the store must still end up at FULL.
    """
    import bot.state

    real_connect = sqlite3.connect

    def connect_with_sync_off(*args, **kwargs):
        db = real_connect(*args, **kwargs)
        db.execute("PRAGMA synchronous=OFF")
        return db

    monkeypatch.setattr(bot.state.sqlite3, "connect", connect_with_sync_off)
    s = StateStore(tmp_path / "state.sqlite3").open()
    try:
        assert s._db.execute("PRAGMA synchronous").fetchone()[0] == 2, "the state store must set synchronous=FULL"
        assert s._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        s.close()


def test_accept_dedupes_across_keys_and_restarts(tmp_path):
    path = tmp_path / "state.sqlite3"
    s = StateStore(path).open()
    job = Job(id="msg:C1:1.0", kind="question", cid="slack:C1:1.0", payload={"text": "Who is Mahima Kaul?"})
    assert s.accept(job, ["event:Ev1", "ts:C1:1.0"], ttl_seconds=60)
    assert job.seq > 0 and job.created_at > 0
    assert not s.accept(Job(id="msg:C1:1.0", kind="question", cid="x", payload={}), ["event:Ev2"], 60)
    assert not s.accept(None, ["event:Ev1"], 60)  # a Slack retry of the same event
    s.close()
    s = StateStore(path).open()  # a new process sees the same memory
    assert not s.accept(Job(id="other", kind="question", cid="x", payload={}), ["ts:C1:1.0"], 60)
    [left] = s.open_jobs()
    assert left.id == "msg:C1:1.0" and left.payload["text"] == "Who is Mahima Kaul?"
    s.close()


def test_dedupe_keys_expire():
    now = [1000.0]
    s = StateStore(":memory:", clock=lambda: now[0])
    s.open()
    assert s.accept(None, ["event:Ev1"], ttl_seconds=10)
    now[0] += 11
    assert s.accept(None, ["event:Ev1"], ttl_seconds=10)
    gone = s.prune(idle_seconds=5)
    assert gone["seen"] == 0  # the re-claimed key is alive again
    now[0] += 11
    assert s.prune(idle_seconds=5)["seen"] == 1
    s.close()


def test_job_progress_survives_reopen(tmp_path):
    path = tmp_path / "state.sqlite3"
    s = StateStore(path).open()
    job = Job(id="j1", kind="question", cid="c", payload={"channel": "C1"})
    s.accept(job, [], 60)
    job.messages, job.status, job.posted, job.attempting = [{"text": "a"}, {"text": "b"}], "answered", ["1.1"], 1
    s.save_progress(job)
    s.close()
    s = StateStore(path).open()
    [j] = s.open_jobs()
    assert (j.messages, j.posted, j.attempting, j.status) == ([{"text": "a"}, {"text": "b"}], ["1.1"], 1, "answered")
    s.finish(j, "done")
    assert s.open_jobs() == [] and s.counts() == {"done": 1}
    with pytest.raises(ValueError):
        s.finish(j, "nearly")
    s.close()


def test_cancel_only_unanswered(store):
    a, b = Job(id="a", kind="question", cid="c", payload={}), Job(id="b", kind="question", cid="c", payload={})
    store.accept(a, [], 60)
    store.accept(b, [], 60)
    b.status, b.messages = "answered", []
    store.save_progress(b)
    assert store.cancel_pending("a") and not store.cancel_pending("b") and not store.cancel_pending("zz")
    assert [j.id for j in store.open_jobs()] == ["b"]


def test_threads_turns_replies_and_votes(store):
    store.follow("C1", "1.0")
    assert store.is_followed("C1", "1.0", idle_seconds=60) and not store.is_followed("C1", "2.0", 60)
    store.save_turns("cid", [{"question": "q"}])
    assert store.load_turns("cid", 60) == [{"question": "q"}] and store.load_turns("nope", 60) == []
    store.forget_turns("cid")
    assert store.load_turns("cid", 60) == []
    store.record_reply("C1", "1.0", ["1.1", "1.2"], "1.0", "cid", "job")
    assert store.reply_to("C1", "1.0") == {"reply_ts": ["1.1", "1.2"], "thread_ts": "1.0", "cid": "cid", "job_id": "job"}
    store.forget_reply("C1", "1.0")
    assert store.reply_to("C1", "1.0") is None
    assert store.vote("U1", "9.9", "up", {"vote": "up"})
    assert not store.vote("U1", "9.9", "up", {"vote": "up"})  # the same vote again changes nothing
    assert store.vote("U1", "9.9", "down", {"vote": "down"})
    assert store.votes() == [{"vote": "down"}]


def test_concurrent_accepts_are_exactly_once(store):
    won = []

    def racer(n):
        for i in range(50):
            if store.accept(Job(id=f"j{i}", kind="q", cid="c", payload={}), [f"k{i}"], 60):
                won.append(i)

    threads = [threading.Thread(target=racer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(won) == list(range(50))


def test_committed_job_survives_kill_9(tmp_path):
    """A job accepted in a process that is then killed (SIGKILL) is there for the next one."""
    path = tmp_path / "state.sqlite3"
    code = (f"import os, signal\nfrom bot.state import Job, StateStore\ns = StateStore({str(path)!r}).open()\n"
            "s.accept(Job(id='j', kind='question', cid='c', payload={'text': 'q'}), ['event:E'], 60)\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert proc.returncode == -9
    s = StateStore(path).open()
    assert [j.id for j in s.open_jobs()] == ["j"] and not s.accept(None, ["event:E"], 60)
    s.close()


def test_unwritable_state_file_is_one_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StateError, match="KHABAR_SLACK_STATE_FILE"):
        StateStore(blocker / "state.sqlite3").open()
    with pytest.raises(StateError, match="not open"):
        StateStore(tmp_path / "s.sqlite3").job("x")


def test_feedback_one_vote_per_user_and_message(tmp_path, store):
    from bot.feedback import FeedbackError, FeedbackLog, read_feedback

    log = FeedbackLog(tmp_path / "feedback.jsonl", store=store)
    value = json.dumps({"v": 1, "q": "Who?", "ab": False, "a": [["doc1", 3, [["doc2", 1]]]]})
    for vote in ("up", "up", "down"):
        log.record_button(vote=vote, value=value, user="U1", channel="C1", message_ts="1.1")
    log.record_button(vote="up", value=value, user="U2", channel="C1", message_ts="1.1")
    entries = read_feedback(log.path)
    assert [(e["user"], e["vote"]) for e in entries] == [("U1", "down"), ("U2", "up")]
    assert entries[0]["answer_ids"] == ["doc1#3", "doc2#1"]
    for junk in ("not json", "{}", json.dumps({"v": 1, "q": "x", "a": [["d", "three"]]}), "[1]"):
        with pytest.raises(FeedbackError):
            log.record_button(vote="up", value=junk, user="U3", message_ts="1.1")
    assert len(read_feedback(log.path)) == 2
