"""The Engine: hot index swap without a restart, refusing a broken rebuild, and question cleaning.

Real model, real indexes built into temporary folders (reusing the session seed index's
embeddings, so a build costs seconds).
"""
from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import pytest

from bot.engine import Engine, QuestionError, clean_question
from index.build import build_index
from index.store import load_index

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_FILES = sorted(p.name for p in SEEDS.glob("*.txt"))
HI_DOC, EN_DOC = "000_d8dae42a146f05ed", "003_650a5a8d15b4475b"
TWITTER_Q = "How many accounts did the government order Twitter to block?"


def build(corpus_files: list[str], folder: Path, out: Path, settings, embedder, seed_index_dir):
    folder.mkdir(parents=True, exist_ok=True)
    for name in corpus_files:
        shutil.copy(SEEDS / name, folder / name)
    return build_index([folder], out, settings.index, embedder=embedder, progress=False,
                       reuse_from=[seed_index_dir])


def cited_docs(result) -> set[str]:
    return {c.doc_id for a in result.answers for c in [a.citation, *(c for _, c in a.also_in)]}


def passage_docs(result) -> set[str]:
    return {result.index.passages[h.pid].doc_id for h in result.passages}


@pytest.fixture()
def small_engine(tmp_path, settings, embedder, seed_index_dir):
    out = tmp_path / "served"
    build([f"{HI_DOC}.txt", f"{EN_DOC}.txt"], tmp_path / "corpus", out, settings, embedder, seed_index_dir)
    return Engine(settings, out, embedder=embedder)


def test_hot_swap_to_rebuilt_index(small_engine, tmp_path, settings, embedder, seed_index_dir, monkeypatch):
    engine = small_engine
    out = engine.index_dir
    old_index = engine.index
    assert len(old_index.documents) == 2
    assert engine.reload_if_changed() is False  # nothing changed yet

    before = engine.ask(TWITTER_Q)
    assert not before.abstained and cited_docs(before) <= {HI_DOC, EN_DOC}

    # Rebuild the served folder with all five seed articles while the engine keeps running.
    summary = build(SEED_FILES, tmp_path / "corpus", out, settings, embedder, seed_index_dir)
    assert summary.documents == 5
    assert engine.index is old_index, "nothing is swapped until the engine looks"

    # A question already in flight when the swap happens finishes on the index it started with:
    # the swap is triggered from inside that question's retrieval step.
    swapped = []
    old_served = engine._served
    search = old_served.pipeline.retriever.search

    def search_then_swap(*args, **kwargs):
        swapped.append(engine.reload_if_changed())
        return search(*args, **kwargs)

    monkeypatch.setattr(old_served.pipeline.retriever, "search", search_then_swap)
    in_flight = engine.ask(TWITTER_Q)
    assert swapped == [True]
    assert in_flight.index is old_index
    assert passage_docs(in_flight) <= {HI_DOC, EN_DOC} and len(in_flight.passages) == len(old_index.passages)
    assert cited_docs(in_flight) <= {HI_DOC, EN_DOC}
    assert [a.text for a in in_flight.answers] == [a.text for a in before.answers]
    json.dumps(in_flight.to_json(), ensure_ascii=False)  # renders against the index it used

    # The next question is answered from the new index.
    assert engine.index is not old_index and len(engine.index.documents) == 5
    assert engine.index.build_id == load_index(out).build_id
    after = engine.ask(TWITTER_Q)
    assert after.index is engine.index
    assert len(passage_docs(after)) == 5
    assert len(cited_docs(after)) > 2  # the other English reports of 1,178 now count too
    assert engine.reload_if_changed() is False  # same build: no second swap


