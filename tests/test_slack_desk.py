"""The desk's loop in Slack (issue 21, item 5), against the local Slack server with the real engine.

👀 on a question while Khabar works (and its answer when Slack refuses the reaction), "Still
need help?" tagging the desk in the thread and recorded in the state file, 👎's optional "what
was wrong?" modal, and `khabar feedback export` read and scored by `scripts/evaluate.py`.
The bot runs in HTTP mode (bolt's WSGI adapter on waitress) as in tests/test_slack.py, whose
fixtures and harness this file reuses.
"""
from __future__ import annotations

import importlib.util
import json
import logging
import re

import pytest

from tests.slack_server import API_APP_ID, TEAM_ID, block_action, buttons, message, next_ts, quotes
from tests.test_slack import ROOT, TWITTER_Q, Harness, bot_settings, khabar, runtime, slack  # noqa: F401

pytestmark = pytest.mark.slow


def view_submission(view: dict, user: str, values: dict) -> dict:
    """The form body Slack sends when a modal is submitted: {"payload": json}."""
    payload = {"type": "view_submission", "team": {"id": TEAM_ID, "domain": "newsroom"},
               "user": {"id": user, "username": "editor", "team_id": TEAM_ID}, "api_app_id": API_APP_ID,
               "token": "legacy-verification-token", "trigger_id": f"trig.{next_ts()}",
               "view": {**view, "team_id": TEAM_ID, "state": {"values": values}, "hash": "1.abc",
                        "app_id": API_APP_ID, "bot_id": "BKHABAR01"}}
    return {"payload": json.dumps(payload)}


def click(action_id: str, value: str, khabar, channel: str, message_ts: str, user: str = "UEDITOR01",
          thread_ts: str | None = None, name: str | None = None) -> None:
    body = block_action(action_id, value, khabar.slack.response_url(name), channel=channel, user=user,
                        message_ts=message_ts)
    if thread_ts:  # Slack names the thread of a button clicked in one
        payload = json.loads(body["payload"])
        payload["container"]["thread_ts"] = thread_ts
        body = {"payload": json.dumps(payload)}
    assert khabar.send(body, form=True).status == 200


@pytest.fixture()
def desk(bot_settings, runtime, slack):  # noqa: F811
    bot_settings.slack.escalate_to = ["SDESK0001", "UEDITOR09"]
    h = Harness(bot_settings, runtime, slack)
    yield h
    h.close()


def test_eyes_while_answering_then_removed(khabar):  # noqa: F811
    slack = khabar.slack
    ts, _ = khabar.mention(TWITTER_Q)
    [answer] = khabar.answers_in("CDESK0001", ts)
    [removed] = slack.wait_for("reactions.remove")
    [added] = slack.of("reactions.add")
    assert added.body == {"channel": "CDESK0001", "timestamp": ts, "name": "eyes"} == removed.body
    assert added.at < answer.at < removed.at  # on while it worked, off once it answered
    assert slack.reactions == set()
    assert "khabar_escalate" not in buttons(answer.body["blocks"])  # no desk configured: no button
    # Chat gets no reply, so no sign of work either.
    assert khabar.send(message("thanks!", channel="DREPORTER", channel_type="im")).status == 200
    khabar.idle()
    assert len(slack.of("reactions.add", ok_only=False)) == 1


def test_answer_still_posted_without_the_reaction_scope(khabar, caplog):  # noqa: F811
    slack = khabar.slack
    slack.fail("reactions.add", status=200, error="missing_scope", times=2)
    caplog.set_level(logging.INFO, logger="bot.slack.jobs")
    for question in ("Who is Mahima Kaul?", TWITTER_Q):
        ts, _ = khabar.mention(question)
        [answer] = khabar.answers_in("CDESK0001", ts)
        assert quotes(answer.body["blocks"])
    khabar.idle()
    assert slack.injected["200"] == 2 and slack.reactions == set()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "reactions:write" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in caplog.records]  # said once, with what to do
    assert not [r for r in caplog.records if r.exc_info]  # a log line, not a traceback


def test_still_need_help_tags_the_desk_in_the_thread_and_is_recorded(desk, caplog):
    slack, store = desk.slack, desk.bot.store
    ts, _ = desk.mention(TWITTER_Q)
    [answer] = desk.answers_in("CDESK0001", ts)
    escalate = buttons(answer.body["blocks"])["khabar_escalate"]
    assert escalate["text"]["text"].endswith("Still need help?")
    for _ in range(2):  # a double click tags the desk once
        click("khabar_escalate", escalate["value"], desk, "CDESK0001", answer.ts, user="UREPORTER1", thread_ts=ts)
    [tag] = slack.wait_for("chat.postMessage", count=2, where=lambda c: c.body.get("thread_ts") == ts)[1:]
    assert tag.body["text"].startswith("<!subteam^SDESK0001> <@UEDITOR09> <@UREPORTER1> still needs help")
    assert TWITTER_Q in tag.body["text"]
    desk.idle()
    assert len(slack.of("chat.postMessage", where=lambda c: c.body.get("thread_ts") == ts)) == 2
    [row] = store.escalations_since(0)
    assert (row["status"], row["posted_ts"], row["user"], row["thread_ts"]) == ("posted", tag.ts, "UREPORTER1", ts)
    assert row["entry"]["question"] == TWITTER_Q and row["entry"]["answer_ids"]
    assert row["desk"] == "<!subteam^SDESK0001> <@UEDITOR09>"

    # Slack refuses the tag (the bot was removed from the channel): recorded, logged, the answer stays.
    slack.fail("chat.postMessage", status=200, error="not_in_channel")
    caplog.set_level(logging.ERROR, logger="bot.slack.jobs")
    click("khabar_escalate", escalate["value"], desk, "CDESK0001", answer.ts, user="UREPORTER2", thread_ts=ts)
    desk.idle()
    failed = [r for r in store.escalations_since(0) if r["user"] == "UREPORTER2"]
    assert [(r["status"], r["error"]) for r in failed] == [("failed", "not_in_channel")]
    assert any("could not tag the desk" in r.getMessage() for r in caplog.records)
    assert answer.ts in {m["ts"] for m in slack.messages("CDESK0001")}

    # A DM answer has no one to tag: no button there.
    assert desk.send(message("Who is Mahima Kaul?", channel="DREPORTER", channel_type="im")).status == 200
    [dm] = desk.answers_in("DREPORTER", None)
    assert "khabar_escalate" not in buttons(dm.body["blocks"]) and "khabar_feedback_down" in buttons(dm.body["blocks"])


