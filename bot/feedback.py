"""👍 / 👎 feedback from Slack: one vote per user and message (the last wins), kept in the
state store and exported to a JSONL file the evaluation script reads.

One line per (user, message), rewritten atomically whenever a vote changes:

    {"at": "2021-02-10T04:35:00+00:00", "source": "slack", "vote": "up", "user": "U123",
     "channel": "C123", "message_ts": "1612931700.000100", "question": "...", "abstained": false,
     "answers": [{"doc_id": "003_...", "sentence": 4, "also_in": [{"doc_id": "...", "sentence": 2}]}],
     "answer_ids": ["003_...#4", "..."]}

`answer_ids` lists every cited sentence (`doc_id#sentence`, sentence positions 1-based as in
the citations), answers first, the "also in" citations after their answer. A 👎 may gain a
`"reason"`: what the voter said was wrong (the optional modal 👎 opens).

`khabar feedback export --since 7d` turns the 👎 into an evaluation file (`downvoted_items`):
one JSON line per downvoted answer,

    {"id": "C123:1612931700.000100", "question": "...", "voted_at": "...", "downvotes": 2,
     "reasons": ["an old figure"], "abstained": false, "first": "003_...#4",
     "downvoted": [{"doc_id": "003_...", "sentence": 4, "text": "..."}], "answer_ids": [...]}

which `scripts/evaluate.py --feedback FILE` asks again and scores (is the downvoted sentence
still quoted first? what is quoted now?), so the desk's complaints become tests.
"""
from __future__ import annotations

import json
import logging
import os
import threading
from datetime import datetime, timezone
from pathlib import Path

log = logging.getLogger(__name__)

VOTES = ("up", "down")


class FeedbackError(ValueError):
    """A vote that cannot be recorded (a malformed button value, no user)."""


def parse_value(value: str) -> dict:
    """The button value written by `bot.slack.actions.feedback_value`, as a feedback record's body.

    Raises FeedbackError for anything that button did not write, so no junk line is recorded.
    """
    try:
        data = json.loads(value)
    except (TypeError, ValueError):
        raise FeedbackError("the button value is not JSON") from None
    if not isinstance(data, dict) or data.get("v") != 1 or not isinstance(data.get("a", []), list) or \
            not isinstance(data.get("q"), str):
        raise FeedbackError("the button value is not a Khabar feedback value")
    answers = []
    ids = []
    for item in data.get("a") or []:
        try:
            doc_id, sentence, also = str(item[0]), int(item[1]), item[2] if len(item) > 2 else []
            also_in = [{"doc_id": str(d), "sentence": int(s)} for d, s in also]
        except (TypeError, ValueError, IndexError, KeyError):
            raise FeedbackError("the button value names a malformed citation") from None
        answers.append({"doc_id": doc_id, "sentence": sentence, "also_in": also_in})
        ids.append(f"{doc_id}#{sentence}")
        ids.extend(f"{a['doc_id']}#{a['sentence']}" for a in also_in)
    return {"question": data.get("q"), "abstained": bool(data.get("ab")), "answers": answers, "answer_ids": ids}


