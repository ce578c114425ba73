"""Bolt listeners: small functions that turn a Slack request into an inbox job, before the ack.

The App runs with process_before_response, so a listener finishes (the job is in SQLite)
before bolt acknowledges the request: an acked question is never only in memory. Nothing here
calls Slack but `views.open` (a 👎's "what was wrong?" modal, which must open within the click's
3 s trigger, through the injected `client`); every reply is a job the inbox delivers. The bot (`KhabarBot`) reaches the
listeners through the context, set by the `inject` middleware.
"""
from __future__ import annotations

import json
import logging
import re
import time

from slack_bolt import App
from slack_bolt.response import BoltResponse

from bot.feedback import FeedbackError, parse_value
from bot.slack import filters
from bot.slack.actions import (ACTION_ESCALATE, ACTION_FEEDBACK_DOWN, ACTION_FEEDBACK_UP, ACTION_SHARE,
                               MAX_REASON_CHARS, REASON_BLOCK, REASON_INPUT, VIEW_REASON, reason_view)
from bot.slack.delivery import call
from bot.slack.mrkdwn import clip, escape, slack_to_plain
from bot.state import OPEN_STATUSES, Job
from bot.understand import is_greeting, is_help_request

log = logging.getLogger(__name__)

#: Payload types bolt has listeners for; anything else (e.g. app_rate_limited) is acked and logged.
_KNOWN_PAYLOADS = {"event_callback", "url_verification", "block_actions", "interactive_message", "shortcut",
                   "message_action", "view_submission", "view_closed", "block_suggestion"}


# --- middleware and matchers ---------------------------------------------------------------------------

def ack_unknown_payloads(body, next):
    if not isinstance(body, dict) or "command" in body or body.get("type") in _KNOWN_PAYLOADS:
        return next()
    log.info("acknowledged a payload of unknown type %r", body.get("type") if isinstance(body, dict) else body)
    return BoltResponse(status=200, body="")


def from_a_person(event, context) -> bool:
    return event.get("subtype") in filters.HUMAN_SUBTYPES and not filters.is_from_bot(event, context.bot_user_id)


def _subtype(name: str):
    def matcher(event) -> bool:
        return event.get("subtype") == name
    return matcher


def _dedupe_keys(body: dict, channel: str, ts: str, event: dict) -> list[str]:
    keys = [f"ts:{channel}:{ts}"]
    if body.get("event_id"):
        keys.append("event:" + body["event_id"])
    if event.get("client_msg_id"):
        keys.append("msg:" + event["client_msg_id"])
    return keys


# --- messages ------------------------------------------------------------------------------------------

def on_mention(body, event, context):
    _take_question(context["khabar"], body, event, context.bot_user_id, "mention")


def on_message(body, event, context):
    khabar, bot_user_id = context["khabar"], context.bot_user_id
    raw, channel, ts, thread_ts = event.get("text") or "", event.get("channel"), event.get("ts"), event.get("thread_ts")
    if filters.mentions_bot(raw, bot_user_id):
        return  # the app_mention event carries it
    if filters.is_dm(event):
        _take_question(khabar, body, event, bot_user_id, "dm")
    elif thread_ts and thread_ts != ts and khabar.follows(channel, thread_ts):
        if filters.thread_reply_for_bot(raw, slack_to_plain(raw, bot_user_id), bot_user_id):
            _take_question(khabar, body, event, bot_user_id, "thread")
        else:
            log.debug("thread chat, not for Khabar (%s): %r", channel, raw[:80])


