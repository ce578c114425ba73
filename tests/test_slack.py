"""The Slack bot against a local Slack Web API server, with the real engine on the real seeds.

Nothing here fakes the answerer: every answer comes from `bot.engine.Engine` over the seed
index (or a tiny index built from a temporary corpus). Slack is replaced by
`tests/slack_server.py`, a real HTTP server on 127.0.0.1 that speaks the Web API subset the
bot uses; the bot is driven with real signed HTTP requests to its HTTP-mode server on
loopback, and Socket Mode through slack_sdk's own message processing. Waiting is polling on
what the Slack server received, never fixed sleeps.
"""
from __future__ import annotations

import copy
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

import pytest

from tests.slack_server import (APP_TOKEN, BOT_ID, BOT_TOKEN, BOT_USER_ID, SIGNING_SECRET, SlackAPIServer, all_text,
                                block_action, buttons, event_callback, mention, message, next_ts, post_signed,
                                signature_headers, slash_command)

ROOT = Path(__file__).resolve().parent.parent
TWITTER_Q = "How many accounts did the government order Twitter to block?"


# --- fixtures ---------------------------------------------------------------------------------------

@pytest.fixture()
def slack():
    with SlackAPIServer() as server:
        yield server


@pytest.fixture()
def bot_settings(settings, tmp_path):
    s = copy.deepcopy(settings)
    s.slack.bot_token = BOT_TOKEN
    s.slack.signing_secret = SIGNING_SECRET
    s.slack.app_token = ""
    s.slack.feedback_log = tmp_path / "feedback.jsonl"
    s.slack.reload_check_seconds = 0  # the hot-swap test turns it on
    s.slack.workers = 2
    s.slack.allowed_channels = []
    return s


class Harness:
    """The bot's HTTP mode on loopback, and the local Slack server it talks to."""

    def __init__(self, settings, engine, slack: SlackAPIServer):
        from bot.slack_app import SlackHTTPServer, build_app, make_client

        self.slack = slack
        self.settings = settings
        self.app = build_app(settings, engine, make_client(settings, base_url=slack.base_url))
        self.bot = self.app.khabar
        self.bot.start_background()
        self.server = SlackHTTPServer(self.app, port=0, host="127.0.0.1").start()
        self.url = self.server.url

    def send(self, payload: dict, **kw):
        reply = post_signed(self.url, payload, SIGNING_SECRET, **kw)
        return reply

    def mention(self, text: str, **kw) -> tuple[str, object]:
        body = mention(text, **kw)
        reply = self.send(body)
        assert reply.status == 200, reply
        assert reply.seconds < 3.0, f"ack took {reply.seconds:.2f}s"
        return body["event"]["ts"], reply

    def answers_in(self, channel: str, thread_ts: str | None, count: int = 1, timeout: float = 30.0):
        return self.slack.wait_for("chat.postMessage", count=count, timeout=timeout,
                                   where=lambda c: c.body.get("channel") == channel
                                   and c.body.get("thread_ts") == thread_ts)

    def close(self) -> None:
        self.server.shutdown()
        self.bot.close(wait=True)


@pytest.fixture()
def khabar(bot_settings, engine, slack):
    h = Harness(bot_settings, engine, slack)
    yield h
    h.close()


def sections(blocks: list[dict]) -> list[str]:
    return [b["text"]["text"] for b in blocks if b["type"] == "section"]


def contexts(blocks: list[dict]) -> list[str]:
    return [e["text"] for b in blocks if b["type"] == "context" for e in b["elements"]]


# --- pure helpers (no model) ------------------------------------------------------------------------

def test_escape_clip_and_slack_markup():
    from bot.slack_format import clip, escape, slack_to_plain

    assert escape("<!channel> & <@U123>") == "&lt;!channel&gt; &amp; &lt;@U123&gt;"
    clipped = clip(escape("&" * 5000), 3000)
    assert len(clipped) <= 3000 and clipped.endswith("\u2026") and not re.search(r"&[a-z]*\u2026", clipped)
    assert slack_to_plain(f"<@{BOT_USER_ID}> AT&amp;T &lt;3 <#C1|desk> <https://x.in/a|this> <!here>?",
                          BOT_USER_ID) == "AT&T <3 #desk this @here?"
    assert slack_to_plain(f"<@{BOT_USER_ID}>: Who is <@U999|asha>?", BOT_USER_ID) == "Who is @asha?"