def test_bad_desk_setting_names_the_setting(bot_settings, runtime, slack):  # noqa: F811
    from bot.config import ConfigError

    bot_settings.slack.escalate_to = ["@desk"]
    with pytest.raises(ConfigError, match=r"slack\.escalate_to.*'@desk'.*user group id"):
        Harness(bot_settings, runtime, slack)


def load_evaluate():
    spec = importlib.util.spec_from_file_location("khabar_evaluate", ROOT / "scripts" / "evaluate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_downvote_reason_recorded_exported_and_scored(khabar, bot_settings, runtime, monkeypatch, tmp_path,  # noqa: F811
                                                      capsys):
    from bot.cli import main
    from bot.feedback import FeedbackError, read_feedback, read_items

    slack = khabar.slack
    ts, _ = khabar.mention(TWITTER_Q)
    [answer] = khabar.answers_in("CDESK0001", ts)
    value = buttons(answer.body["blocks"])["khabar_feedback_down"]["value"]
    click("khabar_feedback_down", value, khabar, "CDESK0001", answer.ts, name="down")
    [opened] = slack.wait_for("views.open")
    [view] = slack.views
    assert view["callback_id"] == "khabar_feedback_reason" and opened.body["trigger_id"].startswith("trig.")
    assert [b["type"] for b in view["blocks"]] == ["input"] and view["blocks"][0]["optional"] is True
    [thanks] = slack.wait_for("response", where=lambda c: c.path.endswith("/down"))
    assert "noted" in thanks.body["text"]
    reason = "an old figure: the later report has the final count"
    sent = khabar.send(view_submission(view, "UEDITOR01", {"reason": {"text": {"type": "plain_text_input",
                                                                                 "value": f"  {reason} "}}}),
                       form=True)
    assert sent.status == 200 and sent.body in ("", "{}")  # an empty ack closes the modal
    khabar.idle()
    [entry] = read_feedback(bot_settings.feedback_log())
    assert (entry["vote"], entry["reason"]) == ("down", reason)
    # A reason for a vote that is no longer 👎 (changed to 👍 meanwhile) is not pinned on it.
    click("khabar_feedback_up", value, khabar, "CDESK0001", answer.ts, user="UEDITOR02")
    khabar.send(view_submission(view, "UEDITOR02", {"reason": {"text": {"value": "nope"}}}), form=True)
    khabar.idle()
    assert all(e.get("reason") != "nope" for e in read_feedback(bot_settings.feedback_log()))

    # khabar feedback export: the downvoted question with its cited sentences (the CLI, in process).
    monkeypatch.setenv("KHABAR_SLACK_STATE_FILE", str(bot_settings.state_file()))
    out = tmp_path / "desk.jsonl"
    assert main(["feedback", "export", "--since", "7d", "--out", str(out)]) == 0
    [item] = read_items(out)
    first = quotes(answer.body["blocks"])[0]
    assert item["question"] == TWITTER_Q and item["reasons"] == [reason] and item["downvotes"] == 1
    assert item["first"] == f"{item['downvoted'][0]['doc_id']}#{item['downvoted'][0]['sentence']}"
    assert item["downvoted"][0]["text"][:100] == first.rstrip("\u2026")[:100]
    assert main(["feedback", "export", "--since", "2099-01-01"]) == 0  # nothing voted since: no lines
    assert capsys.readouterr().out == ""

    # scripts/evaluate.py --feedback reads and scores it (the same engine: still quoted first).
    evaluate = load_evaluate()
    report = evaluate.evaluate_feedback(out, runtime.engine)
    assert (report["items"], report["same_as_downvoted"], report["still_quoted"]) == (1, 1.0, 1.0)
    [row] = report["rows"]
    assert row["now_first"] == item["first"] and row["reasons"] == [reason] and not row["now_abstained"]
    assert "SAME" in capsys.readouterr().out
    junk = tmp_path / "junk.jsonl"
    junk.write_text('{"vote": "down"}\n', encoding="utf-8")
    with pytest.raises(FeedbackError, match="line 1 .*khabar feedback export"):
        evaluate.evaluate_feedback(junk, runtime.engine)


def test_feedback_export_without_a_state_file_says_what_to_do(monkeypatch, tmp_path, capsys):
    from bot.cli import main

    monkeypatch.setenv("KHABAR_SLACK_STATE_FILE", str(tmp_path / "none.sqlite3"))
    assert main(["feedback", "export"]) == 2
    assert "khabar slack" in capsys.readouterr().err
    assert not (tmp_path / "none.sqlite3").exists()
