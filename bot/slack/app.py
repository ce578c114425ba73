"""Khabar in Slack: the bolt App, and the bot that owns its inbox, delivery and policy.

    runtime = Runtime(settings, durable=True, watch_index=True).start()
    bot = KhabarBot(settings, runtime, client).start()   # recovers unfinished questions
    ... serve bot.app (HTTP: bot.slack.http; Socket Mode: bolt's handler) ...
    bot.close(); runtime.close()

Triggers: an @mention, a DM, a question in a thread Khabar answered (no re-mention needed),
`/khabar` (ephemeral, with a Share button), edits and deletions of answered questions, and the
buttons under an answer (👍/👎 with an optional "what was wrong?" modal, Still need help?).
Requests are acknowledged once their job is in the state file (process_before_response);
the inbox answers them in per-conversation order and delivers through `delivery`.
"""
from __future__ import annotations

import logging

from slack_bolt import App
from slack_sdk import WebClient

from bot.cache import LRU
from bot.config import ConfigError, Settings
from bot.feedback import FeedbackLog
from bot.slack import listeners
from bot.slack.actions import desk_mentions
from bot.slack.delivery import Delivery, make_client
from bot.slack.filters import Policy
from bot.slack.format import help_text, notice_message
from bot.slack.inbox import Inbox
from bot.slack.jobs import Jobs

log = logging.getLogger(__name__)


class _NoTokenNotice(logging.Filter):
    """bolt warns that SLACK_BOT_TOKEN is unused when a client is given; the client carries that token."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


logging.getLogger("slack_bolt.App").addFilter(_NoTokenNotice())


class KhabarBot:
    def __init__(self, settings: Settings, runtime, client: WebClient | None = None):
        """`runtime`: a started bot.runtime.Runtime with a state store (durable=True)."""
        if runtime.store is None or runtime.engine is None or runtime.metrics is None:
            raise ValueError("KhabarBot needs a started Runtime with durable state (Runtime(..., durable=True))")
        s = settings.slack
        self.settings = settings
        self.runtime = runtime
        self.store = runtime.store
        self.client = client or make_client(s)
        if not self.client.token and s.bot_token:
            self.client.token = s.bot_token
        self.policy = Policy.from_lists(s.allowed_channels, s.allowed_users)
        self.help_text = help_text(sorted(self.policy.allowed_channels), sorted(self.policy.allowed_users))
        self.help = notice_message(self.help_text, mrkdwn=True).kwargs()
        self.feedback = FeedbackLog(settings.feedback_log(), store=self.store)
        try:  # "Still need help?" tags these in the thread ('' when slack.escalate_to is empty: no button)
            self.desk = desk_mentions(s.escalate_to)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        self.metrics = runtime.metrics
        self.delivery = Delivery(self.client, s)
        self.jobs = Jobs(settings, runtime.engine, self.store, self.delivery, self.metrics)
        self.inbox = Inbox(self.store, self.jobs.run, workers=s.workers, dedupe_seconds=s.dedupe_seconds)
        self.metrics.watch_inbox_depth(self.inbox.pending)
        self.app = App(client=self.client, signing_secret=s.signing_secret or None,
                       process_before_response=True,  # the job is on disk before the ack
                       token_verification_enabled=False)  # run_slack checked it, retrying Slack outages
        self._slack_check: LRU[str, str] = LRU(1, ttl_seconds=s.readyz_slack_seconds)
        listeners.register(self.app, self)
        self.app.khabar = self  # the transports and tests reach the bot through the app

    @property
    def engine(self):
        return self.runtime.engine

    def start(self) -> "KhabarBot":
        """Start answering, beginning with what the last process acknowledged but never finished."""
        self.recovered = self.inbox.start()
        return self

    def follows(self, channel: str, thread_ts: str) -> bool:
        return self.store.is_followed(channel, thread_ts, self.settings.conversation.idle_seconds)

    @staticmethod
    def notice(text: str) -> dict:
        return notice_message(text).kwargs()

    def problems(self) -> list[str]:
        """What keeps this bot from answering now, one line each (`GET /readyz`): the served
        index (manifest, model), the state file, and Slack taking the bot token (auth.test, asked
        at most every `readyz_slack_seconds`; a JSON read and one SQL query otherwise)."""
        from bot.doctor import check_index

        found = []
        slack = self._slack_check.get_or_compute("auth.test", self._ask_slack)
        if slack:
            found.append(f"FAIL slack: {slack}")
        index = check_index(self.engine.index_dir, self.runtime.embedder.model_id)
        if not index.ok:
            found.append(index.line())
        try:
            self.store.counts()
        except Exception as exc:  # noqa: BLE001 - any failure of the state file is the answer
            found.append(f"FAIL state: {self.settings.state_file()}: {type(exc).__name__}: {exc}")
        return found

    def _ask_slack(self) -> str:
        """Why Slack refuses the bot token now ('' when it takes it): one try, at most 5 s."""
        from bot.slack.tokens import slack_refusal

        client = make_client(self.settings.slack, token=self.client.token)
        client.timeout = min(client.timeout, 5)
        return slack_refusal("SLACK_BOT_TOKEN", client.auth_test, self.settings, retry_seconds=0) or ""

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until every accepted job is finished (tests, the load script)."""
        return self.inbox.wait_idle(timeout)

    def close(self, wait_seconds: float = 30.0) -> None:
        """Finish the steps in progress; what is left stays in the inbox for the next start."""
        self.inbox.close(wait_seconds)


def build_app(settings: Settings, runtime, client: WebClient | None = None) -> App:
    """The bolt App answering with `runtime`'s engine; `app.khabar` is the started KhabarBot behind it."""
    return KhabarBot(settings, runtime, client).start().app
