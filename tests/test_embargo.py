"""Embargoes checked at question time (index/embargo.py, index/retrieve.py): an embargoed article is
in no search, answer or also_in before its moment, answerable after it without a rebuild; drafts
are never indexed; doctor/stats see the pending count and the next lift.

Real model, a real index of a small export (RSS, Hindi Atom, a page, a CMS JSONL) per module.
"""
from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
from exports import DRAFT_TEXT, EMBARGO_TEXT, JSONL_ROWS, write_exports, write_jsonl

from index.build import build_index
from index.embargo import Embargoes, status_of
from index.retrieve import Retriever
from index.store import load_index

QUESTION = "How much will the state budget allot for rural roads?"
LIFT = datetime(2099, 1, 1, 5, 30, tzinfo=timezone.utc)
BEFORE, AFTER = LIFT - timedelta(seconds=1), LIFT


@pytest.fixture(scope="module")
def export_index(tmp_path_factory, settings, embedder):
    folder = write_exports(tmp_path_factory.mktemp("export") / "in")
    # the same fact in a second embargoed article, so also_in is tested too
    rows = [*JSONL_ROWS, {"id": "budget-embargoed-2", "title": "Rural roads to get Rs 5,000 crore",
                          "text": "Rural roads will get Rs 5,000 crore in the state budget, officials said.",
                          "embargo_until": "2099-01-01T11:00:00+05:30"}]
    write_jsonl(folder / "cms.jsonl", rows)
    out = tmp_path_factory.mktemp("export-index") / "index"
    summary = build_index([folder], out, settings.index, embedder=embedder, progress=False)
    return out, summary


def doc_ids(index, hits) -> set[str]:
    return {index.passages[h.pid].doc_id for h in hits}


def test_drafts_are_never_indexed_and_listed_as_skipped(export_index):
    out, summary = export_index
    text = "\n".join(summary.lines())
    assert "mayor-draft" not in load_index(out).documents
    assert sum("draft" in s.reason for s in summary.skipped) == 2 and "draft" in text
    index = load_index(out)
    stored = " ".join(t for (t,) in index.db.all("SELECT text FROM sentences"))
    assert DRAFT_TEXT not in stored and "इस्तीफा" not in stored


def test_search_leaves_embargoed_articles_out_until_their_moment(export_index, settings, embedder):
    out, _ = export_index
    index = load_index(out, expect_model_id=embedder.model_id)
    retriever = Retriever(index, embedder, settings.index)
    for mode in ("hybrid", "dense", "bm25"):
        hits = retriever.search(QUESTION, k=50, mode=mode, per_language=5)
        assert not doc_ids(index, hits) & {"budget-embargoed", "budget-embargoed-2"}, mode
        hits = retriever.search(QUESTION, k=50, mode=mode, per_language=5, as_of=BEFORE)
        assert not doc_ids(index, hits) & {"budget-embargoed", "budget-embargoed-2"}, mode
    lifted = retriever.search(QUESTION, k=5, as_of=AFTER)
    assert index.passages[lifted[0].pid].doc_id in {"budget-embargoed", "budget-embargoed-2"}
    assert retriever.search(QUESTION, k=5, as_of=BEFORE)  # the rest of the archive still answers
    with pytest.raises(ValueError, match="no time zone"):
        retriever.search(QUESTION, as_of=datetime(2099, 1, 2))


def test_the_engine_never_quotes_an_embargo_before_its_time(export_index, settings, embedder):
    from bot.engine import Engine

    out, _ = export_index
    engine = Engine(settings, out, embedder=embedder)
    before = engine.ask(QUESTION)
    quoted = [a.text for a in before.answers] + [t for a in before.answers for t, _ in a.also_in]
    cited = {a.citation.doc_id for a in before.answers} | {c.doc_id for a in before.answers for _, c in a.also_in}
    assert not any(EMBARGO_TEXT in q or "Rs 5,000 crore" in q for q in quoted)
    assert not cited & {"budget-embargoed", "budget-embargoed-2"}
    assert not {p["doc_id"] for p in before.to_json()["passages"]} & {"budget-embargoed", "budget-embargoed-2"}
    engine.as_of = AFTER  # the moment comes: no rebuild, no reload
    after = engine.ask(QUESTION)
    cited = {a.citation.doc_id for a in after.answers} | {c.doc_id for a in after.answers for _, c in a.also_in}
    assert cited & {"budget-embargoed", "budget-embargoed-2"}
    assert engine.generation == 1


def test_embargo_status_for_doctor_and_stats(export_index):
    out, _ = export_index
    status = status_of(out, at=BEFORE)
    assert status.pending == 2 and status.next_lift == LIFT
    assert "2 embargoed article(s)" in status.line() and "2099-01-01T05:30" in status.line()
    assert status_of(out, at=AFTER).pending == 0 and status_of(out, at=AFTER).next_lift is None
    embargoes = Embargoes(load_index(out))
    assert embargoes.blocked(BEFORE).sum() >= 2 and embargoes.blocked(AFTER) is None


def test_doctor_line_shows_the_embargo(export_index, embedder):
    from bot.doctor import check_index

    out, _ = export_index
    check = check_index(out, embedder.model_id)
    assert check.ok and "2 embargoed article(s) not quotable yet" in check.line()


def test_a_format_2_index_still_loads_and_gains_embargoes_on_update(export_index, tmp_path, settings, embedder):
    """An index written before embargoes (format 2, no embargo column) serves with none, and an
    update adds the column and writes format 3."""
    import shutil

    from index.update import update_index

    out, _ = export_index
    old = tmp_path / "old"
    shutil.copytree(out, old)
    conn = sqlite3.connect(old / "store.sqlite")
    with conn:
        conn.execute("ALTER TABLE documents DROP COLUMN embargo_until")
    conn.close()
    manifest = json.loads((old / "manifest.json").read_text())
    (old / "manifest.json").write_text(json.dumps({**manifest, "format_version": 2}))
    index = load_index(old, expect_model_id=embedder.model_id)
    assert not Embargoes(index) and status_of(old).pending == 0
    new = tmp_path / "new"
    new.mkdir()
    write_jsonl(new / "late.jsonl", [{"id": "late", "title": "Late story", "text": "A late story about buses.",
                                      "embargo_until": "2099-06-01T00:00:00Z"}])
    update_index(old, settings.index, embedder, add=[new], progress=False)
    assert json.loads((old / "manifest.json").read_text())["format_version"] == 3
    assert status_of(old, at=BEFORE).pending == 1


def test_stats_report_the_embargo(export_index, settings):
    import dataclasses

    from bot.stats import embargo_report

    out, _ = export_index
    report = embargo_report(dataclasses.replace(settings, index_dir=out))
    assert report["pending"] == 2 and report["next_lift"].startswith("2099-01-01T05:30")
    assert "not read" in embargo_report(dataclasses.replace(settings, index_dir=out.parent / "none"))["line"]


def test_as_of_on_the_command_line_is_checked_before_anything_loads():
    from bot.cli import UserError, _as_of

    assert _as_of("2099-01-01T11:00+05:30") == LIFT and _as_of(None) is None
    with pytest.raises(UserError, match="no time zone"):
        _as_of("2099-01-01T11:00")