def _take_question(khabar, body: dict, event: dict, bot_user_id: str | None, source: str) -> None:
    channel, ts, user = event.get("channel"), event.get("ts"), event.get("user")
    if not channel or not ts:
        return
    dm, thread_ts = filters.is_dm(event), event.get("thread_ts")
    reply_ts = None if dm and not thread_ts else (thread_ts or ts)
    cid = f"slack:{channel}" if reply_ts is None else f"slack:{channel}:{reply_ts}"
    text = slack_to_plain(event.get("text") or "", bot_user_id)
    payload = {"channel": channel, "user": user, "thread_ts": reply_ts, "question_ts": ts, "source": source}
    if not khabar.policy.allows(channel, user, dm):
        log.info("not answering %s in %s (allowed_channels / allowed_users)", user, channel)
        _refused(khabar, f"msg:{channel}:{ts}", source, channel, user, text)
        if source != "mention" or not user:
            return
        kind, payload["messages"], payload["ephemeral_user"] = "notice", [khabar.notice(khabar.policy.refusal(dm))], user
    elif is_help_request(text) or is_greeting(text) or (source == "mention" and not text.strip()):
        kind, payload["messages"] = "notice", [khabar.help]  # never an archive quote
    else:
        kind, payload["text"] = "question", text
    job = Job(id=f"msg:{channel}:{ts}", kind=kind, cid=cid, payload=payload)
    if khabar.inbox.accept(job, _dedupe_keys(body, channel, ts, event)):
        if kind == "notice" and reply_ts and not dm:
            khabar.store.follow(channel, reply_ts)
    else:
        log.info("dropped a duplicate delivery of %s (event %s)", job.id, body.get("event_id"))


def _refused(khabar, job_id: str, kind: str, channel: str | None, user: str | None, text: str) -> None:
    """Count a question the policy refused, once however often Slack delivers it."""
    if khabar.store.record_question(job_id, asked_at=time.time(), kind=kind, channel=channel, user=user,
                                    question=text, outcome="refused", reason="allowed_channels / allowed_users",
                                    delivery="silent", replace=False):
        khabar.metrics.question("refused")


def _answer_cid(khabar, channel: str, ts: str) -> str | None:
    """The conversation of Khabar's reply to a question: answered, or still being posted (its
    edit or delete then queues behind it). None if Khabar has no reply to it."""
    reply = khabar.store.reply_to(channel, ts)
    if reply is not None:
        return reply["cid"]
    question = khabar.store.job(f"msg:{channel}:{ts}")
    if question is not None and question.kind == "question" and question.status in OPEN_STATUSES:
        return question.cid
    return None


def on_message_changed(body, event, context):
    khabar, new = context["khabar"], event.get("message") or {}
    channel, ts = event.get("channel"), new.get("ts")
    if not channel or not ts or filters.is_from_bot(new, context.bot_user_id):
        return
    cid = _answer_cid(khabar, channel, ts)
    if cid is None:
        return  # not a question Khabar answered
    text = slack_to_plain(new.get("text") or "", context.bot_user_id)
    if text == slack_to_plain((event.get("previous_message") or {}).get("text") or "", context.bot_user_id):
        return  # an unfurl or a reaction, not a new wording
    job = Job(id=f"edit:{channel}:{ts}:{event.get('event_ts') or body.get('event_id')}", kind="edit",
              cid=cid, payload={"channel": channel, "question_ts": ts, "text": text})
    khabar.inbox.accept(job, ["event:" + body["event_id"]] if body.get("event_id") else [])


def on_message_deleted(body, event, context):
    khabar = context["khabar"]
    channel, ts = event.get("channel"), event.get("deleted_ts") or (event.get("previous_message") or {}).get("ts")
    if not channel or not ts:
        return
    if khabar.store.cancel_pending(f"msg:{channel}:{ts}"):
        log.info("question %s:%s deleted before it was answered; dropped", channel, ts)
    cid = _answer_cid(khabar, channel, ts)
    if cid is not None:
        job = Job(id=f"delete:{channel}:{ts}", kind="delete", cid=cid,
                  payload={"channel": channel, "question_ts": ts})
        khabar.inbox.accept(job, ["event:" + body["event_id"]] if body.get("event_id") else [])


# --- /khabar and buttons -----------------------------------------------------------------------------------