def test_token_problems_name_the_variable_never_the_value(settings):
    from bot.slack_app import token_problem

    s = copy.deepcopy(settings)
    s.slack.bot_token, s.slack.app_token, s.slack.signing_secret = "", "", ""
    assert "SLACK_BOT_TOKEN" in token_problem(s, http=False)
    s.slack.bot_token = "xoxp-user-token-sekrit"
    msg = token_problem(s, http=True)
    assert "SLACK_BOT_TOKEN" in msg and "sekrit" not in msg
    s.slack.bot_token = BOT_TOKEN
    assert "SLACK_APP_TOKEN" in token_problem(s, http=False)
    s.slack.app_token = "xoxb-not-an-app-token"
    assert "SLACK_APP_TOKEN" in token_problem(s, http=False)
    s.slack.app_token = "xapp-1-A1-2-abc"
    assert token_problem(s, http=False) is None
    assert "SLACK_SIGNING_SECRET" in token_problem(s, http=True)
    s.slack.signing_secret = SIGNING_SECRET
    assert token_problem(s, http=True) is None


def test_questions_of_one_conversation_answered_in_arrival_order():
    import threading

    from bot.slack_app import ConversationOrder

    order = ConversationOrder()
    first, second, other = order.ticket("t1"), order.ticket("t1"), order.ticket("t2")
    entered = []

    def work(key, ticket):
        with order.turn(key, ticket):
            entered.append(ticket)

    late = threading.Thread(target=work, args=("t1", second))
    late.start()
    work("t2", other)  # another conversation is not held up
    time.sleep(0.05)
    assert entered == [other]  # the second question waits for the first
    work("t1", first)
    late.join(5)
    assert entered == [other, first, second] and len(order) == 0


def test_thread_chat_is_not_addressed_to_the_bot():
    from bot.understand import asks_something

    for text in ("thanks!", "Thank you", "ok 👍", "धन्यवाद", ":pray:", "shukriya", "lol", "Good catch",
                 "haan theek hai", ":+1: ok", "great, thanks a lot", "I'll call her office tomorrow and confirm"):
        assert not asks_something(text), text
    for text in ("Till when will she stay?", "और सरकार ने क्या कहा?", "who else?", "kab tak rahengi",
                 "Did Twitter comply"):
        assert asks_something(text), text


# --- Block Kit layout -----------------------------------------------------------------------------------

@pytest.mark.slow
def test_answer_blocks_cite_and_respect_limits(engine):
    from bot.slack_format import (ACTION_FEEDBACK_DOWN, ACTION_FEEDBACK_UP, MAX_BLOCKS, answer_message)

    result = engine.ask(TWITTER_Q)
    assert not result.abstained
    msg = answer_message(result)
    secs = sections(msg.blocks)
    assert any("1,178" in s for s in secs)
    assert secs[0].startswith(">\u201c") and "*[1]*" in secs[0]
    srcs = contexts(msg.blocks)
    n_cited = sum(1 + len(a.also_in) for a in result.answers)
    assert len(srcs) == n_cited and srcs[0].startswith("*[1]* ")
    assert any(("Hindi" in s) for s in srcs) and any(("English" in s) for s in srcs)
    btn = buttons(msg.blocks)
    assert set(btn) == {ACTION_FEEDBACK_UP, ACTION_FEEDBACK_DOWN}
    value = json.loads(btn[ACTION_FEEDBACK_UP]["value"])
    assert value["q"] == TWITTER_Q and value["a"][0][0] == result.answers[0].citation.doc_id
    assert "1,178" in msg.text

    # Far more than fits: 80 answers, each sentence 5000 characters long, a 600-character question.
    big = replace(result, answers=[replace(result.answers[i % len(result.answers)],
                                           text="\u0915\u0947\u0902\u0926\u094d\u0930 & " * 700)
                                   for i in range(80)])
    msg = answer_message(big, "q" * 600, share_value="x" * 3000)
    from tests.slack_server import block_kit_problem

    assert len(msg.blocks) <= MAX_BLOCKS
    assert block_kit_problem(msg.blocks) is None
    assert all(len(t) <= 3000 for t in sections(msg.blocks) + contexts(msg.blocks))
    assert any(s.endswith("\u2026") for s in sections(msg.blocks))
    assert "more answer" in all_text(msg.blocks)
    assert all(len(b["value"]) <= 2000 for b in buttons(msg.blocks).values())

    abstained = engine.ask("What is the capital of France?")
    assert abstained.abstained
    msg = answer_message(abstained)
    assert "Nothing in the archive answers this" in sections(msg.blocks)[0]


