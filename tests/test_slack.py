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
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path

import pytest

from tests.slack_server import (APP_TOKEN, BOT_ID, BOT_TOKEN, BOT_USER_ID, SIGNING_SECRET, SlackAPIServer, all_text,
                                block_action, buttons, event_callback, mention, message, next_ts, post_signed, quotes,
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
    s.slack.state_file = tmp_path / "state.sqlite3"
    s.slack.reload_check_seconds = 0  # the hot-swap test turns it on
    s.slack.workers = 2
    s.slack.allowed_channels = []
    # Slack's bad days, compressed: retries 50 ms apart, a hung call given up after 2 s.
    s.slack.retry_base_seconds = 0.05
    s.slack.retry_max_seconds = 0.5
    s.slack.call_timeout_seconds = 2.0
    s.slack.delivery_deadline_seconds = 60.0
    return s


@pytest.fixture()
def runtime(bot_settings, seed_index_dir, embedder):
    from bot.runtime import Runtime

    rt = Runtime(bot_settings, seed_index_dir, durable=True, embedder=embedder).start()
    yield rt
    rt.close()


class Harness:
    """The bot's HTTP mode (bolt's WSGI adapter on waitress) on loopback, and the local Slack server."""

    def __init__(self, settings, runtime, slack: SlackAPIServer):
        from bot.slack.app import KhabarBot
        from bot.slack.delivery import make_client
        from bot.slack.http import SlackHTTPServer

        self.slack = slack
        self.settings = settings
        settings.slack.api_base_url = slack.base_url
        self.bot = KhabarBot(settings, runtime, make_client(settings.slack)).start()
        self.app = self.bot.app
        self.server = SlackHTTPServer(self.app, settings.slack, port=0, host="127.0.0.1").start()
        self.url = self.server.url

    def send(self, payload: dict, **kw):
        return post_signed(self.url, payload, SIGNING_SECRET, **kw)

    def mention(self, text: str, **kw) -> tuple[str, object]:
        body = mention(text, **kw)
        event = body["event"]
        self.slack.add_user_message(event["channel"], event["text"], user=event["user"], ts=event["ts"],
                                    thread_ts=event.get("thread_ts"))  # Slack holds the question it sent
        reply = self.send(body)
        assert reply.status == 200, reply
        assert reply.seconds < 3.0, f"ack took {reply.seconds:.2f}s"
        return body["event"]["ts"], reply

    def answers_in(self, channel: str, thread_ts: str | None, count: int = 1, timeout: float = 30.0):
        return self.slack.wait_for("chat.postMessage", count=count, timeout=timeout,
                                   where=lambda c: c.body.get("channel") == channel
                                   and c.body.get("thread_ts") == thread_ts)

    def idle(self, timeout: float = 30.0) -> None:
        assert self.bot.wait_idle(timeout), f"still pending: {self.bot.inbox.pending()}"

    def close(self) -> None:
        self.server.shutdown()
        self.bot.close()


@pytest.fixture()
def khabar(bot_settings, runtime, slack):
    h = Harness(bot_settings, runtime, slack)
    yield h
    h.close()


def engine_quotes(engine, *turns: str) -> list[str]:
    """What the engine answers to the last turn, asked after the others in one new conversation."""
    cid = f"expected-{next_ts()}"
    for turn in turns:
        result = engine.ask(turn, conversation_id=cid if len(turns) > 1 else None)
    return [a.text for a in result.answers]


def same_quotes(posted_quotes: list[str], expected: list[str]) -> bool:
    """Posted quotes are the engine's sentences (a long one may be clipped on display)."""
    return len(posted_quotes) == len(expected) and all(
        q.rstrip("\u2026") and e.startswith(q.rstrip("\u2026")[:200]) for q, e in zip(posted_quotes, expected))


END_OF_MARCH = "Kaul will continue in her role till the end of March"
FOLLOWUP = "Till when will she stay?"


def posted(slack: SlackAPIServer, **where) -> list[dict]:
    """The bot's messages still in Slack (after updates and deletes)."""
    return [m for m in slack.messages() if all(m.get(k) == v for k, v in where.items())]


# --- pure helpers (no model) ------------------------------------------------------------------------

def test_escape_clip_and_slack_markup():
    from bot.slack.mrkdwn import clip, escape, slack_to_plain

    assert escape("<!channel> & <@U123>") == "&lt;!channel&gt; &amp; &lt;@U123&gt;"
    clipped = clip(escape("&" * 5000), 3000)
    assert len(clipped) <= 3000 and clipped.endswith("\u2026") and not re.search(r"&[a-z]*\u2026", clipped)
    assert slack_to_plain(f"<@{BOT_USER_ID}> AT&amp;T &lt;3 <#C1|desk> <https://x.in/a|this> <!here>?",
                          BOT_USER_ID) == "AT&T <3 #desk this @here?"
    assert slack_to_plain(f"<@{BOT_USER_ID}>: Who is <@U999|asha>?", BOT_USER_ID) == "Who is @asha?"
    assert slack_to_plain(":+1: ok", BOT_USER_ID) == ":+1: ok"


def test_token_problems_name_the_variable_never_the_value(settings):
    from bot.slack.run import token_problem

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


#: The issue's thread chat, and more: none of it is a question for the bot.
THREAD_CHAT = ["lol", "Good catch", "haan theek hai", ":pray:", "great, thanks a lot",
               "I'll call her office tomorrow and confirm", "thanks!", "Thank you", "ok 👍", "धन्यवाद", "shukriya",
               ":+1: ok", "nice one", "<@UCOLLEAGUE> can you check this?", "<@UCOLLEAGUE> who is she?"]


def test_thread_chat_is_not_addressed_to_the_bot():
    from bot.slack.filters import thread_reply_for_bot
    from bot.slack.mrkdwn import slack_to_plain

    for text in THREAD_CHAT:
        assert not thread_reply_for_bot(text, slack_to_plain(text, BOT_USER_ID), BOT_USER_ID), text
    for text in ("Till when will she stay?", "और सरकार ने क्या कहा?", "who else?", "kab tak rahengi",
                 "Did Twitter comply"):
        assert thread_reply_for_bot(text, slack_to_plain(text, BOT_USER_ID), BOT_USER_ID), text


def test_policy_governs_channels_and_dms():
    from bot.slack.filters import Policy

    open_ = Policy.from_lists([], [])
    assert open_.allows("C1", "U1", dm=False) and open_.allows("D1", "U1", dm=True)
    channels = Policy.from_lists(["CDESK"], [])
    assert channels.allows("CDESK", "U1", False) and not channels.allows("COTHER", "U1", False)
    assert not channels.allows("D1", "U1", True)  # DMs no longer bypass allowed_channels
    assert Policy.from_lists(["CDESK", "D1"], []).allows("D1", "U1", True)
    users = Policy.from_lists(["CDESK"], ["U1"])
    assert users.allows("CDESK", "U1", False) and users.allows("D9", "U1", True)
    assert not users.allows("CDESK", "U2", False) and not users.allows("D9", "U2", True)


# --- Block Kit layout -----------------------------------------------------------------------------------

@pytest.mark.slow
def test_answer_messages_cite_and_respect_limits(engine):
    from bot.slack.actions import ACTION_FEEDBACK_DOWN, ACTION_FEEDBACK_UP
    from bot.slack.format import answer_messages
    from tests.slack_server import block_kit_problem

    result = engine.ask(TWITTER_Q)
    assert not result.abstained
    [msg] = answer_messages(result)
    text = all_text(msg.blocks)
    assert "1,178" in text and "[1]" in text
    assert ("Hindi" in text) and ("English" in text)
    btn = buttons(msg.blocks)
    assert set(btn) == {ACTION_FEEDBACK_UP, ACTION_FEEDBACK_DOWN}
    value = json.loads(btn[ACTION_FEEDBACK_UP]["value"])
    assert value["q"] == TWITTER_Q and value["a"][0][0] == result.answers[0].citation.doc_id
    assert "1,178" in msg.text and block_kit_problem(msg.blocks) is None

    # Far more than fits one message: 40 answers of ~1,000 characters; nothing is cut mid-quote.
    big = replace(result, answers=[replace(result.answers[i % len(result.answers)],
                                           text=f"Quote {i} " + "\u0915\u0947\u0902\u0926\u094d\u0930 *5 crore* & " * 60)
                                   for i in range(40)])
    msgs = answer_messages(big, "q" * 600, share_value="x" * 3000)
    assert len(msgs) > 1
    assert all(block_kit_problem(m.blocks) is None and len(m.blocks) <= 50 for m in msgs)
    joined = "\n".join(all_text(m.blocks) for m in msgs)
    for i in range(40):
        assert joined.count(f"Quote {i} ") == 1  # every quote exactly once
    assert "*5 crore*" in joined  # literally, not bold
    assert buttons(msgs[-1].blocks) and not any(buttons(m.blocks) for m in msgs[:-1])

    abstained = engine.ask("What is the capital of France?")
    assert abstained.abstained
    [msg] = answer_messages(abstained)
    assert "Nothing in the archive answers this" in all_text(msg.blocks)


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
    assert "1,178" in all_text(blocks) and "1,178" in body["text"]
    assert body.get("unfurl_links") is False
    assert body["metadata"]["event_type"] == "khabar_answer"  # how a retried post finds itself
    khabar.idle()
    assert khabar.bot.store.counts() == {"done": 1}


@pytest.mark.slow
def test_thread_chat_gets_nothing_questions_get_answers(khabar, runtime):
    ts, _ = khabar.mention("Who is Mahima Kaul?")
    [first] = khabar.answers_in("CDESK0001", ts)
    assert "Kaul" in all_text(first.body["blocks"])
    # None of these is a question for the bot: other bots, the bot itself, chat, words to a colleague.
    khabar.send(message("Daily digest: 12 stories", thread_ts=ts, user=None, bot_id="BOTHER001",
                        subtype="bot_message"))
    khabar.send(message("Who is Mahima Kaul?", thread_ts=ts, user=BOT_USER_ID, bot_id=BOT_ID))
    for text in THREAD_CHAT:
        assert khabar.send(message(text, thread_ts=ts)).status == 200
    khabar.send(message("Who is Mahima Kaul?", channel="CDESK0001", user="UREPORTER2"))  # not to the bot
    khabar.idle()
    assert len(khabar.slack.of("chat.postMessage")) == 1
    # The follow-up needs no mention, and is understood in the thread's context.
    khabar.send(message("Till when will she stay?", thread_ts=ts))
    calls = khabar.answers_in("CDESK0001", ts, count=2)
    khabar.idle()
    assert len(khabar.slack.of("chat.postMessage")) == 2
    # Its own answer: the end-of-March sentence first, and exactly what the engine says to the
    # question asked after "Who is Mahima Kaul?" in one conversation.
    follow = quotes(calls[1].body["blocks"])
    assert follow and END_OF_MARCH in follow[0], follow
    assert same_quotes(follow, engine_quotes(runtime.engine, "Who is Mahima Kaul?", "Till when will she stay?")), follow


@pytest.mark.slow
def test_dm_greeting_and_thanks_get_help_or_nothing(khabar):
    for text in ("hi", "help"):
        khabar.send(message(text, channel="DREPORTER", channel_type="im"))
    khabar.send(message("thanks", channel="DREPORTER", channel_type="im"))
    khabar.idle()
    calls = khabar.slack.of("chat.postMessage")
    assert len(calls) == 2 and all("Ask me" in c.body["text"] for c in calls)


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
    khabar.idle()
    assert len(khabar.slack.of("chat.postMessage")) == 1


@pytest.mark.slow
def test_bad_requests_get_401_413_without_a_traceback(khabar, caplog):
    import http.client

    body = mention(TWITTER_Q)
    assert khabar.send(body, sign=False).status == 401
    assert post_signed(khabar.url, body, "0" * 32).status == 401          # signed with another secret
    assert khabar.send(body, signature="v0=" + "ab" * 32).status == 401     # forged signature
    assert khabar.send(body, signature="garbage").status == 401             # malformed signature
    assert khabar.send(body, timestamp=int(time.time()) - 301).status == 401  # stale: over 5 minutes
    raw = json.dumps(body)
    bad_ts = {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=" + "0" * 64}
    from tests.slack_server import post
    assert post(khabar.url, raw, "application/json", bad_ts).status == 401  # malformed timestamp
    assert post(khabar.url, "{{{not json", "application/json").status == 401  # unsigned garbage
    # A body announced at 4 GB is refused from its headers, before any of it is read.
    conn = http.client.HTTPConnection("127.0.0.1", khabar.server.port, timeout=10)
    conn.putrequest("POST", "/slack/events")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(4 * 1024 ** 3))
    conn.endheaders()
    conn.send(b"{" * 1024)
    assert conn.getresponse().status == 413
    conn.close()
    big = post_signed(khabar.url, {"type": "event_callback", "pad": "x" * 1_100_000})
    assert big.status == 413
    challenge = khabar.send({"type": "url_verification", "challenge": "c-42", "token": "t"})
    assert challenge.status == 200 and "c-42" in challenge.body
    khabar.idle(10)
    assert khabar.slack.of("chat.postMessage") == []
    assert "Traceback" not in caplog.text


def test_readyz_names_what_keeps_the_bot_from_answering(khabar):
    base = khabar.url.rsplit("/slack/events", 1)[0]
    with urllib.request.urlopen(base + "/readyz", timeout=5) as r:
        assert r.status == 200 and r.read() == b"ready"
    khabar.bot.store.close()  # the state file goes away under the running bot
    try:
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(base + "/readyz", timeout=5)
        assert err.value.code == 503 and b"FAIL state:" in err.value.read()
    finally:
        khabar.bot.store.open()


SHARED_FOLLOWUP = "When did it order that?"


@pytest.mark.slow
def test_slash_command_ephemeral_then_shared(khabar, runtime):
    slack = khabar.slack
    reply = khabar.send(slash_command(TWITTER_Q, slack.response_url("slash")), form=True)
    assert reply.status == 200 and reply.seconds < 3.0
    [resp] = slack.wait_for("response", where=lambda c: c.path.endswith("/slash"))
    assert resp.body["response_type"] == "ephemeral"
    blocks = resp.body["blocks"]
    assert TWITTER_Q in all_text(blocks) and "1,178" in all_text(blocks)
    share = buttons(blocks)["khabar_share"]
    assert share["text"]["text"] == "Share with channel"

    click = block_action("khabar_share", share["value"], slack.response_url("share"), user="UREPORTER1",
                         ephemeral=True)
    assert khabar.send(click, form=True).status == 200
    [public] = slack.wait_for("chat.postMessage")
    assert public.body["channel"] == "CDESK0001" and "thread_ts" not in public.body
    assert "UREPORTER1" in json.dumps(public.body["blocks"]) and "1,178" in all_text(public.body["blocks"])
    assert "khabar_share" not in buttons(public.body["blocks"])
    [gone] = slack.wait_for("response", where=lambda c: c.path.endswith("/share"))
    assert gone.body.get("delete_original") is True
    # A reply in the shared answer's thread is a follow-up of its question: "it" is the government
    # and "that" the blocking order, so the February 4 order comes first; asked alone, the same
    # words get another answer.
    khabar.send(message(SHARED_FOLLOWUP, thread_ts=public.ts))
    [reply] = khabar.answers_in("CDESK0001", public.ts)
    follow = quotes(reply.body["blocks"])
    assert follow and "on February 4, had ordered Twitter to block 1,178 accounts" in follow[0], follow
    in_context = engine_quotes(runtime.engine, TWITTER_Q, SHARED_FOLLOWUP)
    assert same_quotes(follow, in_context), follow
    assert not same_quotes(follow, engine_quotes(runtime.engine, SHARED_FOLLOWUP)), "not read as a follow-up"

    # Empty /khabar: the help, straight in the ack.
    help_reply = khabar.send(slash_command("", slack.response_url("help")), form=True)
    assert help_reply.status == 200 and "Ask me" in help_reply.body


@pytest.mark.slow
def test_failed_response_url_falls_back_to_ephemeral(khabar):
    slack = khabar.slack
    slack.fail("response", status=500, times=5)
    assert khabar.send(slash_command(TWITTER_Q, slack.response_url("broken")), form=True).status == 200
    [eph] = slack.wait_for("chat.postEphemeral")
    assert eph.body["user"] == "UREPORTER1" and "1,178" in all_text(eph.body["blocks"])


@pytest.mark.slow
def test_dm_answer_and_one_vote_per_user(khabar, bot_settings):
    from bot.feedback import read_feedback

    slack = khabar.slack
    dm = message("Who is Mahima Kaul?", channel="DREPORTER", channel_type="im")
    assert khabar.send(dm).status == 200
    [answer] = khabar.answers_in("DREPORTER", None)  # a DM is answered in place, not in a thread
    value = buttons(answer.body["blocks"])["khabar_feedback_down"]["value"]
    for n, action in enumerate(("khabar_feedback_down", "khabar_feedback_down", "khabar_feedback_up")):
        click = block_action(action, value, slack.response_url(f"vote{n}"), channel="DREPORTER",
                             user="UEDITOR01", message_ts=answer.ts)
        assert khabar.send(click, form=True).status == 200
    [thanks] = slack.wait_for("response", where=lambda c: c.path.endswith("/vote0"))
    assert thanks.body["response_type"] == "ephemeral" and thanks.body["replace_original"] is False
    junk = block_action("khabar_feedback_up", "not-a-value", slack.response_url("junk"), channel="DREPORTER",
                        user="UEDITOR02", message_ts=answer.ts)
    assert khabar.send(junk, form=True).status == 200
    [sorry] = slack.wait_for("response", where=lambda c: c.path.endswith("/junk"))
    assert "could not be recorded" in sorry.body["text"]
    khabar.idle()
    [entry] = read_feedback(bot_settings.feedback_log())  # three clicks, one vote: the last
    assert entry["vote"] == "up" and entry["user"] == "UEDITOR01" and entry["channel"] == "DREPORTER"
    assert entry["question"] == "Who is Mahima Kaul?" and entry["message_ts"] == answer.ts
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$", entry["at"])
    cited = json.loads(value)["a"]
    assert [a["doc_id"] for a in entry["answers"]] == [a[0] for a in cited]


@pytest.mark.slow
def test_apology_only_when_answering_fails_and_long_question_refused(khabar, runtime, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("embedding model crashed")

    monkeypatch.setattr(runtime.engine.embedder, "query_and_tokens", broken)
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


# --- Slack's bad days ----------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("fault", ["500", "503x2", "429", "hang-landed", "hang-lost"])
def test_slack_faults_still_deliver_the_answer_once(khabar, fault):
    slack = khabar.slack
    if fault == "500":
        slack.fail("chat.postMessage", status=500)
    elif fault == "503x2":
        slack.fail("chat.postMessage", status=503, times=2)
    elif fault == "429":
        slack.rate_limit("chat.postMessage", retry_after=1)
    elif fault == "hang-landed":  # Slack posts it but answers after the client gave up (2 s)
        slack.hang("chat.postMessage", seconds=4, then="post")
    else:
        slack.hang("chat.postMessage", seconds=4, then="drop")
    ts, _ = khabar.mention(TWITTER_Q)
    khabar.idle(45)
    [answer] = posted(slack, thread_ts=ts)  # exactly one message in the thread: the real answer
    assert "1,178" in answer["text"] and "Sorry" not in answer["text"]
    tries = slack.of("chat.postMessage", ok_only=False)
    if fault == "429":
        ok = [c for c in tries if c.ok][0]
        assert ok.at - tries[0].at >= 0.9  # after Retry-After
    if fault.startswith("hang"):
        assert slack.of("conversations.replies")  # checked before posting again
    assert khabar.bot.store.counts() == {"done": 1}


@pytest.mark.slow
def test_a_rate_limited_post_does_not_delay_other_channels(bot_settings, runtime, slack):
    bot_settings.slack.workers = 1  # even with a single worker
    khabar = Harness(bot_settings, runtime, slack)
    try:
        slack.rate_limit("chat.postMessage", retry_after=4, times=1)
        ts1, _ = khabar.mention(TWITTER_Q, channel="CSLOW0001")
        slack.wait_for("chat.postMessage", ok_only=False)  # the first post got its 429
        ts2, _ = khabar.mention(TWITTER_Q, channel="CFAST0001")
        [fast] = khabar.answers_in("CFAST0001", ts2, timeout=3.5)  # answered while the other one waits
        [slow] = khabar.answers_in("CSLOW0001", ts1, timeout=10)
        assert fast.at < slow.at
    finally:
        khabar.close()


@pytest.mark.slow
def test_edits_update_and_deletes_delete(khabar):
    slack = khabar.slack
    ts, _ = khabar.mention("How many accounts did the governmnet order Twiter to blok?")
    [first] = khabar.answers_in("CDESK0001", ts)
    edited = {"type": "message", "subtype": "message_changed", "channel": "CDESK0001", "hidden": True,
              "ts": next_ts(), "event_ts": next_ts(),
              "message": {"type": "message", "user": "UREPORTER1", "ts": ts, "client_msg_id": f"cm-{ts}",
                          "text": f"<@{BOT_USER_ID}> Who is Mahima Kaul?", "edited": {"user": "UREPORTER1"}},
              "previous_message": {"type": "message", "user": "UREPORTER1", "ts": ts,
                                   "text": f"<@{BOT_USER_ID}> How many accounts did the governmnet order Twiter?"}}
    assert khabar.send(event_callback(edited)).status == 200
    [update] = slack.wait_for("chat.update")
    assert update.body["ts"] == first.ts and "Kaul" in all_text(update.body["blocks"])
    khabar.idle()  # parts the new answer no longer needs are deleted
    [live] = posted(slack, thread_ts=ts)
    assert "Kaul" in live["text"]
    deleted = {"type": "message", "subtype": "message_deleted", "channel": "CDESK0001", "hidden": True,
               "ts": next_ts(), "deleted_ts": ts, "event_ts": next_ts(),
               "previous_message": {"type": "message", "user": "UREPORTER1", "ts": ts, "text": "..."}}
    assert khabar.send(event_callback(deleted)).status == 200
    slack.wait_for("chat.delete")
    khabar.idle()
    assert posted(slack, thread_ts=ts) == []
    # Our own edits of our replies (and unrelated edits) change nothing.
    own = copy.deepcopy(edited)
    own["message"].update(user=BOT_USER_ID, bot_id=BOT_ID, ts=first.ts)
    khabar.send(event_callback(own))
    khabar.idle()
    assert len(slack.of("chat.update")) == 1


@pytest.mark.slow
def test_allow_lists_govern_channels_and_dms(bot_settings, runtime, slack):
    bot_settings.slack.allowed_channels = ["CDESK0001"]
    bot_settings.slack.allowed_users = ["UREPORTER1"]
    h = Harness(bot_settings, runtime, slack)
    try:
        h.mention(TWITTER_Q, channel="COTHER001")
        [note] = slack.wait_for("chat.postEphemeral")
        assert note.body["channel"] == "COTHER001" and note.body["user"] == "UREPORTER1"
        assert "not enabled" in note.body["text"]
        refused = h.send(slash_command(TWITTER_Q, slack.response_url("x"), channel="COTHER001"), form=True)
        assert refused.status == 200 and "not enabled" in refused.body
        h.send(message(TWITTER_Q, channel="DSTRANGER", channel_type="im", user="USTRANGER"))  # not allowed
        h.send(message(TWITTER_Q, channel="DREPORTER", channel_type="im", user="UREPORTER1"))  # allowed user
        h.mention(TWITTER_Q, user="USTRANGER")  # allowed channel, user not allowed
        help_reply = h.send(slash_command("help", slack.response_url("h")), form=True)
        assert "<#CDESK0001>" in help_reply.body and "ask them to add you" in help_reply.body  # where, who

        # Unknown events, actions and payloads are acknowledged and ignored.
        for event in ({"type": "reaction_added", "user": "U1", "reaction": "eyes", "item": {}},
                      {"type": "channel_created", "channel": {"id": "C9"}},
                      {"type": "message", "subtype": "channel_join", "channel": "CDESK0001", "ts": next_ts()}):
            assert h.send(event_callback(event)).status == 200
        assert h.send(block_action("mystery_button", "1", slack.response_url("m")), form=True).status == 200
        assert h.send({"token": "t", "type": "app_rate_limited", "team_id": "TNEWSROOM",
                       "minute_rate_limited": 1518467820, "api_app_id": "AKHABAR01"}).status == 200

        ts, _ = h.mention("What is the capital of France?")  # allowed channel: answered (plainly: not found)
        [answer] = h.answers_in("CDESK0001", ts)
        assert "Nothing in the archive answers this" in answer.body["text"]
        h.idle()
        assert sorted(c.body["channel"] for c in slack.of("chat.postMessage")) == ["CDESK0001", "DREPORTER"]
    finally:
        h.close()


# --- Socket Mode through slack_sdk's own envelope processing ---------------------------------------------

@pytest.mark.slow
def test_socket_mode_dispatch_and_redelivery_answered_once(bot_settings, runtime, slack):
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.slack.app import KhabarBot
    from bot.slack.delivery import make_client

    bot_settings.slack.api_base_url = slack.base_url
    client = make_client(bot_settings.slack)
    bot = KhabarBot(bot_settings, runtime, client).start()
    handler = SocketModeHandler(bot.app, app_token="xapp-1-A111-222-socketmodetest", web_client=client)
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
        assert bot.wait_idle(20)
        assert len(slack.of("chat.postMessage")) == 1
    finally:
        handler.client.close()
        bot.close()


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
def test_tiny_archive_shown_literally_and_hot_swapped(bot_settings, settings, embedder, slack, tmp_path):
    from bot.runtime import Runtime
    from index.build import build_index

    out = tmp_path / "tiny-index"
    build_index([_write_corpus(tmp_path / "corpus", ARTICLES)], out, settings.index, embedder=embedder,
                progress=False)
    bot_settings.slack.reload_check_seconds = 0.2
    runtime = Runtime(bot_settings, out, durable=True, watch_index=True, embedder=embedder).start()
    h = Harness(bot_settings, runtime, slack)
    try:
        reply = h.send(slash_command("How many visitors did the Pune dog show draw? <!here> &amp; <@U777>",
                                     slack.response_url("dog")), form=True)
        assert reply.status == 200
        [resp] = slack.wait_for("response", where=lambda c: c.path.endswith("/dog"))
        blocks = resp.body["blocks"]
        text = all_text(blocks)
        assert "4,500" in text
        # rich_text shows the article's characters as they are: visible, and they ping nobody
        assert "<!channel> <!here> <@U123>" in text
        links = [e for b in blocks if b["type"] == "rich_text" for s in b["elements"] for e in s["elements"]
                 if e["type"] == "link"]
        assert links[0]["url"] == "https://example.com/news?id=7&lang=en"
        assert links[0]["text"] == "Pune dog show: <!here> 4,500 visitors & a banner"
        assert "@here & @U777" in text  # the question line, literal too
        mrkdwn = [b["text"]["text"] for b in blocks if b["type"] == "section"] + [resp.body["text"]]
        assert all("<!" not in m and "<@" not in m for m in mrkdwn), mrkdwn  # mrkdwn is escaped
        assert "&lt;" in resp.body["text"]

        # Hot swap: the offline rebuild replaces the index folder; the running bot picks it up.
        old_build = runtime.engine.index.build_id
        build_index([_write_corpus(tmp_path / "corpus", ARTICLES + [ORANGES])], out, settings.index,
                    embedder=embedder, progress=False)
        deadline = time.monotonic() + 20
        while runtime.engine.index.build_id == old_build and time.monotonic() < deadline:
            time.sleep(0.05)
        assert runtime.engine.index.build_id != old_build
        ts, _ = h.mention("How many tonnes of oranges did the Nagpur festival sell?")
        [answer] = h.answers_in("CDESK0001", ts)
        assert "12 tonnes" in answer.body["text"] and "oranges-2021" in all_text(answer.body["blocks"])
    finally:
        h.close()
        runtime.close()


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


@pytest.mark.slow
def test_cli_slack_outage_at_start_is_not_a_token_problem(slack, tmp_path):
    """auth.test answering 503 is retried, then reported as Slack being unreachable (exit 2)."""
    slack.fail("auth.test", status=503, times=1000)
    proc = subprocess.run([sys.executable, "-m", "bot", "slack", "--http", "3000"],
                          env=_env(KHABAR_SLACK_API_BASE_URL=slack.base_url, SLACK_BOT_TOKEN=BOT_TOKEN,
                                   SLACK_SIGNING_SECRET=SIGNING_SECRET, KHABAR_SLACK_STARTUP_RETRY_SECONDS="1",
                                   KHABAR_SLACK_RETRY_BASE_SECONDS="0.1"),
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert "is not answering" in last and "refused" not in last and "Traceback" not in proc.stderr
    assert len(slack.of("auth.test", ok_only=False)) >= 2  # it was retried


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BotProcess:
    """`khabar slack --http PORT`, the real command, in a subprocess."""

    def __init__(self, env: dict, index_dir: Path, cwd: Path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/slack/events"
        self.proc = subprocess.Popen([sys.executable, "-m", "bot", "slack", "--index", str(index_dir), "--http",
                                      str(self.port)], env=env, cwd=cwd, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)

    def wait_healthy(self, timeout: float = 120.0) -> float:
        start = time.monotonic()
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return time.monotonic() - start
            except OSError:
                pass
            assert self.proc.poll() is None, self.proc.communicate()
            assert time.monotonic() - start < timeout, "khabar slack did not start"
            time.sleep(0.1)

    def kill9(self) -> None:
        self.proc.kill()
        self.proc.communicate(timeout=30)

    def stop(self) -> tuple[int, str]:
        self.proc.terminate()
        try:
            out, err = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        return self.proc.returncode, out + err


@pytest.mark.slow
def test_khabar_slack_http_survives_kill_9(slack, seed_index_dir, tmp_path):
    """The real command: acked questions survive kill -9 and are answered exactly once after a
    restart; followed threads, turns and the dedupe memory survive too; a Slack outage during
    auth.test at start is ridden out."""
    env = _env(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET,
               KHABAR_SLACK_API_BASE_URL=slack.base_url, KHABAR_SLACK_STATE_FILE=str(tmp_path / "state.sqlite3"),
               KHABAR_SLACK_FEEDBACK_LOG=str(tmp_path / "fb.jsonl"), KHABAR_SLACK_CALL_TIMEOUT_SECONDS="2",
               KHABAR_SLACK_RETRY_BASE_SECONDS="0.1", KHABAR_SLACK_RETRY_MAX_SECONDS="1")
    slack.fail("auth.test", status=503, times=2)
    bot = BotProcess(env, seed_index_dir, tmp_path)
    try:
        bot.wait_healthy()
        first = mention("Who is Mahima Kaul?")
        thread = first["event"]["ts"]
        assert post_signed(bot.url, first).status == 200
        slack.wait_for("chat.postMessage", where=lambda c: c.body.get("thread_ts") == thread, timeout=60)

        # The next post lands in Slack but its answer never comes back; then 20 more questions, acked.
        slack.hang("chat.postMessage", seconds=60, then="post")
        asked = []
        for n in range(20):
            body = mention(f"{TWITTER_Q} ({n})", channel=f"CKILL{n % 4:04d}")
            assert post_signed(bot.url, body).status == 200
            asked.append(body)
        bot.kill9()  # right after the acks: most questions are not answered yet
    except BaseException:
        bot.stop()
        raise
    answered_before = {c.body.get("thread_ts") for c in slack.of("chat.postMessage")}
    bot = BotProcess(env, seed_index_dir, tmp_path)
    try:
        start = time.monotonic()
        bot.wait_healthy()
        for body in asked:
            ts = body["event"]["ts"]
            slack.wait_for("chat.postMessage", where=lambda c, ts=ts: c.body.get("thread_ts") == ts, timeout=120)
        recovered_in = time.monotonic() - start
        # A Slack retry of an answered event and a follow-up in the old thread, after the restart.
        assert post_signed(bot.url, asked[0], retry_num=1).status == 200
        assert post_signed(bot.url, message("Till when will she stay?", thread_ts=thread)).status == 200
        calls = slack.wait_for("chat.postMessage", count=2, where=lambda c: c.body.get("thread_ts") == thread,
                               timeout=60)
        follow = quotes(calls[1].body["blocks"])
        assert follow and END_OF_MARCH in follow[0], follow  # the follow-up's own answer, after the restart
        time.sleep(1.0)
        for body in asked:  # every acked question has its answer in Slack exactly once, part by part
            ts = body["event"]["ts"]
            live = [m for m in slack.messages() if m.get("thread_ts") == ts]
            parts = [m["metadata"]["event_payload"]["part"] for m in live]
            assert sorted(parts) == list(range(len(parts))) and parts, (ts, parts)
        print(f"recovered {len(asked) - len(answered_before & {b['event']['ts'] for b in asked})} questions "
              f"in {recovered_in:.1f} s after restart")
    finally:
        status, output = bot.stop()
    assert status == 0, output
    assert "Traceback" not in output
    assert BOT_TOKEN not in output and SIGNING_SECRET not in output


def test_signature_helper_matches_bolt():
    """The tests' signer agrees with slack_sdk's verifier (so a 401 above means the bot refused it)."""
    from slack_sdk.signature import SignatureVerifier

    body = json.dumps(mention("hello"))
    headers = signature_headers(SIGNING_SECRET, body)
    assert SignatureVerifier(SIGNING_SECRET).is_valid(body, headers["X-Slack-Request-Timestamp"],
                                                      headers["X-Slack-Signature"])


# --- `khabar slack` in Socket Mode, the default transport: the real process over a real WebSocket ----------

class SocketBotProcess(BotProcess):
    """`khabar slack --metrics-port PORT` (Socket Mode), the real command, in a subprocess."""

    def __init__(self, env: dict, index_dir: Path, cwd: Path):
        self.port = _free_port()  # the operations port: /metrics, /healthz, /readyz
        self.proc = subprocess.Popen([sys.executable, "-m", "bot", "slack", "--index", str(index_dir),
                                      "--metrics-port", str(self.port)], env=env, cwd=cwd, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)

    def metric(self, name: str) -> float:
        """The sum of one counter's series on /metrics."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            text = r.read().decode("utf-8")
        values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                  if line.startswith(name) and not line.startswith("#")]
        assert values, f"{name} not on /metrics"
        return sum(values)


@pytest.mark.slow
def test_khabar_slack_socket_mode_real_process(slack, seed_index_dir, tmp_path):
    """The default transport end to end: `khabar slack` opens apps.connections.open's WebSocket on
    127.0.0.1 (slack_sdk's own client), acks each envelope and answers through the Web API; a
    slash command is acked with its reply; after the socket is cut (no close frame) and after
    Slack's own `disconnect` warning it reconnects on a fresh ticket and answers again, once;
    /metrics on --metrics-port counts what it did; SIGTERM ends it cleanly."""
    from tests.slack_server import SocketModeServer

    env = _env(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN=APP_TOKEN, KHABAR_SLACK_API_BASE_URL=slack.base_url,
               KHABAR_SLACK_STATE_FILE=str(tmp_path / "state.sqlite3"),
               KHABAR_SLACK_FEEDBACK_LOG=str(tmp_path / "fb.jsonl"), KHABAR_SLACK_RETRY_BASE_SECONDS="0.1")
    with SocketModeServer() as wss:
        slack.socket_mode = wss
        bot = SocketBotProcess(env, seed_index_dir, tmp_path)
        try:
            bot.wait_healthy()
            wss.wait_connections(1, timeout=120)
            assert wss.tickets >= 1 and slack.of("apps.connections.open")

            body = mention(TWITTER_Q, channel="CSOCKET01")
            ts = body["event"]["ts"]
            env_id = wss.send("events_api", body)
            assert wss.wait_ack(env_id, timeout=10).payload is None  # an event's ack carries nothing
            [answer] = slack.wait_for("chat.postMessage", where=lambda c: c.body.get("thread_ts") == ts, timeout=90)
            assert "1,178" in answer.body["text"]
            assert quotes(answer.body["blocks"]), "a cited quote, as over HTTP"

            # Slack redelivers the same envelope (retry_attempt 1): acked again, answered once.
            wss.send("events_api", body, retry_attempt=1, envelope_id="env-redelivered")
            wss.wait_ack("env-redelivered", timeout=10)

            # A slash command over the socket: acked at once with its ephemeral "working" reply,
            # the answer through its response_url.
            env_id = wss.send("slash_commands", slash_command("महिमा कौल कौन हैं?", slack.response_url("sock"),
                                                               channel="CSOCKET01"))
            ack = wss.wait_ack(env_id, timeout=3)
            [reply] = slack.wait_for("response", where=lambda c: c.path.endswith("/sock"), timeout=90)
            assert "कौल" in all_text(reply.body.get("blocks", [])) + reply.body.get("text", ""), (ack, reply.body)

            # The socket is cut without a close frame: a new connection on a fresh ticket, then answers.
            wss.drop()
            wss.wait_connections(2, timeout=30)
            assert wss.tickets >= 2
            again = mention("Who is Mahima Kaul?", channel="CSOCKET01")
            wss.wait_ack(wss.send("events_api", again), timeout=10)
            slack.wait_for("chat.postMessage", where=lambda c: c.body.get("thread_ts") == again["event"]["ts"],
                           timeout=90)

            # Slack's own warning before it closes a connection: the client moves to a new one.
            seen = len(wss.connections)
            wss.disconnect()
            wss.wait_connections(seen + 1, timeout=30)
            # ...and a follow-up in the thread asked before the cut is read in its context.
            kaul_thread = again["event"]["ts"]
            wss.wait_ack(wss.send("events_api", message(FOLLOWUP, channel="CSOCKET01", thread_ts=kaul_thread)),
                         timeout=10)
            calls = slack.wait_for("chat.postMessage", count=2, where=lambda c: c.body.get("thread_ts") == kaul_thread,
                                   timeout=90)
            follow = quotes(calls[1].body["blocks"])
            assert follow and END_OF_MARCH in follow[0], follow

            time.sleep(1.0)
            posts = [c for c in slack.of("chat.postMessage") if c.body.get("thread_ts") in {ts, kaul_thread}]
            assert len(posts) == 3, "each question answered exactly once, the redelivery not again"
            assert bot.metric("khabar_questions_total") >= 4
        finally:
            status, output = bot.stop()
            print(output)  # shown when the test fails
    assert status == 0, output
    assert "connected over Socket Mode" in output and "Traceback" not in output, output
    assert BOT_TOKEN not in output and APP_TOKEN not in output
