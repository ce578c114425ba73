"""The Slack tokens checked: present and well formed (`token_problem`), then taken by Slack
(`slack_refusal`, retrying Slack's own outages). Below `khabar slack` (bot/slack/run.py), the bot's
readiness (bot/slack/app.py) and `khabar doctor` (bot/doctor.py), which all ask; it imports none
of them.
"""
from __future__ import annotations

import re
import sys
import time

from slack_sdk import WebClient

from bot.config import Settings
from bot.slack.delivery import backoff, call


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


def slack_refusal(variable: str, method, settings: Settings, retry_seconds: float | None = None,
                  **kwargs) -> str | None:
    """Why Slack would not take this token (never echoing it), or None once it did.

    Slack's own trouble (5xx, timeouts, connection errors) is retried with backoff for
    `retry_seconds` (default `slack.startup_retry_seconds`; 0: one try): it says nothing about the token.
    """
    retry_seconds = settings.slack.startup_retry_seconds if retry_seconds is None else retry_seconds
    deadline, tries = time.monotonic() + retry_seconds, 0
    while True:
        outcome = call(method, **kwargs)
        if outcome.ok:
            return None
        if outcome.kind == "fail":
            return f"Slack refused {variable} ({outcome.error})"
        tries += 1
        wait = outcome.retry_after if outcome.retry_after is not None else backoff(settings.slack, tries)
        if time.monotonic() + wait > deadline:
            gave_up = f"; gave up after {retry_seconds:.0f} s" if retry_seconds > 0 else ""
            return (f"Slack's API at {settings.slack.api_base_url} is not answering ({outcome.error}){gave_up}. "
                    f"The token was not checked: try again when Slack is up "
                    f"(status.slack.com), or check the network and KHABAR_SLACK_API_BASE_URL")
        print(f"khabar slack: Slack is not answering ({outcome.error}); retrying in {wait:.1f} s",
              file=sys.stderr, flush=True)
        time.sleep(wait)


def check_tokens(settings: Settings, client: WebClient, http: bool) -> str | None:
    problem = slack_refusal("SLACK_BOT_TOKEN", client.auth_test, settings)
    if problem is None and not http:
        problem = slack_refusal("SLACK_APP_TOKEN", client.apps_connections_open, settings,
                                app_token=settings.slack.app_token)
    return problem