# --- HTTP mode with real signed requests ------------------------------------------------------------

@pytest.mark.slow
def test_mention_answered_in_thread_with_cited_blocks(khabar):
    ts, _ = khabar.mention(TWITTER_Q)
    [call] = khabar.answers_in("CDESK0001", ts)
    body = call.body
    assert body["thread_ts"] == ts
    assert call.headers["authorization"] == f"Bearer {BOT_TOKEN}"
    blocks = body["blocks"]
    assert [b["type"] for b in blocks][-1] == "actions"
    assert any(b["type"] == "divider" for b in blocks)
    assert any("1,178" in s and "*[" in s for s in sections(blocks))
    assert any(re.match(r"\*\[\d\]\* ", c) for c in contexts(blocks))
    assert "1,178" in body["text"]
    assert body.get("unfurl_links") is False


@pytest.mark.slow
def test_thread_followup_answered_in_context_and_bots_ignored(khabar):
    ts, _ = khabar.mention("Who is Mahima Kaul?")
    [first] = khabar.answers_in("CDESK0001", ts)
    assert "Kaul" in all_text(first.body["blocks"])
    # None of these is a question for the bot: another bot, the bot itself, a thanks, a word to a colleague.
    khabar.send(message("Daily digest: 12 stories", thread_ts=ts, user=None, bot_id="BOTHER001",
                        subtype="bot_message"))
    khabar.send(message("Who is Mahima Kaul?", thread_ts=ts, user=BOT_USER_ID, bot_id=BOT_ID))
    khabar.send(message("thanks!", thread_ts=ts))
    khabar.send(message("<@UCOLLEAGUE> can you check this?", thread_ts=ts))
    khabar.send(message("Who is Mahima Kaul?", channel="CDESK0001", user="UREPORTER2"))  # not to the bot
    # The follow-up needs no mention, and is understood in the thread's context.
    khabar.send(message("Till when will she stay?", thread_ts=ts))
    calls = khabar.answers_in("CDESK0001", ts, count=2)
    assert khabar.bot.wait_idle(30)
    calls = khabar.slack.of("chat.postMessage")
    assert len(calls) == 2, [all_text(c.body.get("blocks", []))[:80] for c in calls]
    second = calls[1].body
    assert second["thread_ts"] == ts
    first_answer = sections(second["blocks"])[0]
    assert "March" in first_answer or "Public Policy" in first_answer, first_answer


@pytest.mark.slow
def test_retries_and_duplicates_answered_exactly_once(khabar):
    body = mention(TWITTER_Q)
    ts = body["event"]["ts"]
    replies = [khabar.send(body), khabar.send(body, retry_num=1), khabar.send(body, retry_num=2)]
    dup = copy.deepcopy(body)
    dup["event_id"] = "EvDUPLICATE1"  # a second delivery of the same message under another event id
    replies.append(khabar.send(dup))
    assert [r.status for r in replies] == [200] * 4
    assert all(r.seconds < 3.0 for r in replies)
    khabar.answers_in("CDESK0001", ts)
    assert khabar.bot.wait_idle(30)
    assert len(khabar.slack.of("chat.postMessage")) == 1


