"""Khabar in Slack: a slack-bolt app over the engine, served by Socket Mode or HTTP.

Triggers: an @mention in a channel, a direct message, a reply in a thread the bot is
answering (no re-mention needed), and the `/khabar` slash command (ephemeral answer with a
"Share with channel" button). A Slack thread (channel + thread_ts) is one conversation for
the engine's follow-up handling.

Delivery contract:
- Every request is acknowledged at once (bolt acks events before the listener runs; commands
  and buttons call ack() first); answering happens afterwards on a pool of
  `settings.slack.workers` threads, and questions of one conversation are answered in order.
- Slack's retries (`X-Slack-Retry-Num`; Socket Mode's `retry_attempt`, which bolt turns into
  the same header) and duplicate deliveries are answered once: event ids and message ids
  (client_msg_id, channel+ts) are remembered for `dedupe_seconds`.
- A failure while answering posts a short apology in the thread and logs the cause.
- The WebClient retries HTTP 429 after Retry-After (slack_sdk's RateLimitErrorRetryHandler).
- Unknown events, actions and commands are logged and acknowledged.

Safety: corpus and question text is escaped for mrkdwn (bot.slack_format); questions over the
length limit get the engine's polite refusal; HTTP mode verifies Slack's request signature
(bolt's RequestVerification: unsigned, forged and >5 min old requests get 401).
"""
from __future__ import annotations

import itertools
import json
import logging
import re
import signal
import sys
import threading
import time
import uuid
from collections import OrderedDict, deque
from contextlib import contextmanager, nullcontext
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from slack_bolt import App
from slack_bolt.error import BoltError
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from bot.config import Settings
from bot.feedback import FeedbackLog
from bot.format import NOT_A_QUESTION_TEXT
from bot.understand import asks_something, is_greeting, is_help_request
from bot.slack_format import (ACTION_FEEDBACK_DOWN, ACTION_FEEDBACK_UP, ACTION_SHARE, HELP_TEXT, SlackMessage,
                              answer_message, apology_message, notice_message, slack_to_plain)

log = logging.getLogger(__name__)