def on_command(ack, command, context):
    khabar = context["khabar"]
    channel, user = command.get("channel_id"), command.get("user_id")
    text = slack_to_plain(command.get("text") or "", context.bot_user_id)
    dm = command.get("channel_name") == "directmessage" or str(channel or "").startswith("D")
    job_id = f"cmd:{command.get('trigger_id') or f'{channel}:{text}'}"
    if not khabar.policy.allows(channel, user, dm):
        _refused(khabar, job_id, "slash", channel, user, text)
        return ack(text=khabar.policy.refusal(dm))
    if not text or text.lower() in ("help", "?"):
        return ack(text=khabar.help_text)
    job = Job(id=job_id, kind="slash",
              cid=f"slack:{channel}:slash:{user}",
              payload={"channel": channel, "user": user, "text": text, "response_url": command.get("response_url")})
    khabar.inbox.accept(job, [])
    ack()


def on_share(ack, body, action, context):
    khabar, user, channel = context["khabar"], (body.get("user") or {}).get("id"), _channel_of(body)
    try:
        question = str(json.loads(action.get("value") or "{}").get("q") or "")
    except (ValueError, AttributeError):
        question = ""
    if question and channel:
        job_id = f"share:{body.get('trigger_id') or action.get('action_ts')}"
        job = Job(id=job_id, kind="share", cid=job_id, payload={"channel": channel, "user": user, "question": question,
                                                         "response_url": body.get("response_url")})
        khabar.inbox.accept(job, [])
    ack()


def on_feedback(ack, body, action, context, client):
    khabar = context["khabar"]
    vote = "up" if action.get("action_id") == ACTION_FEEDBACK_UP else "down"
    user, channel = (body.get("user") or {}).get("id"), _channel_of(body)
    message_ts = (body.get("container") or {}).get("message_ts")
    try:
        khabar.feedback.record_button(vote=vote, value=action.get("value") or "", user=user, channel=channel,
                                      message_ts=message_ts)
        khabar.metrics.vote(vote)
        if vote == "down" and body.get("trigger_id"):
            _ask_reason(client, body["trigger_id"], channel, message_ts)
        thanks = "Thanks, noted \U0001F44D" if vote == "up" else \
            "Thanks, noted \U0001F44E. The desk reviews these to improve the answers."
    except FeedbackError as exc:
        log.warning("refused a vote from %s: %s", user, exc)
        thanks = "Sorry, that vote could not be recorded (the button was not one of Khabar's answers)."
    _tell(khabar, body, action, user, channel, thanks, what="vote")
    ack()


def _ask_reason(client, trigger_id: str, channel: str | None, message_ts: str | None) -> None:
    """The optional "what was wrong?" modal; if Slack will not open it, a log line (the vote is kept)."""
    try:
        outcome = call(client.views_open, trigger_id=trigger_id, view=reason_view(channel, message_ts))
    except Exception as exc:  # noqa: BLE001 - the modal is optional, the vote is already recorded
        log.warning("could not open the \"what was wrong?\" modal: %s: %s", type(exc).__name__, exc)
        return
    if not outcome.ok:
        log.warning("could not open the \"what was wrong?\" modal (views.open: %s); the vote is recorded "
                    "without a reason", outcome.error)


def on_feedback_reason(ack, body, view, context):
    """The modal's Send: the reason joins the 👎 it was asked for (an empty one changes nothing)."""
    ack()
    khabar, user = context["khabar"], (body.get("user") or {}).get("id")
    try:
        where = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        where = {}
    value = (((view.get("state") or {}).get("values") or {}).get(REASON_BLOCK) or {}).get(REASON_INPUT) or {}
    reason = " ".join(str(value.get("value") or "").split())[:MAX_REASON_CHARS]
    if not reason:
        return
    if khabar.feedback.record_reason(user=user, message_ts=where.get("m"), reason=reason):
        log.info("reason for a 👎 from %s on %s: %r", user, where.get("m"), reason[:80])
    else:
        log.info("a reason from %s for %s, where their vote is no longer 👎; not recorded", user, where.get("m"))