@pytest.mark.slow
def test_unsigned_forged_and_stale_requests_rejected(khabar):
    body = mention(TWITTER_Q)
    assert khabar.send(body, sign=False).status == 401
    assert post_signed(khabar.url, body, "0" * 32).status == 401          # signed with another secret
    assert khabar.send(body, signature="v0=" + "ab" * 32).status == 401     # forged signature
    assert khabar.send(body, timestamp=int(time.time()) - 301).status == 401  # stale: over 5 minutes
    challenge = khabar.send({"type": "url_verification", "challenge": "c-42", "token": "t"})
    assert challenge.status == 200 and "c-42" in challenge.body
    assert khabar.bot.wait_idle(10)
    assert khabar.slack.of("chat.postMessage") == []


@pytest.mark.slow
def test_slash_command_ephemeral_then_shared(khabar):
    slack = khabar.slack
    reply = khabar.send(slash_command(TWITTER_Q, slack.response_url("slash")), form=True)
    assert reply.status == 200 and reply.seconds < 3.0
    [resp] = slack.wait_for("response", where=lambda c: c.path.endswith("/slash"))
    assert resp.body["response_type"] == "ephemeral"
    blocks = resp.body["blocks"]
    assert "asked" not in contexts(blocks)[0] and TWITTER_Q in contexts(blocks)[0]
    assert any("1,178" in s for s in sections(blocks))
    share = buttons(blocks)["khabar_share"]
    assert share["text"]["text"] == "Share with channel"

    click = block_action("khabar_share", share["value"], slack.response_url("share"), user="UREPORTER1",
                         ephemeral=True)
    assert khabar.send(click, form=True).status == 200
    [public] = slack.wait_for("chat.postMessage")
    assert public.body["channel"] == "CDESK0001" and "thread_ts" not in public.body
    assert "<@UREPORTER1> asked" in contexts(public.body["blocks"])[0]
    assert any("1,178" in s for s in sections(public.body["blocks"]))
    assert "khabar_share" not in buttons(public.body["blocks"])
    [gone] = slack.wait_for("response", where=lambda c: c.path.endswith("/share"))
    assert gone.body.get("delete_original") is True

    # Empty /khabar: the help, straight in the ack.
    help_reply = khabar.send(slash_command("", slack.response_url("help")), form=True)
    assert help_reply.status == 200 and "Ask me" in help_reply.body


@pytest.mark.slow
def test_dm_answer_and_feedback_logged(khabar, bot_settings):
    from bot.feedback import read_feedback

    slack = khabar.slack
    dm = message("Who is Mahima Kaul?", channel="DREPORTER", channel_type="im")
    assert khabar.send(dm).status == 200
    [answer] = khabar.answers_in("DREPORTER", None)  # a DM is answered in place, not in a thread
    value = buttons(answer.body["blocks"])["khabar_feedback_down"]["value"]
    click = block_action("khabar_feedback_down", value, slack.response_url("vote"), channel="DREPORTER",
                         user="UEDITOR01", message_ts=answer.ts)
    assert khabar.send(click, form=True).status == 200
    [thanks] = slack.wait_for("response", where=lambda c: c.path.endswith("/vote"))
    assert thanks.body["response_type"] == "ephemeral" and thanks.body["replace_original"] is False
    [entry] = read_feedback(bot_settings.feedback_log())
    assert entry["vote"] == "down" and entry["user"] == "UEDITOR01" and entry["channel"] == "DREPORTER"
    assert entry["question"] == "Who is Mahima Kaul?" and entry["message_ts"] == answer.ts
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$", entry["at"])
    cited = json.loads(value)["a"]
    assert [a["doc_id"] for a in entry["answers"]] == [a[0] for a in cited]
    assert entry["answer_ids"][0] == f"{cited[0][0]}#{cited[0][1]}"