class _NoTokenNotice(logging.Filter):
    """bolt warns that SLACK_BOT_TOKEN is unused when a client is given; the client carries that token."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


logging.getLogger("slack_bolt.App").addFilter(_NoTokenNotice())

EVENTS_PATH = "/slack/events"


#: Payload types bolt has listeners for; anything else (e.g. app_rate_limited) is acked and logged.
_KNOWN_PAYLOADS = {"event_callback", "url_verification", "block_actions", "interactive_message", "shortcut",
                   "message_action", "view_submission", "view_closed", "block_suggestion"}
_USER_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")


# --- small thread-safe helpers -----------------------------------------------------------------------

class TTLSet:
    """Keys remembered for `ttl` seconds, at most `capacity` of them (oldest forgotten first)."""

    def __init__(self, ttl: float, capacity: int = 100_000, clock=time.monotonic):
        self.ttl = ttl
        self.capacity = capacity
        self.clock = clock
        self._items: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def _expire(self, now: float) -> None:
        while self._items:
            key, at = next(iter(self._items.items()))
            if now - at <= self.ttl and len(self._items) <= self.capacity:
                break
            del self._items[key]

    def claim(self, key: str) -> bool:
        """Remember `key`; True if it was new (the caller owns it), False if already seen."""
        with self._lock:
            now = self.clock()
            self._expire(now)
            if key in self._items:
                return False
            self._items[key] = now
            self._expire(now)
            return True

    def touch(self, key: str) -> None:
        with self._lock:
            now = self.clock()
            self._items.pop(key, None)
            self._items[key] = now
            self._expire(now)

    def __contains__(self, key: str) -> bool:
        with self._lock:
            self._expire(self.clock())
            return key in self._items

    def __len__(self) -> int:
        with self._lock:
            self._expire(self.clock())
            return len(self._items)


class TTLCache(TTLSet):
    """Like TTLSet, with a value per key."""

    def __init__(self, ttl: float, capacity: int = 1000, clock=time.monotonic):
        super().__init__(ttl, capacity, clock)
        self._values: dict[str, object] = {}

    def _expire(self, now: float) -> None:
        super()._expire(now)
        if len(self._values) > len(self._items):
            for k in [k for k in self._values if k not in self._items]:
                del self._values[k]

    def put(self, key: str, value: object) -> None:
        with self._lock:
            self._items.pop(key, None)
            self._items[key] = self.clock()
            self._values[key] = value
            self._expire(self.clock())

    def get(self, key: str) -> object | None:
        with self._lock:
            self._expire(self.clock())
            return self._values.get(key)


class ConversationOrder:
    """Questions of one conversation are answered in the order they arrived.

    A ticket is taken when the question is accepted (in arrival order); the worker that
    answers it waits until every earlier ticket of the same conversation is done. Other
    conversations are not held up.
    """

    def __init__(self):
        self._cond = threading.Condition()
        self._queues: dict[str, deque] = {}
        self._next = itertools.count()

    def ticket(self, key: str) -> int:
        with self._cond:
            t = next(self._next)
            self._queues.setdefault(key, deque()).append(t)
            return t

    def done(self, key: str, ticket: int) -> None:
        with self._cond:
            q = self._queues.get(key)
            if q is not None:
                try:
                    q.remove(ticket)
                except ValueError:
                    pass
                if not q:
                    del self._queues[key]
            self._cond.notify_all()

    @contextmanager
    def turn(self, key: str, ticket: int):
        with self._cond:
            self._cond.wait_for(lambda: not self._queues.get(key) or self._queues[key][0] == ticket)
        try:
            yield
        finally:
            self.done(key, ticket)

    def __len__(self) -> int:
        with self._cond:
            return len(self._queues)


class _Inflight:
    """Counts work that is queued or running, so callers can wait until the bot is idle."""

    def __init__(self):
        self._n = 0
        self._cond = threading.Condition()

    def inc(self) -> None:
        with self._cond:
            self._n += 1

    def dec(self) -> None:
        with self._cond:
            self._n -= 1
            if self._n <= 0:
                self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._n <= 0, timeout=timeout)


class _CountingExecutor(ThreadPoolExecutor):
    """A thread pool whose queued + running jobs are counted in an _Inflight."""

    def __init__(self, inflight: _Inflight, max_workers: int, name: str):
        super().__init__(max_workers=max_workers, thread_name_prefix=name)
        self._inflight = inflight

    def submit(self, fn, /, *args, **kwargs):
        self._inflight.inc()

        def run():
            try:
                return fn(*args, **kwargs)
            finally:
                self._inflight.dec()

        try:
            return super().submit(run)
        except BaseException:
            self._inflight.dec()
            raise


# --- the bot -------------------------------------------------------------------------------------------

def make_client(settings: Settings, token: str | None = None, base_url: str | None = None) -> WebClient:
    """The Web API client: the settings' base URL, retries on connection errors and on 429."""
    return WebClient(token=token or settings.slack.bot_token or None,
                     base_url=base_url or settings.slack.api_base_url,
                     retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=2),
                                     RateLimitErrorRetryHandler(max_retry_count=3)])


def _ensure_rate_limit_retries(client: WebClient) -> None:
    if not any(isinstance(h, RateLimitErrorRetryHandler) for h in client.retry_handlers):
        client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=3))


@dataclass
class Question:
    text: str                 # as typed, Slack markup removed (the engine cleans it further)
    channel: str
    user: str | None
    cid: str                  # the engine's conversation id
    thread_ts: str | None     # where the answer goes (None: top level, e.g. a DM)
    source: str               # mention | dm | thread | slash | share
    received: float = field(default_factory=time.monotonic)
    ticket: int | None = None  # its place in its conversation (ConversationOrder)


