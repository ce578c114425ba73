"""What each inbox job does: answer (once, saved), then deliver (retried until Slack has it).

Kinds and their payloads:
- question {channel, user, text, thread_ts, question_ts}: answer, post in the thread (or the DM).
- notice {channel, thread_ts, messages, ephemeral_user?}: a ready reply (help, not enabled).
- slash {channel, user, text, response_url}: answer, reply ephemerally with a Share button.
- respond {channel, user, response_url, body}: a response_url reply (a vote's thanks).
- share {channel, user, question, response_url}: post a /khabar answer in the channel.
- edit {channel, question_ts, text}: re-answer an edited question and update Khabar's reply.
- delete {channel, question_ts}: delete Khabar's reply to a deleted question.
- escalate {channel, thread_ts, user, escalation, message}: "Still need help?": tag the desk in
  the thread; how it ended is written to the state store's escalations.

While a question is answered, its message carries `slack.working_reaction` (👀), removed once
the reply is delivered (or given up). A reaction Slack refuses (no reactions:write scope,
no_permission, already_reacted, an outage) is a log line: the answer goes out as usual.
In a channel, an answer's 👍/👎 get a "Still need help?" beside them when `slack.escalate_to` is set.

`run(job)` returns None when the job is finished, or seconds until it should run again.
An apology is posted only when answering raised; a ready answer is never replaced by one.
Each question's outcome, stage times and delivery go to the state store's questions ledger
(`khabar stats`) and to the metrics (`GET /metrics`).
"""
from __future__ import annotations

import json
import logging
import time

from bot.config import Settings
from bot.format import NOT_A_QUESTION_TEXT
from bot.metrics import Metrics
from bot.slack.delivery import Delivery, Outcome, backoff
from bot.slack.actions import with_escalation
from bot.slack.format import answer_messages, apology_message, notice_message
from bot.state import Job, StateStore
from bot.understand import QuestionError, is_question

log = logging.getLogger(__name__)


#: The kinds that ask the engine something (their outcomes are counted).
ASKING = ("question", "slash", "share", "edit")
#: The kinds whose answer gets "Still need help?" in a channel.
ESCALATABLE = ("question", "edit", "share")
#: Reaction errors that are only a sign of a setup to fix (logged once at WARNING with what to do).
_REACTION_SETUP = {"missing_scope", "no_permission", "not_allowed_token_type", "invalid_name", "restricted_action"}
#: How a finished job's delivery reads in the ledger.
_DELIVERY_OF_STATUS = {"done": "posted", "failed": "failed", "cancelled": "cancelled"}


def outcome_of(result) -> str:
    if result.not_question:
        return "not_question"
    return "abstained" if result.abstained else "answered"