class FeedbackLog:
    """Votes: upserted into the state store when there is one (then the JSONL file is its export),
    else appended to the JSONL file. Safe to call from many threads."""

    def __init__(self, path: Path, store=None):
        self.path = Path(path)
        self.store = store
        self._lock = threading.Lock()

    def record(self, *, vote: str, user: str | None, question: str | None, answers: list[dict],
               answer_ids: list[str] | None = None, abstained: bool | None = None, channel: str | None = None,
               message_ts: str | None = None, source: str = "slack", at: datetime | None = None) -> dict:
        if vote not in VOTES:
            raise ValueError(f"vote must be one of {VOTES}, not {vote!r}")
        entry = {
            "at": (at or datetime.now(timezone.utc)).isoformat(timespec="seconds"),
            "source": source,
            "vote": vote,
            "user": user,
            "channel": channel,
            "message_ts": message_ts,
            "question": question,
            "abstained": abstained,
            "answers": answers,
            "answer_ids": answer_ids if answer_ids is not None else
            [f"{a['doc_id']}#{a['sentence']}" for a in answers],
        }
        if self.store is not None:
            if not user or not message_ts:
                raise FeedbackError("a vote needs its user and message")
            with self._lock:
                if self.store.vote(user, message_ts, vote, entry):
                    self._export()
            return entry
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # One write() on an O_APPEND descriptor: lines from concurrent writers never interleave.
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                os.write(fd, line.encode("utf-8"))
            finally:
                os.close(fd)
        return entry

    def _export(self) -> None:
        """Rewrite the JSONL file from the store's votes, atomically (readers never see half a file)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as f:
            for entry in self.store.votes():
                f.write(json.dumps(entry, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def record_reason(self, *, user: str | None, message_ts: str | None, reason: str) -> bool:
        """Attach a 👎's "what was wrong?" to that vote (state store only). False if there is no 👎
        of this user on that message to attach it to."""
        if self.store is None or not user or not message_ts:
            return False
        with self._lock:
            if not self.store.vote_reason(user, message_ts, reason):
                return False
            self._export()
        return True

    def record_button(self, *, vote: str, value: str, user: str | None, channel: str | None = None,
                      message_ts: str | None = None) -> dict:
        """Record a vote from a 👍/👎 button whose value `bot.slack.actions.feedback_value` wrote."""
        return self.record(vote=vote, user=user, channel=channel, message_ts=message_ts, **parse_value(value))


def read_feedback(path: Path) -> list[dict]:
    """Every record in the log (an unreadable line is skipped with a warning)."""
    path = Path(path)
    if not path.exists():
        return []
    out = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except ValueError:
                log.warning("%s line %d is not JSON; skipped", path, n)
    return out


def downvoted_items(votes: list[dict], questions: list[dict]) -> list[dict]:
    """The evaluation items of `khabar feedback export`: one per answer some vote (the last of
    each person) calls not helpful, oldest first. `votes` and `questions` are the state store's
    `votes_since` and `questions_since` rows; a question's ledger row gives the full question and
    the quoted sentences' text (its row is found by the ts of Khabar's reply)."""
    by_reply = {(q.get("channel"), ts): q for q in questions for ts in q.get("reply_ts") or []}
    items: dict[tuple, dict] = {}
    for v in votes:
        if v["vote"] != "down":
            continue
        e = v["entry"]
        key = (e.get("channel"), v["message_ts"])
        item = items.get(key)
        if item is None:
            asked = by_reply.get(key) or {}
            texts = {(a.get("doc_id"), a.get("sentence")): a.get("text") for a in asked.get("answers") or []}
            downvoted = [{"doc_id": a["doc_id"], "sentence": a["sentence"],
                          "text": texts.get((a["doc_id"], a["sentence"]))} for a in e.get("answers") or []]
            item = items[key] = {
                "id": f"{key[0]}:{key[1]}", "question": asked.get("question") or e.get("question"),
                "asked_at": _iso(asked["asked_at"]) if asked.get("asked_at") else None,
                "voted_at": e.get("at"), "channel": key[0], "message_ts": key[1], "downvotes": 0, "reasons": [],
                "abstained": bool(e.get("abstained")),
                "first": f"{downvoted[0]['doc_id']}#{downvoted[0]['sentence']}" if downvoted else None,
                "downvoted": downvoted, "answer_ids": e.get("answer_ids") or []}
        item["downvotes"] += 1
        item["voted_at"] = max(item["voted_at"] or "", e.get("at") or "") or None
        if e.get("reason"):
            item["reasons"].append(e["reason"])
    return list(items.values())


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds")


def write_items(items: list[dict], out) -> None:
    """JSON lines to a text stream."""
    for item in items:
        out.write(json.dumps(item, ensure_ascii=False) + "\n")


def read_items(path: Path) -> list[dict]:
    """A `khabar feedback export` file; raises FeedbackError naming the line that is not one."""
    path = Path(path)
    if not path.exists():
        raise FeedbackError(f"{path} not found; write it with `khabar feedback export --since 7d --out {path}`")
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            raise FeedbackError(f"{path} line {n} is not JSON; is it a `khabar feedback export` file?") from None
        if not isinstance(item, dict) or not isinstance(item.get("question"), str) or "answer_ids" not in item:
            raise FeedbackError(f"{path} line {n} is not a downvoted question (no question / answer_ids); "
                                f"write the file with `khabar feedback export`")
        items.append(item)
    return items
