"""`khabar doctor`: each check against the real thing (a built index, a SQLite file, the local
Slack Web API server), then the command itself in a subprocess."""
from __future__ import annotations

import copy
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bot.doctor import check_index, check_slack, check_state
from bot.state import Job, StateStore
from tests.slack_server import BOT_TOKEN, SIGNING_SECRET, SlackAPIServer

ROOT = Path(__file__).resolve().parent.parent


def test_index_check_names_a_missing_folder_a_wrong_model_and_a_good_index(seed_index_dir, embedder, tmp_path):
    missing = check_index(tmp_path / "nowhere", embedder.model_id)
    assert not missing.ok and "index folder not found" in missing.line() and "build_index.py" in missing.line()
    wrong = check_index(seed_index_dir, "other/model@0123456789ab")
    assert not wrong.ok and "built with model" in wrong.detail and "other/model@0123456789ab" in wrong.detail
    good = check_index(seed_index_dir, embedder.model_id)
    assert good.ok and "articles" in good.detail and "h ago" in good.detail
    assert good.line().startswith("ok ") and missing.line().startswith("FAIL index:")


def test_state_check_reads_the_real_file_and_refuses_garbage(tmp_path):
    assert check_state(tmp_path / "state.sqlite3").ok  # created on first `khabar slack`
    store = StateStore(tmp_path / "state.sqlite3").open()
    store.accept(Job(id="msg:C1:1.0", kind="question", cid="slack:C1:1.0", payload={"text": "q"}), ["k"], 60.0)
    store.close()
    waiting = check_state(tmp_path / "state.sqlite3")
    assert waiting.ok and "1 question(s) waiting" in waiting.detail
    (tmp_path / "junk.sqlite3").write_bytes(b"not a database at all" * 100)
    junk = check_state(tmp_path / "junk.sqlite3")
    assert not junk.ok and "cannot be read" in junk.detail


def test_slack_check_tells_a_refused_token_from_slack_being_down(settings):
    s = copy.deepcopy(settings)
    s.slack.bot_token = ""
    assert check_slack(s).ok and "not set" in check_slack(s).detail
    s.slack.bot_token, s.slack.app_token = BOT_TOKEN, ""
    assert "SLACK_SIGNING_SECRET is not set" in check_slack(s).detail  # HTTP mode needs it
    s.slack.signing_secret = SIGNING_SECRET
    with SlackAPIServer() as slack:
        s.slack.api_base_url = slack.base_url
        assert check_slack(s).ok
        slack.fail("auth.test", status=200, error="invalid_auth")
        refused = check_slack(s)
        assert not refused.ok and "refused SLACK_BOT_TOKEN (invalid_auth)" in refused.detail
        slack.fail("auth.test", status=503)
        down = check_slack(s)
        assert not down.ok and "not answering" in down.detail
    assert BOT_TOKEN not in refused.line() + down.line()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_khabar_doctor_one_line_per_check(seed_index_dir, tmp_path):
    env = {k: v for k, v in os.environ.items() if not (k.startswith(("KHABAR_", "SLACK_")) and k != "KHABAR_HOME")}
    env.update(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, KHABAR_SLACK_API_BASE_URL=f"http://127.0.0.1:{_closed_port()}/api/",
               KHABAR_SLACK_STATE_FILE=str(tmp_path / "state.sqlite3"), KHABAR_SLACK_CALL_TIMEOUT_SECONDS="2")
    proc = subprocess.run([sys.executable, "-m", "bot", "doctor", "--index", str(seed_index_dir)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)
    lines = proc.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["ok   model", "ok   index", "ok   answerer", "ok   reader",
                                                      "ok   romanised Hindi", "ok   state", "FAIL slack"], lines
    assert "not answering" in lines[6] and proc.returncode == 1
    assert "token projection" in lines[2] and "prathmikta → प्राथमिकता" in lines[4]
    assert "Traceback" not in proc.stderr and BOT_TOKEN not in proc.stdout + proc.stderr
    missing = subprocess.run([sys.executable, "-m", "bot", "doctor", "--index", str(tmp_path / "none")], cwd=ROOT,
                             env={**env, "SLACK_BOT_TOKEN": ""}, capture_output=True, text=True, timeout=300)
    assert missing.returncode == 1 and "FAIL index: index folder not found" in missing.stdout, missing.stdout


def test_answerer_check_names_a_missing_projection_and_a_scorer_trained_with_another(settings, embedder, tmp_path):
    from dataclasses import replace

    from bot.doctor import check_answerer
    from bot.projection import TokenProjection

    missing = check_answerer(replace(settings, answer=replace(settings.answer, alignment=tmp_path / "none.npz")), embedder)
    assert not missing.ok and "train_alignment.py" in missing.detail
    TokenProjection.identity(embedder.dim, embedder.model_id).save(tmp_path / "other.npz")
    other = check_answerer(replace(settings, answer=replace(settings.answer, alignment=tmp_path / "other.npz")), embedder)
    assert not other.ok and "retrain it" in other.detail and "train_scorer.py" in other.detail
    TokenProjection.identity(embedder.dim, "someone/else@0123456789ab").save(tmp_path / "foreign.npz")
    foreign = check_answerer(replace(settings, answer=replace(settings.answer, alignment=tmp_path / "foreign.npz")), embedder)
    assert not foreign.ok and "trained for model someone/else" in foreign.detail and "train_alignment.py" in foreign.detail
    assert check_answerer(settings, embedder).ok


def test_transliteration_check_says_what_to_run_when_the_model_is_not_converted(tmp_path, monkeypatch):
    from bot.doctor import check_transliteration

    assert check_transliteration().ok
    monkeypatch.setenv("KHABAR_HOME", str(tmp_path))  # a KHABAR_HOME where setup never ran
    missing = check_transliteration()
    assert not missing.ok and "python -m bot.xlit_model" in missing.detail, missing.detail