@pytest.mark.slow
def test_apology_when_answering_fails_and_long_question_refused(khabar, engine, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("embedding model crashed")

    monkeypatch.setattr(engine.embedder, "queries", broken)
    ts, _ = khabar.mention(TWITTER_Q)
    [apology] = khabar.answers_in("CDESK0001", ts)
    assert "Sorry, something went wrong" in apology.body["text"]
    assert "embedding model crashed" in caplog.text  # the cause is logged
    monkeypatch.undo()

    ts2, _ = khabar.mention("why " * 200)  # 800 characters: over max_question_chars (500)
    [refusal] = khabar.answers_in("CDESK0001", ts2)
    assert "the limit is 500" in refusal.body["text"]

    ts3, _ = khabar.mention(TWITTER_Q)  # the app lives on
    [answer] = khabar.answers_in("CDESK0001", ts3)
    assert "1,178" in answer.body["text"]


@pytest.mark.slow
def test_rate_limited_post_is_retried_after_retry_after(khabar):
    khabar.slack.rate_limit("chat.postMessage", retry_after=1)
    ts, _ = khabar.mention(TWITTER_Q)
    [ok] = khabar.answers_in("CDESK0001", ts)
    [limited] = [c for c in khabar.slack.of("chat.postMessage", ok_only=False) if c.status == 429]
    assert ok.at - limited.at >= 0.9
    assert khabar.bot.wait_idle(10)
    assert len(khabar.slack.of("chat.postMessage")) == 1


@pytest.mark.slow
def test_allowed_channels_and_unknown_events(bot_settings, engine, slack):
    bot_settings.slack.allowed_channels = ["CDESK0001"]
    h = Harness(bot_settings, engine, slack)
    try:
        ts_other, _ = h.mention(TWITTER_Q, channel="COTHER001")
        [note] = slack.wait_for("chat.postEphemeral")
        assert note.body["channel"] == "COTHER001" and note.body["user"] == "UREPORTER1"
        assert "not enabled" in note.body["text"]
        refused = h.send(slash_command(TWITTER_Q, slack.response_url("x"), channel="COTHER001"), form=True)
        assert refused.status == 200 and "not enabled" in refused.body

        # Unknown events, actions and payloads are acknowledged and ignored.
        for event in ({"type": "reaction_added", "user": "U1", "reaction": "eyes", "item": {}},
                      {"type": "channel_created", "channel": {"id": "C9"}},
                      {"type": "message", "subtype": "message_deleted", "channel": "CDESK0001", "ts": next_ts()}):
            assert h.send(event_callback(event)).status == 200
        assert h.send(block_action("mystery_button", "1", slack.response_url("m")), form=True).status == 200
        assert h.send({"token": "t", "type": "app_rate_limited", "team_id": "TNEWSROOM",
                       "minute_rate_limited": 1518467820, "api_app_id": "AKHABAR01"}).status == 200

        ts, _ = h.mention("What is the capital of France?")  # allowed channel: answered (plainly: not found)
        [answer] = h.answers_in("CDESK0001", ts)
        assert "Nothing in the archive answers this" in answer.body["text"]
        assert h.bot.wait_idle(10)
        assert [c.body["channel"] for c in slack.of("chat.postMessage")] == ["CDESK0001"]
    finally:
        h.close()


# --- Socket Mode through slack_sdk's own envelope processing ---------------------------------------------

@pytest.mark.slow
def test_socket_mode_dispatch_and_redelivery_answered_once(bot_settings, engine, slack):
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.slack_app import build_app, make_client

    client = make_client(bot_settings, base_url=slack.base_url)
    app = build_app(bot_settings, engine, client)
    handler = SocketModeHandler(app, app_token="xapp-1-A111-222-socketmodetest", web_client=client)
    acks = []
    handler.client.send_socket_mode_response = acks.append  # the WebSocket send, the only network step
    try:
        body = mention(TWITTER_Q, channel="CSOCKET01")
        ts = body["event"]["ts"]
        for n, (attempt, reason) in enumerate([(0, None), (1, "timeout"), (2, "timeout")]):
            handler.client.enqueue_message(json.dumps({
                "envelope_id": f"env-{n}", "type": "events_api", "accepts_response_payload": False,
                "retry_attempt": attempt, "retry_reason": reason, "payload": body}))
        [answer] = slack.wait_for("chat.postMessage", where=lambda c: c.body.get("thread_ts") == ts)
        assert "1,178" in answer.body["text"]
        deadline = time.monotonic() + 10
        while len(acks) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sorted(a.envelope_id for a in acks) == ["env-0", "env-1", "env-2"]
        assert app.khabar.wait_idle(20)
        assert len(slack.of("chat.postMessage")) == 1
    finally:
        handler.client.close()
        app.khabar.close()


# --- a tiny archive of our own: escaping, links, hot index swap -----------------------------------------

ARTICLES = [
    {"id": "dogshow-2021", "title": "Pune dog show: <!here> 4,500 visitors & a banner", "date": "2021-03-14",
     "url": "https://example.com/news?id=7&lang=en", "lang": "en",
     "text": "The annual Pune dog show on Sunday drew 4,500 visitors, and a banner reading <!channel> <!here> "
             "<@U123> greeted them at the gate. The organisers said the next show will be held in December. "
             "Labradors won most of the prizes this year."},
    {"id": "monsoon-2021", "title": "Mumbai monsoon arrives early", "date": "2021-06-09", "lang": "en",
     "text": "The monsoon reached Mumbai two days early this year, the weather office said. Local trains were "
             "delayed after heavy rain flooded tracks in Sion and Kurla. The city received 231 mm of rain in "
             "24 hours."},
    {"id": "cricket-hi-2021", "title": "भारत ने श्रृंखला जीती", "date": "2021-03-28", "lang": "hi",
     "text": "भारत ने इंग्लैंड को तीसरे एकदिवसीय मैच में सात रन से हराकर श्रृंखला 2-1 से जीत ली। "
             "सैम करन ने 95 रन की नाबाद पारी खेली लेकिन टीम को जीत नहीं दिला सके।"},
]
ORANGES = {"id": "oranges-2021", "title": "Nagpur orange festival", "date": "2021-12-05", "lang": "en",
           "text": "The Nagpur orange festival sold 12 tonnes of oranges over three days, the organisers said. "
                   "Farmers from Amravati brought the largest stalls."}


def _write_corpus(folder: Path, articles: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "articles.jsonl").open("w", encoding="utf-8") as f:
        for a in articles:
            f.write(json.dumps(a, ensure_ascii=False) + "\n")
    return folder


@pytest.mark.slow
def test_tiny_archive_escaped_and_hot_swapped(bot_settings, settings, embedder, slack, tmp_path):
    from bot.engine import Engine
    from index.build import build_index

    out = tmp_path / "tiny-index"
    build_index([_write_corpus(tmp_path / "corpus", ARTICLES)], out, settings.index, embedder=embedder,
                progress=False)
    engine = Engine(bot_settings, out, embedder=embedder, progress=False)
    bot_settings.slack.reload_check_seconds = 0.2
    h = Harness(bot_settings, engine, slack)
    try:
        reply = h.send(slash_command("How many visitors did the Pune dog show draw? <!here> &amp; <@U777>",
                                     slack.response_url("dog")), form=True)
        assert reply.status == 200
        [resp] = slack.wait_for("response", where=lambda c: c.path.endswith("/dog"))
        raw = json.dumps(resp.body, ensure_ascii=False)
        assert "4,500" in raw
        for ping in ("<!channel>", "<!here>", "<@U123>", "<@U777>"):
            assert ping not in raw, ping  # shown as text, pings nobody
        text = all_text(resp.body["blocks"])
        assert "&lt;!channel&gt; &lt;!here&gt; &lt;@U123&gt;" in text
        assert "<https://example.com/news?id=7&amp;lang=en|Pune dog show: &lt;!here&gt; 4,500 visitors &amp; " \
               "a banner>" in text
        assert "@here &amp; @U777" in contexts(resp.body["blocks"])[0]  # the question, escaped too
        assert "&lt;" in resp.body["text"] and "<!" not in resp.body["text"]

        # Hot swap: the offline rebuild replaces the index folder; the running bot picks it up.
        old_build = engine.index.build_id
        build_index([_write_corpus(tmp_path / "corpus", ARTICLES + [ORANGES])], out, settings.index,
                    embedder=embedder, progress=False)
        deadline = time.monotonic() + 20
        while engine.index.build_id == old_build and time.monotonic() < deadline:
            time.sleep(0.05)
        assert engine.index.build_id != old_build
        ts, _ = h.mention("How many tonnes of oranges did the Nagpur festival sell?")
        [answer] = h.answers_in("CDESK0001", ts)
        assert "12 tonnes" in answer.body["text"] and "oranges-2021" in all_text(answer.body["blocks"])
    finally:
        h.close()


# --- the command line: token checks and `khabar slack --http` end to end -----------------------------------

def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("SLACK_") or (k.startswith("KHABAR_") and k != "KHABAR_HOME"))}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