def on_escalate(ack, body, action, context):
    """Still need help?: record it (once per person and answer), then tag the desk in the thread."""
    khabar = context["khabar"]
    user, channel = (body.get("user") or {}).get("id"), _channel_of(body)
    container, message = body.get("container") or {}, body.get("message") or {}
    message_ts = container.get("message_ts") or message.get("ts")
    thread_ts = container.get("thread_ts") or message.get("thread_ts") or message_ts
    try:
        entry = parse_value(action.get("value") or "")
    except FeedbackError as exc:
        log.warning("refused an escalation from %s: %s", user, exc)
        entry = None
    if not khabar.desk or entry is None or not channel or not message_ts:
        why = ("no desk is set up for this (an admin sets slack.escalate_to)" if not khabar.desk else
               "the button was not one of Khabar's answers")
        _tell(khabar, body, action, user, channel, f"Sorry, I could not pass this to the desk: {why}. "
                                                   "Please ask a colleague in the channel.")
        ack()
        return
    eid = f"escalate:{channel}:{message_ts}:{user}"
    if khabar.store.escalate(eid, user=user, channel=channel, thread_ts=thread_ts, message_ts=message_ts,
                             desk=khabar.desk, entry=entry):
        who = f"<@{user}>" if user and re.fullmatch(r"[UW][A-Z0-9]{2,20}", user) else "A reporter"
        text = (f"{khabar.desk} {who} still needs help with this answer to "
                f"\u201c{clip(escape(str(entry.get('question') or '')), 300)}\u201d. Could someone from the desk look?")
        job = Job(id=eid, kind="escalate", cid=f"slack:{channel}:{thread_ts}",
                  payload={"channel": channel, "thread_ts": thread_ts, "user": user, "escalation": eid,
                           "message": {"text": text}})
        khabar.inbox.accept(job, [])
    else:
        log.info("%s asked the desk about %s:%s again; tagged once", user, channel, message_ts)
    ack()


def _tell(khabar, body: dict, action: dict, user: str | None, channel: str | None, text: str,
          what: str = "tell") -> None:
    """An ephemeral note to whoever clicked, through the click's response_url (`what` names the job:
    one per click, so a redelivered click is not told twice)."""
    if body.get("response_url"):
        job = Job(id=f"{what}:{body.get('trigger_id') or action.get('action_ts')}", kind="respond",
                  cid=f"{what}:{user}", payload={"channel": channel, "user": user,
                                               "response_url": body.get("response_url"),
                                               "body": {"response_type": "ephemeral", "replace_original": False,
                                                        "text": text}})
        khabar.inbox.accept(job, [])


def _channel_of(body: dict) -> str | None:
    return (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")


# --- the rest: acknowledged and logged, so Slack never retries it and nothing crashes -------------------------

def on_other_event(event):
    log.debug("ignored event of type %s/%s", event.get("type"), event.get("subtype"))


def on_other_action(ack, action):
    ack()
    log.info("ignored action %s", action.get("action_id"))


def on_other_command(ack, command):
    ack(text=f"Khabar does not know the command {command.get('command')}; try /khabar.")


def just_ack(ack):
    ack()


def on_error(error, body):
    log.error("error in a Slack listener (%s): %s", (body or {}).get("type"), error, exc_info=error)


def register(app: App, khabar) -> None:
    @app.middleware
    def inject(context, next):
        context["khabar"] = khabar
        return next()

    app.middleware(ack_unknown_payloads)
    app.event("app_mention", matchers=[from_a_person])(on_mention)
    app.event({"type": "message", "subtype": "message_changed"})(on_message_changed)
    app.event({"type": "message", "subtype": "message_deleted"})(on_message_deleted)
    app.event("message", matchers=[from_a_person])(on_message)
    app.command("/khabar")(on_command)
    app.action(ACTION_SHARE)(on_share)
    app.action(re.compile(f"^({ACTION_FEEDBACK_UP}|{ACTION_FEEDBACK_DOWN})$"))(on_feedback)
    app.action(ACTION_ESCALATE)(on_escalate)
    app.view(VIEW_REASON)(on_feedback_reason)
    app.event(re.compile(".*"))(on_other_event)
    app.action(re.compile(".*"))(on_other_action)
    app.command(re.compile(".*"))(on_other_command)
    app.shortcut(re.compile(".*"))(just_ack)
    app.view(re.compile(".*"))(just_ack)
    app.error(on_error)