def test_broken_rebuild_is_refused_and_old_index_kept(small_engine, tmp_path, settings, embedder, seed_index_dir,
                                                      caplog):
    engine = small_engine
    out = engine.index_dir
    served = engine.index
    manifest_path = out / "manifest.json"
    good_manifest = manifest_path.read_text(encoding="utf-8")

    def expect_refused(level: int, *words: str):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="bot.engine"):
            assert engine.reload_if_changed() is False
        records = [r for r in caplog.records if r.name == "bot.engine" and r.levelno >= level]
        assert records, f"no log record at level >= {logging.getLevelName(level)}"
        msg = records[-1].getMessage()
        for w in words:
            assert w in msg, msg
        assert served.build_id in msg  # says which build is still being served
        assert engine.index is served
        result = engine.ask(TWITTER_Q)  # and it still answers, from the previous index
        assert result.index is served and not result.abstained
        assert any("1,178" in a.text for a in result.answers)

    # A manifest of another format version (as a newer Khabar would write).
    m = json.loads(good_manifest)
    m["format_version"] = 99
    m["build_id"] = "f" * 16
    manifest_path.write_text(json.dumps(m), encoding="utf-8")
    expect_refused(logging.WARNING, "format version 99")

    # A new build whose files do not match its manifest: refused with an error.
    m = json.loads(good_manifest)
    m["build_id"] = "e" * 16
    m["counts"]["passages"] += 3
    manifest_path.write_text(json.dumps(m), encoding="utf-8")
    expect_refused(logging.ERROR, "refusing the new index", "inconsistent")

    # A new build with a data file missing.
    manifest_path.write_text(json.dumps({**json.loads(good_manifest), "build_id": "d" * 16}), encoding="utf-8")
    (out / "passages.faiss").rename(tmp_path / "passages.faiss")
    expect_refused(logging.ERROR, "missing passages.faiss")
    (tmp_path / "passages.faiss").rename(out / "passages.faiss")

    # The folder briefly gone (as between the two renames of a swap).
    moved = tmp_path / "moved-away"
    out.rename(moved)
    expect_refused(logging.WARNING, "not found")
    moved.rename(out)

    # A real rebuild afterwards is picked up.
    build(SEED_FILES, tmp_path / "corpus", out, settings, embedder, seed_index_dir)
    assert engine.reload_if_changed() is True
    assert len(engine.index.documents) == 5


def test_engine_refuses_an_unusable_index_at_start(tmp_path, settings, embedder, seed_index_dir):
    from index.store import IndexLoadError

    with pytest.raises(IndexLoadError, match="not found"):
        Engine(settings, tmp_path / "missing", embedder=embedder)
    bad = tmp_path / "bad"
    shutil.copytree(seed_index_dir, bad)
    m = json.loads((bad / "manifest.json").read_text(encoding="utf-8"))
    m["model"]["id"] = "someone-else/model@123"
    (bad / "manifest.json").write_text(json.dumps(m), encoding="utf-8")
    with pytest.raises(IndexLoadError, match="built with model 'someone-else/model@123'"):
        Engine(settings, bad, embedder=embedder)


# --- questions -------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["", "   ", "\t\n\r", "\x00\x07\x1b", " \u200b\ufeff "])
def test_clean_question_refuses_empty(text):
    with pytest.raises(QuestionError, match="empty"):
        clean_question(text, 500)


def test_clean_question_refuses_over_long():
    assert clean_question("a" * 500, 500) == "a" * 500
    with pytest.raises(QuestionError, match=r"501 characters long; the limit is 500"):
        clean_question("a" * 501, 500)
    # Length is measured after cleaning: padding does not count.
    assert clean_question("  " + "b" * 500 + "\n\n\t", 500) == "b" * 500


def test_clean_question_strips_control_characters():
    assert clean_question("Who\x00 is\tMahima\x1b Kaul?\r\n", 500) == "Who is Mahima Kaul?"
    assert clean_question("  महिमा   कौल\nकौन हैं?  ", 500) == "महिमा कौल कौन हैं?"
    # Invisible format characters pasted from the web do not split words ...
    assert clean_question("\ufeffTwit\u00adter blocked\u200b accounts?", 500) == "Twitter blocked accounts?"
    # ... but ZWJ/ZWNJ, which change how Devanagari is written, are kept.
    assert clean_question("क्\u200dष और क्\u200cष?", 500) == "क्\u200dष और क्\u200cष?"


def test_engine_ask_applies_the_configured_limits(engine):
    limit = engine.settings.answer.max_question_chars
    with pytest.raises(QuestionError, match="empty"):
        engine.ask(" \x00 ", conversation_id="c")
    with pytest.raises(QuestionError, match=f"limit is {limit}"):
        engine.ask("Why " * limit, conversation_id="c")
    assert engine.conversations.history("c") == []  # a refused question is not a turn
    result = engine.ask("Who is\x00 Mahima\tKaul?", conversation_id="c")
    assert result.question == "Who is Mahima Kaul?"
    assert not result.abstained
    assert [t.question for t in engine.conversations.history("c")] == ["Who is Mahima Kaul?"]