@pytest.mark.slow
@pytest.mark.parametrize("env, args, variable, secret", [
    ({}, [], "SLACK_BOT_TOKEN", None),
    ({"SLACK_BOT_TOKEN": "xoxp-9999-sekritUserToken"}, [], "SLACK_BOT_TOKEN", "sekritUserToken"),
    ({"SLACK_BOT_TOKEN": BOT_TOKEN}, [], "SLACK_APP_TOKEN", "khabartesttoken"),
    ({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": "xoxb-sekritWrongKind"}, [], "SLACK_APP_TOKEN",
     "sekritWrongKind"),
    ({"SLACK_BOT_TOKEN": BOT_TOKEN}, ["--http", "3000"], "SLACK_SIGNING_SECRET", "khabartesttoken"),
    ({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": "has spaces sekrit"}, ["--http", "3000"],
     "SLACK_SIGNING_SECRET", "sekrit"),
])
def test_cli_token_validation(env, args, variable, secret, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "bot", "slack", *args], env=_env(**env), cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and variable in lines[0], proc.stderr
    if secret:
        assert secret not in proc.stdout + proc.stderr
    assert proc.stdout == ""


@pytest.mark.slow
def test_cli_refused_tokens_fail_fast(slack, tmp_path):
    """Well-formed but wrong tokens: Slack's refusal, named, before the model is loaded."""
    cases = [({"SLACK_BOT_TOKEN": "xoxb-1111-2222-sekritwrong", "SLACK_SIGNING_SECRET": SIGNING_SECRET},
              ["--http", "3000"], "SLACK_BOT_TOKEN", "sekritwrong"),
             ({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": "xapp-1-A1-2-sekritapp"}, [], "SLACK_APP_TOKEN",
              "sekritapp")]
    for env, args, variable, secret in cases:
        proc = subprocess.run([sys.executable, "-m", "bot", "slack", *args],
                              env=_env(KHABAR_SLACK_API_BASE_URL=slack.base_url, **env), cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2, proc.stderr
        assert f"Slack refused {variable} (invalid_auth)" in proc.stderr
        assert secret not in proc.stdout + proc.stderr and APP_TOKEN not in proc.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_khabar_slack_http_against_local_slack(slack, seed_index_dir, tmp_path):
    """`khabar slack --http PORT` (the real command) answers a mention and its follow-up in the thread."""
    port = _free_port()
    env = _env(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET,
               KHABAR_SLACK_API_BASE_URL=slack.base_url, KHABAR_SLACK_FEEDBACK_LOG=str(tmp_path / "fb.jsonl"))
    proc = subprocess.Popen([sys.executable, "-m", "bot", "slack", "--index", str(seed_index_dir), "--http",
                             str(port)], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "khabar slack did not start"
            time.sleep(0.2)
        url = f"http://127.0.0.1:{port}/slack/events"
        first = mention("Who is Mahima Kaul?")
        ts = first["event"]["ts"]
        assert post_signed(url, first).status == 200
        slack.wait_for("chat.postMessage", where=lambda c: c.body.get("thread_ts") == ts, timeout=60)
        assert post_signed(url, message("Till when will she stay?", thread_ts=ts)).status == 200
        calls = slack.wait_for("chat.postMessage", count=2, where=lambda c: c.body.get("thread_ts") == ts,
                               timeout=60)
        follow = sections(calls[1].body["blocks"])[0]
        assert "March" in follow or "Public Policy" in follow, follow
    finally:
        proc.terminate()
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
    assert proc.returncode == 0, err
    assert BOT_TOKEN not in out + err and SIGNING_SECRET not in out + err


def test_signature_helper_matches_bolt():
    """The tests' signer agrees with slack_sdk's verifier (so a 401 above means the bot refused it)."""
    from slack_sdk.signature import SignatureVerifier

    body = json.dumps(mention("hello"))
    headers = signature_headers(SIGNING_SECRET, body)
    assert SignatureVerifier(SIGNING_SECRET).is_valid(body, headers["X-Slack-Request-Timestamp"],
                                                      headers["X-Slack-Signature"])
