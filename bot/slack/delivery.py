"""Getting a reply to Slack exactly once, whatever Slack does meanwhile.

Every Web API call goes through `call()`, which sorts the outcome into three kinds:
- **ok**;
- **retry**: HTTP 5xx, Slack's internal errors, timeouts and connection errors (with backoff
  and jitter, `retry_base_seconds` doubling up to `retry_max_seconds`), or 429 (after its
  Retry-After). The caller reschedules the job; no thread sleeps;
- **fail**: Slack refused the call for good (`channel_not_found`, `invalid_blocks`...).

A post carries message metadata naming its job and part. Before a post whose earlier attempt
may have landed (it timed out, or the process died mid-call) is tried again, the thread (or
the channel's recent history) is searched for that metadata: found, it counts as delivered.
So a post is never doubled. A /khabar reply goes to its response_url; if that fails, to
chat.postEphemeral.
"""
from __future__ import annotations

import logging
import random
import socket
import urllib.error
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.config import SlackSettings

log = logging.getLogger(__name__)

METADATA_EVENT = "khabar_answer"
#: Errors Slack documents as transient (answered with HTTP 200 and ok: false).
TRANSIENT_ERRORS = {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"}
_NETWORK_ERRORS = (TimeoutError, socket.timeout, urllib.error.URLError, ConnectionError, OSError)


@dataclass
class Outcome:
    kind: str                 # ok | retry | fail
    data: dict | None = None  # the API's answer (ok)
    error: str = ""           # what went wrong (retry, fail)
    retry_after: float | None = None  # a 429's Retry-After
    uncertain: bool = False   # the call may have taken effect (a timeout)

    @property
    def ok(self) -> bool:
        return self.kind == "ok"


def make_client(settings: SlackSettings, token: str | None = None) -> WebClient:
    """A WebClient with no retry handlers of its own: retrying is this module's job."""
    return WebClient(token=token or settings.bot_token or None, base_url=settings.api_base_url,
                     timeout=max(1, int(round(settings.call_timeout_seconds))), retry_handlers=[])


def call(method, **kwargs) -> Outcome:
    """Run one Web API call and sort its outcome."""
    name = getattr(method, "__name__", str(method))
    try:
        return Outcome("ok", data=method(**kwargs).data)
    except SlackApiError as exc:
        resp = exc.response
        status = getattr(resp, "status_code", 200)
        error = (resp.get("error") if resp is not None and isinstance(resp.data, dict) else None) or f"HTTP {status}"
        if status == 429 or error == "ratelimited":
            after = (resp.headers or {}).get("retry-after") or (resp.headers or {}).get("Retry-After")
            return Outcome("retry", error="ratelimited", retry_after=_seconds(after, 1.0))
        if status >= 500 or error in TRANSIENT_ERRORS:
            return Outcome("retry", error=f"{name}: {error} (HTTP {status})")
        return Outcome("fail", error=error)
    except _NETWORK_ERRORS as exc:
        return Outcome("retry", error=f"{name}: {type(exc).__name__}", uncertain=True)


def _seconds(value, default: float) -> float:
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return default


def backoff(settings: SlackSettings, tries: int, rng: random.Random = random.Random()) -> float:
    """Exponential backoff with equal jitter: half the step fixed, half random."""
    step = min(settings.retry_max_seconds, settings.retry_base_seconds * (2 ** max(0, tries - 1)))
    return step / 2 + rng.uniform(0, step / 2)


def metadata(job_id: str, part: int) -> dict:
    return {"event_type": METADATA_EVENT, "event_payload": {"job": job_id, "part": part}}


class Delivery:
    """Posts, updates and deletes for the inbox's jobs, through one client."""

    def __init__(self, client: WebClient, settings: SlackSettings):
        self.client = client
        self.settings = settings

    def post(self, channel: str, thread_ts: str | None, message: dict, job_id: str, part: int) -> Outcome:
        kwargs = dict(channel=channel, unfurl_links=False, unfurl_media=False, metadata=metadata(job_id, part),
                      **message)
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        outcome = call(self.client.chat_postMessage, **kwargs)
        if outcome.kind == "fail" and outcome.error == "invalid_blocks" and message.get("blocks"):
            log.error("Slack refused the blocks of job %s part %d; posting it as plain text", job_id, part)
            kwargs.pop("blocks")
            outcome = call(self.client.chat_postMessage, **kwargs)
        return outcome

    def find_posted(self, channel: str, thread_ts: str | None, job_id: str, part: int,
                    since: float) -> tuple[str | None, Outcome]:
        """(ts of the part if Slack already has it, the lookup's outcome)."""
        if thread_ts:
            outcome = call(self.client.conversations_replies, channel=channel, ts=thread_ts,
                           include_all_metadata=True, limit=200)
        else:
            outcome = call(self.client.conversations_history, channel=channel, oldest=f"{since - 120:.6f}",
                           include_all_metadata=True, limit=200)
        if outcome.kind == "fail" and outcome.error == "thread_not_found":
            return None, Outcome("ok", data={"messages": []})
        if not outcome.ok:
            return None, outcome
        for m in outcome.data.get("messages") or []:
            payload = (m.get("metadata") or {}).get("event_payload") or {}
            if (m.get("metadata") or {}).get("event_type") == METADATA_EVENT and payload.get("job") == job_id \
                    and payload.get("part") == part:
                return m.get("ts"), outcome
        return None, outcome

    def update(self, channel: str, ts: str, message: dict) -> Outcome:
        outcome = call(self.client.chat_update, channel=channel, ts=ts, **message)
        if outcome.kind == "fail" and outcome.error == "invalid_blocks" and message.get("blocks"):
            outcome = call(self.client.chat_update, channel=channel, ts=ts, text=message.get("text", ""), blocks=[])
        return outcome

    def delete(self, channel: str, ts: str) -> Outcome:
        outcome = call(self.client.chat_delete, channel=channel, ts=ts)
        if outcome.kind == "fail" and outcome.error == "message_not_found":
            return Outcome("ok", data={})  # already gone
        return outcome

    def react(self, channel: str, ts: str, name: str, add: bool = True) -> Outcome:
        """Add (or remove) reaction `name` on a message: one try, never retried (it is only a sign)."""
        method = self.client.reactions_add if add else self.client.reactions_remove
        return call(method, channel=channel, timestamp=ts, name=name)

    def ephemeral(self, channel: str, user: str, message: dict) -> Outcome:
        return call(self.client.chat_postEphemeral, channel=channel, user=user, **message)

    def respond(self, response_url: str, body: dict) -> Outcome:
        """POST to a response_url (slash commands, buttons)."""
        try:
            resp = WebhookClient(response_url, timeout=max(1, int(round(self.settings.call_timeout_seconds))),
                                 retry_handlers=[]).send_dict(body)
        except _NETWORK_ERRORS as exc:
            return Outcome("retry", error=f"response_url: {type(exc).__name__}", uncertain=True)
        if resp.status_code == 200:
            return Outcome("ok", data={})
        if resp.status_code == 429 or resp.status_code >= 500:
            return Outcome("retry", error=f"response_url: HTTP {resp.status_code}")
        return Outcome("fail", error=f"response_url: HTTP {resp.status_code} {str(resp.body)[:100]}")
