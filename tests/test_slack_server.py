"""The local Slack API server behaves as Slack does for what the bot relies on."""
from __future__ import annotations

import time

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.slack_server import BOT_TOKEN, SlackAPIServer, block_kit_problem


@pytest.fixture()
def slack():
    with SlackAPIServer() as server:
        yield server


def client(slack, timeout=5) -> WebClient:
    return WebClient(token=BOT_TOKEN, base_url=slack.base_url, timeout=timeout, retry_handlers=[])


def meta(job, part=0):
    return {"event_type": "khabar_answer", "event_payload": {"job": job, "part": part}}


def test_messages_replies_history_update_delete(slack):
    c = client(slack)
    parent = slack.add_user_message("C1", "question?")
    a = c.chat_postMessage(channel="C1", thread_ts=parent, text="one", metadata=meta("j1")).data["ts"]
    b = c.chat_postMessage(channel="C1", text="top").data["ts"]
    replies = c.conversations_replies(channel="C1", ts=parent, include_all_metadata=True).data["messages"]
    assert [m["ts"] for m in replies] == [parent, a]
    assert replies[1]["metadata"]["event_payload"] == {"job": "j1", "part": 0}
    assert "metadata" not in c.conversations_replies(channel="C1", ts=parent).data["messages"][1]
    history = c.conversations_history(channel="C1", oldest=parent).data["messages"]
    assert [m["ts"] for m in history] == [b, parent]  # newest first, no thread replies
    c.chat_update(channel="C1", ts=a, text="edited")
    assert [m["text"] for m in slack.messages(thread_ts=parent)] == ["edited"]
    c.chat_delete(channel="C1", ts=a)
    assert slack.messages(thread_ts=parent) == []
    for call in (lambda: c.chat_delete(channel="C1", ts=a), lambda: c.chat_update(channel="C1", ts=a, text="x"),
                 lambda: c.conversations_replies(channel="C1", ts="1.2")):
        with pytest.raises(SlackApiError) as err:
            call()
        assert err.value.response["error"] in ("message_not_found", "thread_not_found")


def test_fail_hang_and_rate_limit(slack):
    c = client(slack, timeout=1)
    slack.fail("chat.postMessage", status=503, times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as err:
            c.chat_postMessage(channel="C1", text="x")
        assert err.value.response.status_code == 503
    c.chat_postMessage(channel="C1", text="third")
    slack.rate_limit("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as err:
        c.chat_postMessage(channel="C1", text="x")
    assert err.value.response.status_code == 429 and err.value.response.headers["Retry-After"] == "7"
    slack.hang("chat.postMessage", seconds=3, then="post")
    with pytest.raises(Exception):
        c.chat_postMessage(channel="C1", text="landed")  # the client times out ...
    assert "landed" in [m["text"] for m in slack.messages()]  # ... but Slack has it
    slack.hang("chat.postMessage", seconds=2, then="drop")
    with pytest.raises(Exception):
        c.chat_postMessage(channel="C1", text="lost")
    time.sleep(1.2)
    assert "lost" not in [m["text"] for m in slack.messages()]
    assert slack.injected["503"] == 2 and slack.injected["429"] == 1 and slack.injected["hang-post"] == 1


def test_random_faults_are_counted(slack):
    c = client(slack)
    slack.faults(share_5xx=0.3, share_429=0.2, seed=3)
    refused = 0
    for n in range(100):
        try:
            c.chat_postMessage(channel="C2", text=f"m{n}")
        except SlackApiError:
            refused += 1
    counts = slack.injected
    assert refused == sum(counts.values()) and 30 < refused < 70
    landed = sum(v for k, v in counts.items() if k.endswith("-landed"))
    assert len(slack.messages(channel="C2")) == 100 - refused + landed
    slack.faults()  # off again
    c.chat_postMessage(channel="C2", text="fine")


def test_block_kit_checks_rich_text():
    good = [{"type": "rich_text", "elements": [{"type": "rich_text_quote", "elements": [
        {"type": "text", "text": "“x”"}, {"type": "text", "text": " [1]", "style": {"bold": True}}]},
        {"type": "rich_text_section", "elements": [{"type": "link", "url": "https://x.in", "text": "x"},
                                                    {"type": "user", "user_id": "U1"}]}]}]
    assert block_kit_problem(good) is None
    bad_style = [{"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [
        {"type": "text", "text": "x", "style": {"underline": True}}]}]}]
    too_long = [{"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [
        {"type": "text", "text": "x" * 4001}]}]}]
    bad_link = [{"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [
        {"type": "link", "url": "javascript:1"}]}]}]
    for blocks in (bad_style, too_long, bad_link, [{"type": "rich_text", "elements": []}]):
        assert block_kit_problem(blocks), blocks