class KhabarBot:
    """Owns the bolt App, the answering pool, the dedupe memory and the followed threads."""

    def __init__(self, settings: Settings, engine, client: WebClient | None = None):
        self.settings = settings
        self.engine = engine
        s = settings.slack
        self.client = client or make_client(settings)
        if not self.client.token and s.bot_token:
            self.client.token = s.bot_token
        _ensure_rate_limit_retries(self.client)
        self.inflight = _Inflight()
        self.listener_pool = _CountingExecutor(self.inflight, max_workers=8, name="khabar-listener")
        self.answer_pool = _CountingExecutor(self.inflight, max_workers=max(1, s.workers), name="khabar-answer")
        self.seen = TTLSet(ttl=s.dedupe_seconds, capacity=200_000)
        conv = settings.conversation
        self.threads = TTLSet(ttl=conv.idle_seconds, capacity=max(1, conv.max_conversations))
        self.shares = TTLCache(ttl=max(conv.idle_seconds, 3600.0), capacity=2000)
        self.order = ConversationOrder()
        self.feedback = FeedbackLog(settings.feedback_log())
        self.allowed = {c.strip() for c in s.allowed_channels if c.strip()}
        self._stop = threading.Event()
        self._reloader: threading.Thread | None = None
        self.bot_user_id: str | None = None
        self.app = App(
            client=self.client,  # its token is the bot token; auth.test runs once, here
            signing_secret=s.signing_secret or None,
            listener_executor=self.listener_pool,
            # request_verification stays on: HTTP requests must carry a valid, fresh signature.
        )
        self.app.khabar = self  # tests and run_slack reach the bot through the app
        self._register()

    # --- lifecycle --------------------------------------------------------------------------------

    def start_background(self) -> None:
        """Start the index hot-swap checker (every reload_check_seconds)."""
        if self._reloader is not None or self.settings.slack.reload_check_seconds <= 0:
            return
        self._reloader = threading.Thread(target=self._reload_loop, name="khabar-index-reload", daemon=True)
        self._reloader.start()

    def _reload_loop(self) -> None:
        interval = self.settings.slack.reload_check_seconds
        while not self._stop.wait(interval):
            try:
                if self.engine.reload_if_changed():
                    log.warning("hot index swap: now serving %s", self.engine.index_dir)
            except Exception:  # never let the checker die; the old index keeps serving
                log.exception("index reload check failed; still serving the current index")

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until every accepted request has been answered (tests, load script, shutdown)."""
        return self.inflight.wait_idle(timeout)

    def close(self, wait: bool = True) -> None:
        self._stop.set()
        if wait:
            self.wait_idle(timeout=60.0)
        self.listener_pool.shutdown(wait=wait)
        self.answer_pool.shutdown(wait=wait)
        if self._reloader is not None:
            self._reloader.join(timeout=5.0)
        close_engine = getattr(self.engine, "close", None)
        if close_engine is not None:
            close_engine()

    # --- filters -----------------------------------------------------------------------------------

    def channel_allowed(self, channel: str | None, channel_type: str | None = None) -> bool:
        """The allow-list applies to channels; direct messages are always answered."""
        if not self.allowed or channel_type == "im" or (channel or "").startswith("D"):
            return True
        return channel in self.allowed

    def _first_delivery(self, body: dict, event: dict, retry_num: str | None) -> bool:
        """False for a retry or duplicate of something already accepted."""
        keys = []
        if body.get("event_id"):
            keys.append("event:" + body["event_id"])
        if event.get("client_msg_id"):
            keys.append("msg:" + event["client_msg_id"])
        if event.get("channel") and event.get("ts"):
            keys.append(f"ts:{event['channel']}:{event['ts']}")
        fresh = True
        for key in keys:  # claim all keys, so every alias of this message is remembered
            if not self.seen.claim(key):
                fresh = False
        if not fresh:
            log.info("dropped a duplicate delivery (event %s, retry %s)", body.get("event_id"), retry_num or 0)
        elif retry_num:
            log.info("answering Slack retry %s of event %s (first delivery never arrived)", retry_num,
                     body.get("event_id"))
        return fresh

    @staticmethod
    def _is_bot(event: dict, bot_user_id: str | None) -> bool:
        return bool(event.get("bot_id") or event.get("subtype") == "bot_message" or event.get("bot_profile")
                    or (bot_user_id and event.get("user") == bot_user_id))

    # --- Slack listeners ---------------------------------------------------------------------------

    def _register(self) -> None:
        app = self.app

        @app.middleware  # runs after bolt's signature check and authorization
        def ack_unknown_payloads(body, next):
            if not isinstance(body, dict) or "command" in body or body.get("type") in _KNOWN_PAYLOADS:
                return next()
            log.info("acknowledged a payload of unknown type %r", body.get("type") if isinstance(body, dict) else body)
            return BoltResponse(status=200, body="")

        @app.event("app_mention")
        def on_mention(body, event, context, request):
            self._on_message_event(body, event, context, request, mentioned=True)

        @app.event("message")
        def on_message(body, event, context, request):
            self._on_message_event(body, event, context, request, mentioned=False)

        @app.command("/khabar")
        def on_command(ack, command, context):
            self._on_command(ack, command, context)

        @app.action(ACTION_SHARE)
        def on_share(ack, body, action):
            ack()
            self._on_share(body, action)

        @app.action(re.compile(f"^({ACTION_FEEDBACK_UP}|{ACTION_FEEDBACK_DOWN})$"))
        def on_feedback(ack, body, action):
            ack()
            self._on_feedback(body, action)

        # Everything else is acknowledged and logged, so Slack never retries it and nothing crashes.
        @app.event(re.compile(".*"))
        def on_other_event(event):
            log.info("ignored event of type %s", event.get("type"))

        @app.action(re.compile(".*"))
        def on_other_action(ack, action):
            ack()
            log.info("ignored action %s", action.get("action_id"))

        @app.command(re.compile(".*"))
        def on_other_command(ack, command):
            ack(text=f"Khabar does not know the command {command.get('command')}; try /khabar.")
            log.info("ignored command %s", command.get("command"))

        @app.shortcut(re.compile(".*"))
        def on_shortcut(ack):
            ack()

        @app.view(re.compile(".*"))
        def on_view(ack):
            ack()

        @app.error
        def on_error(error, body):
            log.error("error in a Slack listener (%s): %s", (body or {}).get("type"), error, exc_info=error)

    def _on_message_event(self, body: dict, event: dict, context, request, mentioned: bool) -> None:
        bot_user_id = context.get("bot_user_id")
        self.bot_user_id = self.bot_user_id or bot_user_id
        if self._is_bot(event, bot_user_id):
            return
        subtype = event.get("subtype")
        if subtype not in (None, "thread_broadcast", "file_share"):
            return  # edits, deletions, joins...
        channel = event.get("channel")
        channel_type = event.get("channel_type")
        raw = event.get("text") or ""
        ts = event.get("ts")
        thread_ts = event.get("thread_ts")
        if not channel or not ts:
            return
        if mentioned:
            source = "mention"
        elif channel_type == "im":
            source = "dm"
        elif thread_ts and thread_ts != ts and f"{channel}:{thread_ts}" in self.threads:
            other = [u for u in _USER_MENTION.findall(raw) if u != bot_user_id]
            if other or not asks_something(slack_to_plain(raw, bot_user_id)):
                return  # said to someone else in the thread, or chat ("thanks", "lol", "I'll call her")
            source = "thread"
        else:
            return  # a channel message not meant for the bot (app_mention covers mentions)
        retry = (request.headers.get("x-slack-retry-num") or ["0"])[0]
        retry = None if retry in (None, "", "0") else retry
        if not self._first_delivery(body, event, retry):
            return
        if not self.channel_allowed(channel, channel_type):
            log.info("not answering in channel %s (not in allowed_channels)", channel)
            if mentioned and event.get("user"):
                self._safe_call(self.client.chat_postEphemeral, channel=channel, user=event["user"],
                                text="Khabar is not enabled in this channel. Ask in one of its channels "
                                     "or send it a direct message.")
            return
        if channel_type == "im" and not thread_ts:
            reply_ts, cid = None, f"slack:{channel}"  # a DM is one running conversation
        else:
            reply_ts = thread_ts or ts
            cid = f"slack:{channel}:{reply_ts}"
            self.threads.touch(f"{channel}:{reply_ts}")  # follow-ups here need no mention
        text = slack_to_plain(raw, bot_user_id)
        if is_help_request(text) or is_greeting(text) or (mentioned and not text.strip()):
            self._safe_call(self.client.chat_postMessage, channel=channel, text=HELP_TEXT,
                            **({"thread_ts": reply_ts} if reply_ts else {}))
            return  # "help", "hi" or a bare mention: the help text, never an archive quote
        q = Question(text=text, channel=channel, user=event.get("user"), cid=cid, thread_ts=reply_ts, source=source)
        self._submit_question(self._answer_and_post, q)

    def _on_command(self, ack, command: dict, context) -> None:
        channel = command.get("channel_id")
        user = command.get("user_id")
        text = slack_to_plain(command.get("text") or "", context.get("bot_user_id"))
        if not self.channel_allowed(channel, "im" if command.get("channel_name") == "directmessage" else None):
            ack(text="Khabar is not enabled in this channel. Try one of its channels or a direct message.")
            return
        if not text or text.lower() in ("help", "?"):
            ack(text=HELP_TEXT)
            return
        ack()
        q = Question(text=text, channel=channel, user=user, cid=f"slack:{channel}:slash:{user}", thread_ts=None,
                     source="slash")
        self._submit_question(self._answer_slash, q, command.get("response_url"))

    # --- answering ------------------------------------------------------------------------------------

    def _submit_question(self, fn, q: Question, *args) -> None:
        q.ticket = self.order.ticket(q.cid)
        try:
            self.answer_pool.submit(fn, q, *args)
        except BaseException:
            self.order.done(q.cid, q.ticket)
            raise

    def _ask(self, q: Question) -> tuple[object | None, SlackMessage | None]:
        """(engine result, None) or (None, a refusal or apology message)."""
        from bot.engine import QuestionError

        try:
            with self.order.turn(q.cid, q.ticket) if q.ticket is not None else nullcontext():
                return self.engine.ask(q.text, conversation_id=q.cid), None
        except QuestionError as exc:
            return None, notice_message(str(exc))
        except Exception:
            log.exception("answering failed (channel %s, %s): %r", q.channel, q.source, q.text[:200])
            return None, apology_message()

    def _answer_and_post(self, q: Question) -> None:
        result, notice = self._ask(q)
        if result is not None and result.not_question:
            log.info("not a question, staying silent (channel %s): %r", q.channel, q.text[:80])
            return  # chat ("thanks", "lol", an emoji) gets no archive quote and no reply
        try:
            msg = notice or answer_message(result)
        except Exception:
            log.exception("formatting the answer failed (channel %s)", q.channel)
            msg = apology_message()
        if not self._post(q.channel, q.thread_ts, msg):
            if notice is None:  # e.g. invalid_blocks: say sorry in plain text rather than nothing
                self._post(q.channel, q.thread_ts, apology_message())

    def _post(self, channel: str, thread_ts: str | None, msg: SlackMessage) -> dict | None:
        kwargs = dict(channel=channel, unfurl_links=False, unfurl_media=False, **msg.kwargs())
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        return self._safe_call(self.client.chat_postMessage, **kwargs)

    @staticmethod
    def _safe_call(method, **kwargs) -> dict | None:
        try:
            return method(**kwargs).data
        except SlackApiError as exc:
            log.error("Slack refused %s: %s", getattr(method, "__name__", method),
                      exc.response.get("error") if exc.response is not None else exc)
        except Exception:
            log.exception("calling Slack (%s) failed", getattr(method, "__name__", method))
        return None

    def _respond(self, response_url: str | None, **body) -> bool:
        if not response_url:
            return False
        try:
            hook = WebhookClient(response_url, retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=2),
                                                               RateLimitErrorRetryHandler(max_retry_count=3)])
            resp = hook.send_dict(body)
            if resp.status_code != 200:
                log.error("response_url answered %s: %s", resp.status_code, resp.body[:200])
            return resp.status_code == 200
        except Exception:
            log.exception("posting to response_url failed")
            return False

    def _answer_slash(self, q: Question, response_url: str | None) -> None:
        result, notice = self._ask(q)
        if notice is None and result.not_question:  # /khabar was typed on purpose: say why nothing came
            notice = notice_message(NOT_A_QUESTION_TEXT)
        if notice is not None:
            self._respond(response_url, response_type="ephemeral", **notice.kwargs())
            return
        key = uuid.uuid4().hex
        self.shares.put(key, (q, result))
        value = json.dumps({"k": key, "q": q.text[:1500]}, ensure_ascii=False)
        try:
            msg = answer_message(result, q.text, share_value=value)
        except Exception:
            log.exception("formatting the answer failed")
            msg = apology_message()
        self._respond(response_url, response_type="ephemeral", **msg.kwargs())

    def _on_share(self, body: dict, action: dict) -> None:
        self.answer_pool.submit(self._share, body, action)

    def _share(self, body: dict, action: dict) -> None:
        user = (body.get("user") or {}).get("id")
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
        response_url = body.get("response_url")
        try:
            value = json.loads(action.get("value") or "{}")
        except ValueError:
            value = {}
        cached = self.shares.get(value.get("k", ""))
        if cached is not None:
            q, result = cached
        else:  # the cache forgot it (restart, expiry): ask again, in a conversation of its own
            q = Question(text=str(value.get("q") or ""), channel=channel, user=user,
                         cid=f"slack:{channel}:share:{uuid.uuid4().hex}", thread_ts=None, source="share")
            result, notice = self._ask(q)
            if notice is not None:
                self._respond(response_url, response_type="ephemeral", replace_original=False, **notice.kwargs())
                return
        msg = answer_message(result, q.text, asked_by=q.user or user)
        posted = self._post(channel, None, msg) if channel else None
        if posted is None:
            # Not a member of the channel: the response_url can still post in it.
            if not self._respond(response_url, response_type="in_channel", replace_original=False, **msg.kwargs()):
                return
        else:
            ts = posted.get("ts")
            if ts:  # replies to the shared answer are follow-ups of its question
                cid = f"slack:{channel}:{ts}"
                self.threads.touch(f"{channel}:{ts}")
                seed = Question(text=q.text, channel=channel, user=q.user, cid=cid, thread_ts=ts, source="share")
                self._submit_question(self._seed_conversation, seed)
        self._respond(response_url, delete_original=True)

    def _seed_conversation(self, q: Question) -> None:
        result, notice = self._ask(q)  # the answer is the one already shown; only the turn is kept
        if notice is not None:
            log.warning("could not seed the shared answer's thread %s", q.cid)

    def _on_feedback(self, body: dict, action: dict) -> None:
        vote = "up" if action.get("action_id") == ACTION_FEEDBACK_UP else "down"
        user = (body.get("user") or {}).get("id")
        container = body.get("container") or {}
        channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
        try:
            self.feedback.record_button(vote=vote, value=action.get("value") or "", user=user, channel=channel,
                                        message_ts=container.get("message_ts"))
        except Exception:
            log.exception("could not write feedback to %s", self.feedback.path)
            return
        thanks = "Thanks, noted \U0001F44D" if vote == "up" else \
            "Thanks, noted \U0001F44E. The desk reviews these to improve the answers."
        self.listener_pool.submit(self._respond, body.get("response_url"), response_type="ephemeral",
                                  replace_original=False, text=thanks)


def build_app(settings: Settings, engine, client: WebClient | None = None) -> App:
    """The bolt App answering with `engine`; `app.khabar` is the KhabarBot behind it."""
    return KhabarBot(settings, engine, client).app


# --- HTTP transport --------------------------------------------------------------------------------------

class SlackHTTPServer:
    """Serves a bolt App on POST /slack/events (threaded: one slow request never holds up another)."""

    def __init__(self, app: App, port: int = 3000, host: str = "0.0.0.0", path: str = EVENTS_PATH):
        bolt_app = app

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                log.debug("http: " + fmt, *args)

            def _reply(self, status: int, body: str | bytes = b"", headers: dict | None = None) -> None:
                data = body.encode("utf-8") if isinstance(body, str) else body
                self.send_response(status)
                for k, vs in (headers or {}).items():
                    for v in (vs if isinstance(vs, (list, tuple)) else [vs]):
                        if k.lower() != "content-length":
                            self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path.partition("?")[0] in ("/healthz", "/"):
                    self._reply(200, "ok", {"Content-Type": "text/plain"})
                else:
                    self._reply(404)

            def do_POST(self):
                request_path, _, query = self.path.partition("?")
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length > 0 else b""
                if request_path != path:
                    self._reply(404)
                    return
                try:
                    headers: dict[str, list[str]] = {}
                    for k, v in self.headers.items():
                        headers.setdefault(k.lower(), []).append(v)
                    bolt_req = BoltRequest(body=raw.decode("utf-8"), query=query, headers=headers)
                    resp = bolt_app.dispatch(bolt_req)
                except Exception:
                    log.exception("could not handle a request on %s", path)
                    self._reply(400, "bad request")
                    return
                body = resp.body if isinstance(resp.body, str) else json.dumps(resp.body)
                self._reply(resp.status, body or "", resp.headers)

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 512
            allow_reuse_address = True

        self.httpd = Server((host, port), Handler)
        self.host = host
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}{EVENTS_PATH}"

    def serve_forever(self) -> None:
        try:
            self.httpd.serve_forever(poll_interval=0.2)
        finally:
            self.httpd.server_close()

    def start(self) -> "SlackHTTPServer":
        self._thread = threading.Thread(target=self.serve_forever, name="khabar-http", daemon=True)
        self._thread.start()
        return self

    def shutdown(self) -> None:
        self.httpd.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5.0)


# --- entry point -----------------------------------------------------------------------------------------

def token_problem(settings: Settings, http: bool) -> str | None:
    """One line naming the first missing or malformed variable (never its value), or None."""
    s = settings.slack
    bot = (s.bot_token or "").strip()
    if not bot:
        return ("SLACK_BOT_TOKEN is not set: give the bot's OAuth token (xoxb-...) from the app's "
                "\"OAuth & Permissions\" page")
    if not bot.startswith("xoxb-") or len(bot) < 10 or any(ch.isspace() for ch in bot):
        return "SLACK_BOT_TOKEN is malformed: a bot token starts with xoxb- (check you did not paste another token)"
    if http:
        secret = (s.signing_secret or "").strip()
        if not secret:
            return ("SLACK_SIGNING_SECRET is not set: HTTP mode needs the app's signing secret "
                    "(\"Basic Information\" page)")
        if not re.fullmatch(r"[0-9A-Za-z]{16,128}", secret):
            return "SLACK_SIGNING_SECRET is malformed: it is a string of letters and digits (32 hex characters)"
    else:
        app_token = (s.app_token or "").strip()
        if not app_token:
            return ("SLACK_APP_TOKEN is not set: Socket Mode needs an app-level token (xapp-...) with "
                    "connections:write; or run with --http PORT and SLACK_SIGNING_SECRET")
        if not app_token.startswith("xapp-") or len(app_token) < 10 or any(ch.isspace() for ch in app_token):
            return "SLACK_APP_TOKEN is malformed: an app-level token starts with xapp-"
    return None


def _slack_refusal(variable: str, call, settings: Settings) -> str | None:
    """Why Slack would not take this token (without echoing it), or None if it did."""
    try:
        call()
    except SlackApiError as exc:
        return f"Slack refused {variable} ({exc.response.get('error')})"
    except Exception as exc:  # noqa: BLE001 - any transport failure gets the same advice
        return (f"cannot reach the Slack API at {settings.slack.api_base_url} ({type(exc).__name__}); "
                f"check the network or KHABAR_SLACK_API_BASE_URL")
    return None


def run_slack(settings: Settings, index: str | None = None, http_port: int | None = None) -> int:
    """`khabar slack`: Socket Mode by default, HTTP on `http_port`. Returns the exit status."""
    problem = token_problem(settings, http=http_port is not None)
    if problem:
        print(f"khabar slack: {problem}", file=sys.stderr)
        return 2
    if http_port is not None and not 0 < http_port < 65536:
        print(f"khabar slack: --http needs a port between 1 and 65535, not {http_port}", file=sys.stderr)
        return 2

    client = make_client(settings)
    # Check the tokens with Slack before loading the model: a refused token should not cost a minute.
    checks = [("SLACK_BOT_TOKEN", client.auth_test)]
    if http_port is None:
        checks.append(("SLACK_APP_TOKEN", lambda: client.apps_connections_open(app_token=settings.slack.app_token)))
    for variable, call in checks:
        problem = _slack_refusal(variable, call, settings)
        if problem:
            print(f"khabar slack: {problem}", file=sys.stderr)
            return 2

    from bot.cli import make_engine

    engine = make_engine(settings, index, prewarm=True)
    try:
        app = build_app(settings, engine, client)
    except BoltError as exc:
        reason = "invalid_auth" if "invalid_auth" in str(exc) else type(exc).__name__
        print(f"khabar slack: Slack refused SLACK_BOT_TOKEN ({reason})", file=sys.stderr)
        return 2
    bot: KhabarBot = app.khabar
    bot.start_background()

    if http_port is not None:
        try:
            server = SlackHTTPServer(app, port=http_port, host="0.0.0.0")
        except OSError as exc:
            print(f"khabar slack: cannot listen on port {http_port}: {exc.strerror or exc}", file=sys.stderr)
            bot.close(wait=False)
            return 2

        def stop(signum, frame):
            threading.Thread(target=server.httpd.shutdown, daemon=True).start()

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, stop)
        print(f"khabar slack: answering Slack events on http://0.0.0.0:{server.port}{EVENTS_PATH} "
              f"(index {engine.index_dir})", file=sys.stderr, flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            print("khabar slack: stopping; finishing the questions in flight", file=sys.stderr, flush=True)
            bot.close(wait=True)
        return 0

    from slack_bolt.adapter.socket_mode import SocketModeHandler

    handler = SocketModeHandler(app, app_token=settings.slack.app_token, web_client=client,
                                concurrency=max(4, settings.slack.workers))
    done = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda signum, frame: done.set())
    try:
        handler.connect()
    except SlackApiError as exc:
        print(f"khabar slack: Slack refused SLACK_APP_TOKEN ({exc.response.get('error')})", file=sys.stderr)
        handler.client.close()
        bot.close(wait=False)
        return 2
    except Exception as exc:
        detail = str(exc)
        for secret in (settings.slack.app_token, settings.slack.bot_token):
            detail = detail.replace(secret, "***") if secret else detail
        print(f"khabar slack: cannot open the Socket Mode connection ({type(exc).__name__}: {detail[:200]})",
              file=sys.stderr)
        handler.client.close()
        bot.close(wait=False)
        return 2
    if handler.client.is_connected():
        print(f"khabar slack: connected over Socket Mode (index {engine.index_dir})", file=sys.stderr, flush=True)
    else:
        print("khabar slack: the Socket Mode connection failed; retrying in the background (see the log)",
              file=sys.stderr, flush=True)
    try:
        while not done.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        print("khabar slack: stopping; finishing the questions in flight", file=sys.stderr, flush=True)
        try:
            handler.close()
        finally:
            bot.close(wait=True)
    return 0


__all__ = ["KhabarBot", "SlackHTTPServer", "build_app", "make_client", "run_slack", "token_problem"]
