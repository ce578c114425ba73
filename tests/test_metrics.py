"""bot/metrics.py and the operations endpoints, with the real bot over the seed index and the
local Slack server: signed questions move the counters that `GET /metrics` shows, the ledger
`khabar stats` reads counts them, and `/readyz` names Slack refusing the token."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from tests.slack_server import block_action, buttons, mention, message
from tests.test_slack import ROOT, TWITTER_Q, bot_settings, khabar, runtime, slack  # noqa: F401 (fixtures)


def sample(text: str, name: str, **labels) -> float | None:
    """The value of the sample `name` whose labels include `labels`, parsed by prometheus_client's
    own parser (None if absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return None


def scrape(base: str) -> str:
    with urllib.request.urlopen(base + "/metrics", timeout=5) as r:
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return r.read().decode("utf-8")


def test_every_series_exists_from_the_start_and_labels_are_checked():
    from bot.metrics import OUTCOMES, Metrics

    m = Metrics()
    text = m.exposition().decode()
    for outcome in OUTCOMES:
        assert sample(text, "khabar_questions_total", outcome=outcome) == 0.0
    assert sample(text, "khabar_slack_deliveries_total", result="rate_limited") == 0.0
    assert sample(text, "khabar_answer_seconds_count", stage="deliver") == 0.0
    m.question("answered")
    m.stage("retrieve", 0.02)
    m.delivery("retried", 2)
    text = m.exposition().decode()
    assert sample(text, "khabar_questions_total", outcome="answered") == 1.0
    assert sample(text, "khabar_answer_seconds_bucket", stage="retrieve", le="0.025") == 1.0
    assert sample(text, "khabar_slack_deliveries_total", result="retried") == 2.0
    assert "khabar_inbox_depth" not in text  # nothing watched: no live gauges invented
    assert sample(text, "process_resident_memory_bytes") > 0
    for bad in (lambda: m.question("ok"), lambda: m.stage("think", 1.0), lambda: m.delivery("lost")):
        with pytest.raises(ValueError):
            bad()
    assert Metrics().exposition().count(b'outcome="answered"} 0.0') == 1  # registries are not shared


@pytest.mark.slow
def test_signed_questions_move_metrics_and_the_stats_ledger(khabar, bot_settings, tmp_path):
    slack, base = khabar.slack, khabar.url.rsplit("/slack/events", 1)[0]
    before = scrape(base)
    assert sample(before, "khabar_index_generation") == 1.0
    assert sample(before, "khabar_index_age_seconds") >= 0
    assert sample(before, "khabar_inbox_depth") == 0.0
    assert re.search(r'^khabar_index_info\{build_id="[^"]+",path="[^"]+"\} 1\.0$', before, re.MULTILINE)

    slack.rate_limit("chat.postMessage", retry_after=1)  # the answer's first post is rate limited
    ts, _ = khabar.mention(TWITTER_Q)
    [answer] = khabar.answers_in("CDESK0001", ts, timeout=60)
    assert khabar.send(message("lol", channel="DREPORTER", channel_type="im")).status == 200  # chat: silent
    value = buttons(answer.body["blocks"])["khabar_feedback_down"]["value"]
    click = block_action("khabar_feedback_down", value, slack.response_url("vote"), user="UEDITOR01",
                         message_ts=answer.ts)
    assert khabar.send(click, form=True).status == 200
    khabar.idle(60)

    after = scrape(base)
    assert sample(after, "khabar_questions_total", outcome="answered") == 1.0
    assert sample(after, "khabar_questions_total", outcome="not_question") == 1.0
    for stage in ("retrieve", "choose", "deliver"):
        assert sample(after, "khabar_answer_seconds_count", stage=stage) >= 1.0, stage
    assert sample(after, "khabar_answer_seconds_sum", stage="deliver") >= 0.9  # waited out the Retry-After
    assert sample(after, "khabar_slack_deliveries_total", result="rate_limited") == 1.0
    assert sample(after, "khabar_slack_deliveries_total", result="posted") >= 2.0  # the answer, the thanks
    assert sample(after, "khabar_feedback_votes_total", vote="down") == 1.0
    assert sample(after, "khabar_inbox_depth") == 0.0
    assert "xoxb-" not in after and bot_settings.slack.signing_secret not in after  # no secrets

    big = urllib.request.Request(base + "/metrics", data=b"x" * (bot_settings.slack.max_body_bytes + 1),
                                 method="GET")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(big, timeout=5)
    assert err.value.code == 413  # the same body limit as the events endpoint

    # The same question, as `khabar stats --json` reads it from the state file.
    env = {**os.environ, "KHABAR_SLACK_STATE_FILE": str(bot_settings.state_file()), "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "bot", "stats", "--json", "--since", "1h"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["questions"] == 2
    assert report["outcomes"]["answered"]["count"] == 1 and report["outcomes"]["not_question"]["count"] == 1
    assert report["deliveries"] == {"replies": 1, "posted": 1, "retried": 1, "retries": 1, "rate_limited": 1,
                                    "failed": 0, "pending": 0}
    assert report["votes"]["down"] == 1 and report["votes"]["down_share"] == 1.0
    assert report["latency_ms"]["answer"]["n"] == 2 and report["latency_ms"]["deliver"]["p50"] >= 900
    [worst] = report["most_downvoted"]
    assert worst["question"] == TWITTER_Q and worst["down"] == 1
    assert worst["citations"] and all(c["title"] and c["text"] for c in worst["citations"])


@pytest.mark.slow
def test_refused_by_policy_is_counted_once(khabar, bot_settings):
    from bot.slack.filters import Policy

    khabar.bot.policy = Policy.from_lists(["CSOMEWHERE"], [])
    body = mention("How many accounts were blocked?", channel="CDESK0001")
    for retry in (None, 1):  # Slack's retry of the same event is not a second question
        assert khabar.send(body, retry_num=retry).status == 200
    khabar.idle()
    text = scrape(khabar.url.rsplit("/slack/events", 1)[0])
    assert sample(text, "khabar_questions_total", outcome="refused") == 1.0
    assert sample(text, "khabar_questions_total", outcome="answered") == 0.0


@pytest.mark.slow
def test_readyz_names_slack_refusing_the_token(khabar, bot_settings):
    base = khabar.url.rsplit("/slack/events", 1)[0]
    khabar.bot._slack_check.ttl_seconds = 0.0  # ask Slack on every probe
    khabar.slack.fail("auth.test", status=200, error="invalid_auth")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(base + "/readyz", timeout=10)
    body = err.value.read().decode()
    assert err.value.code == 503 and body.count("\n") == 1
    assert body.startswith("FAIL slack: Slack refused SLACK_BOT_TOKEN (invalid_auth)")
    with urllib.request.urlopen(base + "/readyz", timeout=10) as r:  # Slack takes it again
        assert r.read() == b"ready"
