"""Incremental updates (index/update.py): `--add` found by a running engine, `--delete`, a
corrected story, failure leaving the old generation, and the same answers as a full build.

Real model, real indexes in temporary folders (a copy of the session seed index, so each test
embeds only the article it adds).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot.engine import Engine
from index.build import build_index
from index.store import FILES, IndexLoadError, load_index
from index.update import IndexUpdateError, update_index

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
TODAY_ID = "zorblat"
TODAY = ("Khabar test desk wins the Zorblat prize\n"
         "New Delhi, Dec 3: The Khabar test desk won the Zorblat prize for data journalism on Thursday. "
         "The jury said the desk's reporting on 412 village wells was exemplary. "
         "The prize carries an award of Rs 5 lakh.\n")
QUESTION = "How many village wells did the desk report on?"


def answer_texts(result) -> list[str]:
    return [a.text for a in result.answers]


def quoted_docs(result) -> set[str]:
    return {a.citation.doc_id for a in result.answers}


@pytest.fixture()
def served(tmp_path, seed_index_dir) -> Path:
    out = tmp_path / "served"
    shutil.copytree(seed_index_dir, out)
    return out


@pytest.fixture()
def today(tmp_path) -> Path:
    folder = tmp_path / "today"
    folder.mkdir()
    (folder / f"{TODAY_ID}.txt").write_text(TODAY, encoding="utf-8")
    return folder


def test_added_article_is_answered_by_the_running_engine(served, today, settings, embedder):
    engine = Engine(settings, served, embedder=embedder)
    old_index = engine.index
    before = engine.ask(QUESTION)
    assert TODAY_ID not in quoted_docs(before)

    summary = update_index(served, settings.index, embedder, add=[today], progress=False)
    assert summary.added == [TODAY_ID] and summary.embedded == summary.passages + summary.sentences > 0

    # The engine keeps serving the old generation until its reload check, then serves the new one.
    assert TODAY_ID not in quoted_docs(engine.ask(QUESTION))
    assert engine.reload_if_changed() is True
    after = engine.ask(QUESTION)
    assert not after.abstained and quoted_docs(after) == {TODAY_ID}
    assert "412 village wells" in after.answers[0].text
    # An Index object of the replaced generation still reads its own rows, never the new ones.
    assert TODAY_ID not in old_index.documents and len(old_index.sentences) == len(engine.index.sentences) - 4
    assert old_index.sentences[len(old_index.sentences) - 1].doc_id != TODAY_ID
    # The twitter questions answer exactly as before.
    q = "How many accounts did the government order Twitter to block?"
    assert answer_texts(Engine(settings, served, embedder=embedder).ask(q)) == answer_texts(
        Engine(settings, old_index.path, embedder=embedder).ask(q))


def test_delete_removes_the_article_from_answers_and_retrieval(served, today, settings, embedder):
    update_index(served, settings.index, embedder, add=[today], progress=False)
    engine = Engine(settings, served, embedder=embedder)
    assert quoted_docs(engine.ask(QUESTION)) == {TODAY_ID}

    summary = update_index(served, settings.index, embedder, delete=[TODAY_ID], progress=False)
    assert summary.deleted == [TODAY_ID] and summary.embedded == 0
    assert engine.reload_if_changed() is True
    result = engine.ask(QUESTION)
    assert TODAY_ID not in quoted_docs(result)
    assert all(engine.index.passages[h.pid].doc_id != TODAY_ID for h in result.passages)
    assert TODAY_ID not in engine.index.documents and len(engine.index.documents) == 5
    # Deleting it again is refused with a clear message, and nothing is written.
    build = engine.index.build_id
    with pytest.raises(IndexUpdateError, match=f"no article {TODAY_ID}"):
        update_index(served, settings.index, embedder, delete=[TODAY_ID], progress=False)
    assert load_index(served).build_id == build


def test_an_added_article_with_an_indexed_id_replaces_it(served, today, settings, embedder):
    update_index(served, settings.index, embedder, add=[today], progress=False)
    (today / f"{TODAY_ID}.txt").write_text(TODAY.replace("412 village wells", "413 village wells"), encoding="utf-8")
    summary = update_index(served, settings.index, embedder, add=[today], progress=False)
    assert summary.replaced == [TODAY_ID] and summary.added == []
    # Only the corrected sentence and the passage holding it are embedded again.
    assert summary.embedded == 2
    index = load_index(served)
    assert len(index.documents) == 6 and "413 village wells" in index.documents[TODAY_ID].text
    result = Engine(settings, served, embedder=embedder).ask(QUESTION)
    assert "413 village wells" in result.answers[0].text and quoted_docs(result) == {TODAY_ID}


def test_update_gives_the_answers_of_a_full_build(served, today, tmp_path, settings, embedder, seed_index_dir):
    update_index(served, settings.index, embedder, add=[today], progress=False)
    full = tmp_path / "full"
    build_index([SEEDS, today], full, settings.index, embedder=embedder, progress=False,
                reuse_from=[served])
    a, b = load_index(served), load_index(full)
    assert a.manifest["corpus_fingerprint"] == b.manifest["corpus_fingerprint"]
    assert a.manifest["counts"] == b.manifest["counts"]
    questions = [QUESTION, "How many accounts did the government order Twitter to block?",
                 "महिमा कौल ने इस्तीफा क्यों दिया?"]
    ea, eb = Engine(settings, served, embedder=embedder), Engine(settings, full, embedder=embedder)
    for q in questions:
        assert answer_texts(ea.ask(q)) == answer_texts(eb.ask(q)), q


def test_a_failed_update_leaves_the_old_generation(served, today, settings, embedder, monkeypatch):
    build_id = load_index(served).build_id
    files = sorted(p.name for p in served.iterdir())

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("index.update.BM25.save", disk_full)  # the BM25 files are written mid-update
    with pytest.raises(OSError, match="No space left"):
        update_index(served, settings.index, embedder, add=[today], progress=False)
    assert load_index(served).build_id == build_id
    assert sorted(p.name for p in served.iterdir()) == files
    assert not [p for p in served.parent.iterdir() if p.name.startswith(f".{served.name}.tmp-")]


def test_update_refuses_other_passage_settings(served, today, settings, embedder):
    from dataclasses import replace

    other = replace(settings.index, passage_sentences=settings.index.passage_sentences + 1)
    with pytest.raises(IndexUpdateError, match="passage_sentences=.*Rebuild it in full"):
        update_index(served, other, embedder, add=[today], progress=False)


def test_store_from_another_build_is_refused(served, tmp_path, today, settings, embedder):
    other = tmp_path / "other"
    shutil.copytree(served, other)
    update_index(other, settings.index, embedder, add=[today], progress=False)
    shutil.copy(other / "store.sqlite", served / "store.sqlite")
    with pytest.raises(IndexLoadError, match="store.sqlite belongs to build"):
        load_index(served)


def test_half_written_store_is_refused(served):
    data = (served / "store.sqlite").read_bytes()
    (served / "store.sqlite").write_bytes(data[: len(data) // 3])
    with pytest.raises(IndexLoadError, match="(damaged|inconsistent).*rebuild it"):
        load_index(served)


def test_vectors_are_half_precision_and_memory_mapped(served):
    index = load_index(served)
    assert index.sentence_vectors.dtype == np.float16 and isinstance(index.sentence_vectors, np.memmap)
    pv = index.passage_vectors[[0, 1]]
    assert pv.shape == (2, index.manifest["model"]["dim"])
    assert np.allclose(np.linalg.norm(pv, axis=1), 1.0, atol=1e-3)


@pytest.mark.slow
def test_cli_add_and_delete(served, today):
    def khabar(*args):
        return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=300)

    done = khabar("build", "--out", str(served), "--add", str(today), "--quiet")
    assert done.returncode == 0, done.stderr
    assert "added 1 article(s), replaced 0, deleted 0" in done.stdout
    done = khabar("build", "--out", str(served), "--delete", TODAY_ID, "--quiet")
    assert done.returncode == 0 and "deleted 1" in done.stdout
    refused = khabar("build", "--out", str(served), "--delete", "no-such-article", "--quiet")
    assert refused.returncode == 2 and "no article no-such-article" in refused.stderr
    assert "Traceback" not in refused.stderr
    both = khabar("build", "--out", str(served), "--corpus", str(today), "--add", str(today))
    assert both.returncode == 2 and "one or the other" in both.stderr


def test_after_a_delete_bm25_and_answers_equal_a_full_build(served, today, tmp_path, settings, embedder):
    update_index(served, settings.index, embedder, add=[today], progress=False)
    gone = "003_650a5a8d15b4475b"
    update_index(served, settings.index, embedder, delete=[gone], progress=False)
    rest = tmp_path / "rest"
    rest.mkdir()
    for p in SEEDS.glob("*.txt"):
        if p.stem != gone:
            shutil.copy(p, rest / p.name)
    full = tmp_path / "full"
    build_index([rest, today], full, settings.index, embedder=embedder, progress=False, reuse_from=[served])
    a, b = load_index(served), load_index(full)
    assert a.manifest["corpus_fingerprint"] == b.manifest["corpus_fingerprint"]
    live = np.flatnonzero(a.passages.live)
    for q in ("How many accounts did the government order Twitter to block?", "कू ऐप", QUESTION):
        sa, sb = a.bm25.scores(q), b.bm25.scores(q)
        assert not sa[~a.passages.live].any()
        np.testing.assert_allclose(sa[live], sb, atol=1e-6)  # an update scores as a full build
    ea, eb = Engine(settings, served, embedder=embedder), Engine(settings, full, embedder=embedder)
    for q in ("How many accounts did the government order Twitter to block?", QUESTION):
        assert answer_texts(ea.ask(q)) == answer_texts(eb.ask(q)), q


def test_re_adding_an_unchanged_article_changes_nothing(served, today, settings, embedder):
    update_index(served, settings.index, embedder, add=[today], progress=False)
    build = load_index(served).build_id
    again = update_index(served, settings.index, embedder, add=[today], progress=False)
    assert again.unchanged == [TODAY_ID] and again.added == again.replaced == [] and again.embedded == 0
    assert load_index(served).build_id == build


def test_deleting_every_article_is_refused(served, settings, embedder):
    everything = list(load_index(served).documents)
    with pytest.raises(IndexUpdateError, match="would leave .* empty"):
        update_index(served, settings.index, embedder, delete=everything, progress=False)


def test_a_re_exported_feed_item_is_a_correction_or_a_no_op(tmp_path, settings, embedder):
    """The same guid exported again through `--add`: replaced when its text changed, nothing
    written when it did not (issue 20)."""
    from exports import RSS

    first, again, fixed = tmp_path / "monday", tmp_path / "tuesday", tmp_path / "wednesday"
    for folder, feed in ((first, RSS), (again, RSS), (fixed, RSS.replace("50,000 trees", "55,000 trees"))):
        folder.mkdir()
        (folder / "city.rss").write_text(feed, encoding="utf-8")
    out = tmp_path / "index"
    build_index([first], out, settings.index, embedder=embedder, progress=False)
    build = load_index(out).build_id
    same = update_index(out, settings.index, embedder, add=[again], progress=False)
    assert same.unchanged == ["city-1001", "city-1002"] and not same.replaced and load_index(out).build_id == build
    corrected = update_index(out, settings.index, embedder, add=[fixed], progress=False)
    assert corrected.replaced == ["city-1001"] and corrected.unchanged == ["city-1002"]
    index = load_index(out)
    assert "55,000 trees" in index.documents["city-1001"].text and len(index.documents) == 2


def test_an_index_without_term_counts_is_rebuilt_once_then_updated_in_place(served, today, settings, embedder):
    """An index written before BM25 kept its term counts: the first update rebuilds BM25 from the
    stored texts (and keeps the counts), so the next one is in place."""
    from index.bm25 import LENGTHS_FILE, TF_FILE

    bm25_dir = served / FILES["bm25"]
    (bm25_dir / TF_FILE).unlink()
    (bm25_dir / LENGTHS_FILE).unlink()
    assert load_index(served).bm25.counts is None
    update_index(served, settings.index, embedder, add=[today], progress=False)
    after = load_index(served)
    assert after.bm25.counts is not None and after.bm25.counts.n_docs == int(after.passages.live.sum())
