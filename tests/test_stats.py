"""bot/stats.py: the editor's report from a real state file (SQLite), its table, JSON and plot."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from bot.state import StateStore
from bot.stats import StatsError, parse_since, percentile, render, summarise

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc).timestamp()
DAY = 86400.0


class Clock:
    def __init__(self, t: float):
        self.t = t

    def __call__(self) -> float:
        return self.t


def fill(store: StateStore, clock: Clock) -> None:
    """Three days of questions: answered (one retried, one failed delivery), abstained, chat, refused."""
    rows = [  # (days ago, outcome, delivery, retries)
        (2.5, "answered", "posted", 0), (2.4, "abstained", "posted", 0), (1.5, "answered", "posted", 2),
        (1.4, "not_question", "silent", 0), (0.5, "answered", "failed", 3), (0.4, "refused", "silent", 0),
        (9.0, "answered", "posted", 0),  # outside a 7-day window
    ]
    for n, (ago, outcome, delivery, retries) in enumerate(rows):
        clock.t = NOW - ago * DAY
        answers = [{"doc_id": f"doc{n}", "title": f"Title {n}", "sentence": 2, "text": f"Quoted sentence {n}."}] \
            if outcome == "answered" else []
        store.record_question(f"msg:C1:{n}", asked_at=clock.t, kind="question", channel="C1", user="U1",
                              question=f"question {n}?", outcome=outcome, answers=answers,
                              seconds={"retrieve": 0.010 * (n + 1), "choose": 0.020},
                              delivery="silent" if delivery == "silent" else "pending")
        for _ in range(retries):
            store.question_retried(f"msg:C1:{n}", rate_limited=retries == 2)
        clock.t += 1.5
        if delivery != "silent":
            assert store.question_delivered(f"msg:C1:{n}", delivery, [f"{n}.5"]) == pytest.approx(1.5)
    clock.t = NOW - 0.3 * DAY
    entry = {"question": "question 0?", "answers": [{"doc_id": "doc0", "sentence": 2, "also_in": []}]}
    store.vote("UA", "0.5", "down", entry)
    store.vote("UB", "0.5", "down", entry)
    store.vote("UC", "2.5", "up", {"question": "question 2?", "answers": []})


@pytest.fixture()
def store(tmp_path):
    clock = Clock(NOW)
    s = StateStore(tmp_path / "state.sqlite3", clock=clock).open()
    fill(s, clock)
    yield s
    s.close()


def test_since_spans_and_dates():
    assert parse_since("7d", NOW) == NOW - 7 * DAY
    assert parse_since("24h", NOW) == NOW - DAY and parse_since("90m", NOW) == NOW - 5400
    assert parse_since("2w", NOW) == NOW - 14 * DAY
    assert parse_since("2026-12-01", NOW) == NOW - 2.5 * DAY
    for bad in ("", "seven days", "7y", "-3d"):
        with pytest.raises(StatsError, match="--since"):
            parse_since(bad, NOW)


def test_percentile_is_nearest_rank():
    assert percentile([], 50) is None
    assert percentile([5.0], 95) == 5.0
    assert percentile([float(x) for x in range(1, 101)], 95) == 95.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0


def test_report_from_the_ledger(store):
    since = parse_since("7d", NOW)
    report = summarise(store.questions_since(since), store.votes_since(since), since, NOW)
    assert report["questions"] == 6  # the 9-day-old one is outside the window
    assert [d["day"] for d in report["per_day"]] == ["2026-12-01", "2026-12-02", "2026-12-03"]
    assert [(d["questions"], d["answered"]) for d in report["per_day"]] == [(2, 1), (2, 1), (2, 1)]
    assert report["outcomes"]["answered"] == {"count": 3, "share": 0.5}
    assert report["outcomes"]["refused"]["count"] == 1 and report["outcomes"]["failed"]["count"] == 0
    assert report["deliveries"] == {"replies": 4, "posted": 3, "retried": 2, "retries": 5, "rate_limited": 2,
                                    "failed": 1, "pending": 0}
    assert report["votes"] == {"up": 1, "down": 2, "up_share": 0.3333, "down_share": 0.6667}
    assert report["latency_ms"]["deliver"] == {"n": 4, "p50": 1500.0, "p95": 1500.0}
    assert report["latency_ms"]["answer"]["n"] == 6 and report["latency_ms"]["answer"]["p50"] == 50.0
    [worst, _] = report["most_downvoted"] + [None]
    assert worst["down"] == 2 and worst["question"] == "question 0?"
    assert worst["citations"] == [{"doc_id": "doc0", "sentence": 2, "title": "Title 0", "text": "Quoted sentence 0."}]
    table = render(report)
    assert "6 question(s)" in table and "2026-12-01" in table and "👎 2 (67%)" in table
    assert "4 replies: 3 posted, 2 retried (5 retries, 2 rate-limited), 1 failed" in table
    assert "“question 0?”" in table and "[doc0 #2] Title 0 “Quoted sentence 0.”" in table
    json.dumps(report)  # JSON-ready as it is


def test_an_empty_window_reads_as_nothing_not_a_crash(store):
    report = summarise([], [], NOW - 3600, NOW)
    assert report["questions"] == 0 and report["outcomes"]["answered"]["share"] is None
    assert report["latency_ms"]["answer"] == {"n": 0, "p50": None, "p95": None}
    assert "0 question(s)" in render(report)


def test_plot_is_a_png(store, tmp_path):
    from bot.stats import draw

    since = parse_since("7d", NOW)
    out = tmp_path / "stats.png"
    draw(summarise(store.questions_since(since), [], since, NOW), out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5000
    with pytest.raises(StatsError, match="cannot write the plot"):
        draw(summarise([], [], since, NOW), tmp_path / "no-such-folder" / "x.png")


def test_ledger_is_pruned_after_its_keep_days(store):
    store.clock.t = NOW + 88 * DAY  # 90 days after NOW - 2 days
    gone = store.prune(idle_seconds=3600, keep_questions_seconds=90 * DAY)
    assert gone["questions"] == 3  # asked 9, 2.5 and 2.4 days before NOW
    assert len(store.questions_since(0)) == 4


def test_cli_stats_table_json_plot_and_errors(settings, tmp_path):
    clock = Clock(NOW)
    path = tmp_path / "state.sqlite3"
    s = StateStore(path, clock=clock).open()
    fill(s, clock)
    s.close()
    env = {"KHABAR_SLACK_STATE_FILE": str(path), "PATH": "/usr/bin:/bin"}
    run = lambda *args, **kw: subprocess.run([sys.executable, "-m", "bot", "stats", *args],  # noqa: E731
                                             env={**env, **kw}, capture_output=True, text=True, timeout=120,
                                             cwd=str(tmp_path))
    since = datetime.fromtimestamp(NOW - 7 * DAY, timezone.utc).date().isoformat()
    table = run("--since", since, "--plot", str(tmp_path / "p.png"))
    assert table.returncode == 0, table.stderr
    assert "question(s)" in table.stdout and "most downvoted answers" in table.stdout
    assert (tmp_path / "p.png").stat().st_size > 5000
    as_json = json.loads(run("--since", since, "--json").stdout)
    assert as_json["outcomes"]["answered"]["count"] == 3
    bad = run("--since", "lately")
    assert bad.returncode == 2 and bad.stderr.startswith("khabar: error: --since 'lately'")
    missing = run(KHABAR_SLACK_STATE_FILE=str(tmp_path / "nowhere.sqlite3"))
    assert missing.returncode == 2 and "no state file at" in missing.stderr and "Traceback" not in missing.stderr
    assert not (tmp_path / "nowhere.sqlite3").exists()


def test_the_archive_date_range():
    from index.store import date_range, range_line

    dates = date_range(["2024-03-07", None, "2021-06-08", "garbage", "2023-09-14"])
    assert dates == {"first": "2021-06-08", "last": "2024-03-07", "dated": 3, "undated": 2}
    assert range_line(dates) == "2021-06-08 to 2024-03-07 (3 dated, 2 undated)"
    assert range_line(date_range([None])) == "no dated article (1 undated)"
    assert "rebuild" in range_line(None)


@pytest.mark.slow
def test_stats_report_the_archive_dates_also_of_an_older_index(seed_index_dir, settings, tmp_path):
    import dataclasses
    import shutil

    from bot.stats import archive_report, render
    from index.store import read_manifest

    report = archive_report(dataclasses.replace(settings, index_dir=seed_index_dir))
    manifest = read_manifest(seed_index_dir)
    assert report["dates"] == manifest["dates"] and report["dates"]["dated"] > 0
    assert report["line"].startswith(manifest["dates"]["first"] + " to ")
    old = tmp_path / "old"  # an index written before the manifest carried its dates: read from the store
    shutil.copytree(seed_index_dir, old)
    (old / "manifest.json").write_text(json.dumps({k: v for k, v in manifest.items() if k != "dates"}))
    assert archive_report(dataclasses.replace(settings, index_dir=old))["dates"] == manifest["dates"]
    assert "not read" in archive_report(dataclasses.replace(settings, index_dir=tmp_path / "none"))["line"]
    empty = summarise([], [], 0.0, 1.0)
    assert "archive       " + report["line"] in render({**empty, "archive": report})