class Jobs:
    def __init__(self, settings: Settings, engine, store: StateStore, delivery: Delivery, metrics: Metrics):
        self.settings = settings
        self.engine = engine
        self.store = store
        self.delivery = delivery
        self.metrics = metrics
        self._reaction_warned: set[str] = set()

    def run(self, job: Job) -> float | None:
        p = job.payload
        if job.kind == "delete":
            return self._delete(job)
        if job.messages is None:
            if job.kind == "edit" and self.store.reply_to(p["channel"], p["question_ts"]) is None:
                return self._finish(job, "done")  # nothing of ours to update
            self._working(job, True)
            job.messages = self._compose(job)
            if self.settings.slack.escalate_to and job.kind in ESCALATABLE and not str(p.get("channel")).startswith("D"):
                job.messages = with_escalation(job.messages)
            job.status = "answered"
            self.store.save_progress(job)
            if job.kind == "question" and job.messages and p.get("thread_ts"):
                self.store.follow(p["channel"], p["thread_ts"])  # follow-ups there need no mention
        if job.kind in ("slash", "respond"):
            return self._respond_all(job)
        if job.kind == "edit":
            return self._edit(job)
        return self._post_all(job)

    # --- answering --------------------------------------------------------------------------------
    def _ask(self, job: Job, text: str, cid: str):
        """(result, None) or (None, a refusal or apology as message dicts); the outcome is recorded."""
        try:
            result = self.engine.ask(text, conversation_id=cid)
        except QuestionError as exc:
            self._record(job, text, "invalid", reason=str(exc))
            return None, [notice_message(str(exc)).kwargs()]
        except Exception as exc:
            log.exception("answering failed (%s): %r", cid, text[:200])
            self._record(job, text, "failed", reason=f"{type(exc).__name__}: {exc}"[:300])
            return None, [apology_message().kwargs()]
        silent = result.not_question and job.kind != "slash"  # chat gets no reply (a /khabar one says why)
        self._record(job, text, outcome_of(result), result=result, delivery="silent" if silent else "pending")
        return result, None

    def _record(self, job: Job, text: str, outcome: str, *, reason: str = "", result=None,
                delivery: str = "pending") -> None:
        answers = [{"doc_id": a.citation.doc_id, "title": a.citation.title, "sentence": a.citation.sentence,
                    "text": a.text[:300]} for a in (result.answers if result is not None else [])]
        seconds = result.seconds if result is not None else {}
        self.store.record_question(
            job.id, asked_at=job.created_at or time.time(), kind=job.kind, channel=job.payload.get("channel"),
            user=job.payload.get("user"), question=text, outcome=outcome,
            reason=result.reason if result is not None else reason,
            confidence=result.confidence if result is not None else None, answers=answers, seconds=seconds,
            delivery=delivery)
        self.metrics.question(outcome)
        for stage, took in seconds.items():
            self.metrics.stage(stage, took)

    def _compose(self, job: Job) -> list[dict]:
        p, limit = job.payload, self.settings.slack.max_message_chars
        if job.kind == "notice":
            return p["messages"]
        if job.kind == "respond":
            return [p["body"]]
        if job.kind == "escalate":
            return [p["message"]]
        if job.kind == "share":
            result, refusal = self._ask(job, p["question"], f"slack:{p['channel']}:share:{job.id}")
            if refusal:
                return refusal
            return [m.kwargs() for m in answer_messages(result, p["question"], asked_by=p.get("user"),
                                                        max_chars=limit)]
        result, refusal = self._ask(job, p["text"], job.cid)
        if refusal:
            return refusal
        if result.not_question:
            if job.kind == "slash":  # /khabar was typed on purpose: say why nothing came
                return [notice_message(NOT_A_QUESTION_TEXT).kwargs()]
            log.info("not a question, staying silent (%s): %r", job.cid, p["text"][:80])
            return []
        if job.kind == "slash":
            share = json.dumps({"k": job.id, "q": p["text"][:1500]}, ensure_ascii=False)
            return [m.kwargs() for m in answer_messages(result, p["text"], share_value=share, max_chars=limit)]
        return [m.kwargs() for m in answer_messages(result, max_chars=limit)]

    # --- delivery ---------------------------------------------------------------------------------
    def _post_all(self, job: Job) -> float | None:
        p = job.payload
        channel, thread_ts = p["channel"], p.get("thread_ts")
        while len(job.posted) < len(job.messages):
            part = len(job.posted)
            message = job.messages[part]
            if p.get("ephemeral_user"):
                outcome = self.delivery.ephemeral(channel, p["ephemeral_user"], message)
                if outcome.ok:
                    job.posted.append(outcome.data.get("message_ts", ""))
                    self.metrics.delivery("posted")
                    continue
                return self._later(job, outcome)
            if job.attempting == part:  # an earlier try may have landed: look before posting again
                ts, looked = self.delivery.find_posted(channel, thread_ts, job.id, part, job.created_at)
                if ts:
                    self._posted(job, ts)
                    continue
                if not looked.ok:
                    return self._later(job, looked)
            job.attempting = part
            self.store.save_progress(job)
            outcome = self.delivery.post(channel, thread_ts, message, job.id, part)
            if outcome.ok:
                self._posted(job, outcome.data["ts"])
            elif job.kind == "share" and outcome.kind == "fail" and p.get("response_url"):
                # Not a member of the channel: its response_url can still post there.
                job.attempting = None
                body = {"response_type": "in_channel", "replace_original": False, **message}
                out = self.delivery.respond(p["response_url"], body)
                if not out.ok:
                    return self._later(job, out)
                job.posted.append("response_url")
                self.metrics.delivery("posted")
            else:
                if outcome.retry_after is not None:
                    job.attempting = None  # a 429 never posts
                return self._later(job, outcome)
        if job.kind == "share":
            self._shared(job)
        if p.get("question_ts") and job.posted:
            self.store.record_reply(channel, p["question_ts"], job.posted, thread_ts, job.cid, job.id)
        return self._finish(job, "done")

    def _posted(self, job: Job, ts: str) -> None:
        self.metrics.delivery("posted")
        job.posted.append(ts)
        job.attempting = None
        job.tries = 0
        self.store.save_progress(job)

    def _shared(self, job: Job) -> None:
        """Replies to the shared answer are follow-ups of its question; the ephemeral original goes."""
        p = job.payload
        ts = job.posted[0] if job.posted and job.posted[0] != "response_url" else None
        if ts:
            conversations = self.engine.conversations
            for turn in conversations.history(f"slack:{p['channel']}:share:{job.id}"):
                conversations.add(f"slack:{p['channel']}:{ts}", turn)
            self.store.follow(p["channel"], ts)
        if p.get("response_url"):
            self.delivery.respond(p["response_url"], {"delete_original": True})

    def _respond_all(self, job: Job) -> float | None:
        """Ephemeral replies through the response_url; chat.postEphemeral if that fails."""
        p = job.payload
        while len(job.posted) < len(job.messages):
            message = job.messages[len(job.posted)]
            body = message if job.kind == "respond" else {"response_type": "ephemeral", **message}
            outcome = self.delivery.respond(p["response_url"], body) if p.get("response_url") else \
                Outcome("fail", error="no response_url")
            if not outcome.ok:
                log.warning("response_url failed (%s); sending job %s ephemerally instead", outcome.error, job.id)
                plain = {k: v for k, v in body.items() if k in ("text", "blocks")}
                outcome = self.delivery.ephemeral(p["channel"], p["user"], plain)
                if not outcome.ok:
                    return self._later(job, outcome)
            job.posted.append("response_url" if outcome.data == {} else outcome.data.get("message_ts", ""))
            self.metrics.delivery("posted")
            job.tries = 0
            self.store.save_progress(job)
        return self._finish(job, "done")

    def _edit(self, job: Job) -> float | None:
        """Update Khabar's reply in place; post extra parts, delete parts no longer needed."""
        p = job.payload
        reply = self.store.reply_to(p["channel"], p["question_ts"])
        if reply is None:
            return self._finish(job, "done")
        old = reply["reply_ts"]
        messages = job.messages or [notice_message(NOT_A_QUESTION_TEXT).kwargs()]
        while len(job.posted) < len(messages):
            part = len(job.posted)
            if part < len(old):
                outcome = self.delivery.update(p["channel"], old[part], messages[part])
                if not outcome.ok:
                    return self._later(job, outcome)
                self._posted(job, old[part])
            else:
                outcome = self.delivery.post(p["channel"], reply["thread_ts"], messages[part], job.id, part)
                if not outcome.ok:
                    return self._later(job, outcome)
                self._posted(job, outcome.data["ts"])
        for ts in old[len(messages):]:
            outcome = self.delivery.delete(p["channel"], ts)
            if not outcome.ok:
                return self._later(job, outcome)
        self.store.record_reply(p["channel"], p["question_ts"], job.posted, reply["thread_ts"], reply["cid"],
                                job.id)
        return self._finish(job, "done")

    def _delete(self, job: Job) -> float | None:
        p = job.payload
        reply = self.store.reply_to(p["channel"], p["question_ts"])
        for ts in (reply or {}).get("reply_ts", []):
            outcome = self.delivery.delete(p["channel"], ts)
            if not outcome.ok:
                return self._later(job, outcome)
        if reply is not None:
            self.store.forget_reply(p["channel"], p["question_ts"])
        return self._finish(job, "done")

    # --- bookkeeping ------------------------------------------------------------------------------
    def _later(self, job: Job, outcome: Outcome) -> float | None:
        """Reschedule after a 429's Retry-After or a backoff step, unless past the deadline."""
        if outcome.kind == "fail":
            log.error("Slack refused job %s (%s in %s): %s", job.id, job.kind, job.payload.get("channel"),
                      outcome.error)
            return self._finish(job, "failed", outcome.error)
        job.tries += 1
        delay = outcome.retry_after if outcome.retry_after is not None else backoff(self.settings.slack, job.tries)
        if time.time() + delay > job.created_at + self.settings.slack.delivery_deadline_seconds:
            log.error("gave up on job %s after %.0f s: %s", job.id, time.time() - job.created_at, outcome.error)
            return self._finish(job, "failed", outcome.error)
        log.warning("job %s: %s; trying again in %.1f s", job.id, outcome.error, delay)
        rate_limited = outcome.retry_after is not None
        self.metrics.delivery("rate_limited" if rate_limited else "retried")
        if job.kind in ASKING:
            self.store.question_retried(job.id, rate_limited)
        self.store.save_progress(job)
        return delay

    def _working(self, job: Job, add: bool) -> None:
        """👀 on a question being answered (add), taken off when it is answered; never raises."""
        p, name = job.payload, self.settings.slack.working_reaction
        if not name or job.kind != "question" or not p.get("question_ts") or not is_question(p.get("text") or ""):
            return  # chat gets no reply, so no sign of work either
        try:
            outcome = self.delivery.react(p["channel"], p["question_ts"], name, add=add)
        except Exception as exc:  # noqa: BLE001 - a reaction must never cost an answer
            outcome = Outcome("fail", error=f"{type(exc).__name__}: {exc}")
        if outcome.ok:
            return
        verb = "reactions.add" if add else "reactions.remove"
        if outcome.error in ("already_reacted", "no_reaction"):  # a retried job, or someone took it off
            log.debug("%s :%s: on %s %s: %s", verb, name, p["channel"], p["question_ts"], outcome.error)
        elif outcome.error in _REACTION_SETUP and outcome.error not in self._reaction_warned:
            self._reaction_warned.add(outcome.error)
            log.warning("%s :%s: refused (%s): give the Slack app the reactions:write bot scope and reinstall it, "
                        "or set KHABAR_SLACK_WORKING_REACTION= to stop trying; answers are not affected",
                        verb, name, outcome.error)
        else:
            log.info("%s :%s: on %s %s failed (%s); answers are not affected", verb, name, p["channel"],
                     p["question_ts"], outcome.error)

    def _finish(self, job: Job, status: str, error: str | None = None) -> None:
        self.store.finish(job, status, error)
        self._working(job, False)
        if job.kind == "escalate":
            self.store.escalation_done(job.payload["escalation"], "posted" if status == "done" else status,
                                       job.posted[0] if job.posted else None, error)
            if status != "done":
                log.error("could not tag the desk in %s (thread %s) for %s: %s", job.payload.get("channel"),
                          job.payload.get("thread_ts"), job.payload.get("user"), error)
        if status == "failed":
            self.metrics.delivery("failed")
        if job.kind in ASKING:
            took = self.store.question_delivered(job.id, _DELIVERY_OF_STATUS[status], job.posted)
            if took is not None and status == "done":
                self.metrics.stage("deliver", took)
        return None
