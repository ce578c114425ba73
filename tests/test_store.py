"""The on-disk index: atomic rebuilds (even when the build is killed), precise load errors, and
the embedding cache that makes a rebuild embed only new or changed text.

Builds use the session's real model; builds of seed articles reuse the session seed index's
embeddings (`reuse_from`) so they cost seconds, except where embedding itself is under test.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index.build import build_index
from index.corpus import read_corpus
from index.text import split_sentences
from index.store import FORMAT_VERSION, IndexLoadError, load_index, read_manifest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_FILES = sorted(p.name for p in SEEDS.glob("*.txt"))


def seed_corpus(folder: Path, names: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(SEEDS / name, folder / name)
    return folder


def big_jsonl_corpus(folder: Path, articles: int = 40, sentences_each: int = 25) -> Path:
    """Articles made of seed sentences, each sentence made unique so nothing comes from a cache."""
    folder.mkdir(parents=True, exist_ok=True)
    pool = [t for d in read_corpus(SEEDS).documents for t in split_sentences(d.text) if len(t) > 20]
    rows = []
    for n in range(articles):
        body = " ".join(f"{pool[(n * 7 + i) % len(pool)].rstrip('.।')} (report {n}-{i})."
                        for i in range(sentences_each))
        rows.append({"id": f"big-{n:03d}", "title": f"Archive report {n}", "text": body, "date": "2021-02-10"})
    with (folder / "archive.jsonl").open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return folder


def _env() -> dict:
    return {k: v for k, v in os.environ.items() if not (k.startswith("KHABAR_") and k != "KHABAR_HOME")}


def siblings(out: Path, kind: str) -> list[Path]:
    return sorted(out.parent.glob(f".{out.name}.{kind}-*"))


# --- atomic rebuild ------------------------------------------------------------------------------

@pytest.mark.slow
def test_killed_build_leaves_previous_index_loadable(tmp_path, settings, embedder, seed_index_dir):
    out = tmp_path / "served" / "index"
    small = seed_corpus(tmp_path / "small", SEED_FILES[:2])
    summary_a = build_index([small], out, settings.index, embedder=embedder, progress=False,
                            reuse_from=[seed_index_dir])
    index_a = load_index(out, expect_model_id=embedder.model_id)
    manifest_a = (out / "manifest.json").read_bytes()
    files_a = sorted(p.name for p in out.iterdir())

    big = big_jsonl_corpus(tmp_path / "big")
    log = (tmp_path / "build.log").open("wb")
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "build_index.py"), "--corpus", str(big),
                             "--out", str(out)], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=_env())
    try:
        # Kill it once it is embedding (or writing its temporary folder), well before it can finish.
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            text = (tmp_path / "build.log").read_text(encoding="utf-8", errors="replace")
            if "embedding" in text or siblings(out, "tmp"):
                break
            assert proc.poll() is None, f"build ended before it could be killed:\n{text}"
            time.sleep(0.2)
        else:
            pytest.fail("the build never started embedding")
        time.sleep(0.5)
        assert proc.poll() is None, "the build finished before the kill; make the corpus bigger"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    assert proc.returncode == -signal.SIGKILL

    # The served folder is exactly index A: same manifest, same files, loads with A's counts.
    assert (out / "manifest.json").read_bytes() == manifest_a
    assert sorted(p.name for p in out.iterdir()) == files_a
    still = load_index(out, expect_model_id=embedder.model_id)
    assert still.build_id == index_a.build_id
    assert still.manifest["counts"] == {"documents": 2, "passages": summary_a.passages,
                                        "sentences": summary_a.sentences}
    assert sorted(still.documents) == sorted(Path(n).stem for n in SEED_FILES[:2])
    assert not siblings(out, "old")

    # A later build replaces it, even with a stale temporary sibling lying around.
    stale = out.parent / f".{out.name}.tmp-stale"
    stale.mkdir()
    (stale / "documents.jsonl").write_text("{half a line")
    bigger = seed_corpus(tmp_path / "bigger", SEED_FILES[:3])
    summary_b = build_index([bigger], out, settings.index, embedder=embedder, progress=False,
                            reuse_from=[seed_index_dir])
    index_b = load_index(out, expect_model_id=embedder.model_id)
    assert index_b.build_id != index_a.build_id
    assert len(index_b.documents) == 3 and len(index_b.passages) == summary_b.passages
    assert not siblings(out, "old"), "the replaced index is deleted"
    assert [p for p in siblings(out, "tmp") if p != stale] == [], "the finished build left no temporary folder"


def test_failed_build_leaves_previous_index_and_no_temporary_folder(tmp_path, settings, embedder, seed_index_dir,
                                                                    monkeypatch):
    out = tmp_path / "index"
    corpus = seed_corpus(tmp_path / "corpus", SEED_FILES[:2])
    build_index([corpus], out, settings.index, embedder=embedder, progress=False, reuse_from=[seed_index_dir])
    before = (out / "manifest.json").read_bytes()

    import index.store as store

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store.dense, "save", disk_full)  # fails midway through writing the new folder
    seed_corpus(corpus, SEED_FILES[2:3])
    with pytest.raises(OSError, match="No space"):
        build_index([corpus], out, settings.index, embedder=embedder, progress=False, reuse_from=[seed_index_dir])
    assert (out / "manifest.json").read_bytes() == before
    assert len(load_index(out).documents) == 2
    assert not siblings(out, "tmp") and not siblings(out, "old")


# --- load errors ---------------------------------------------------------------------------------

@pytest.fixture()
def index_copy(tmp_path, seed_index_dir) -> Path:
    path = tmp_path / "copy"
    shutil.copytree(seed_index_dir, path)
    return path


def edit_manifest(path: Path, change) -> None:
    m = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    change(m)
    (path / "manifest.json").write_text(json.dumps(m), encoding="utf-8")


def test_copy_of_seed_index_loads(index_copy, embedder):
    idx = load_index(index_copy, expect_model_id=embedder.model_id)
    assert len(idx.documents) == 5 and idx.manifest["format_version"] == FORMAT_VERSION


def test_missing_folder(tmp_path):
    with pytest.raises(IndexLoadError, match="index folder not found") as err:
        load_index(tmp_path / "nowhere")
    assert "build_index.py" in str(err.value) and str(tmp_path / "nowhere") in str(err.value)


def test_path_is_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(IndexLoadError, match="is not a folder"):
        load_index(tmp_path / "f")


def test_missing_manifest(index_copy):
    (index_copy / "manifest.json").unlink()
    with pytest.raises(IndexLoadError, match="has no manifest.json") as err:
        load_index(index_copy)
    assert "interrupted" in str(err.value)


def test_invalid_json_manifest(index_copy):
    (index_copy / "manifest.json").write_text('{"format_version": 1, "counts": ', encoding="utf-8")
    with pytest.raises(IndexLoadError, match="manifest.json is not valid JSON"):
        load_index(index_copy)


def test_other_format_version(index_copy):
    edit_manifest(index_copy, lambda m: m.update(format_version=FORMAT_VERSION + 1))
    with pytest.raises(IndexLoadError, match=rf"format version {FORMAT_VERSION + 1}.*reads version {FORMAT_VERSION}"):
        load_index(index_copy)
    with pytest.raises(IndexLoadError, match="format version"):
        read_manifest(index_copy)


def test_other_model(index_copy, embedder):
    with pytest.raises(IndexLoadError, match="built with model") as err:
        load_index(index_copy, expect_model_id="other")
    assert embedder.model_id in str(err.value) and "'other'" in str(err.value)


def test_missing_data_file(index_copy):
    (index_copy / "passages.faiss").unlink()
    with pytest.raises(IndexLoadError, match="incomplete: missing passages.faiss"):
        load_index(index_copy)


def test_counts_mismatch(index_copy):
    edit_manifest(index_copy, lambda m: m["counts"].update(passages=m["counts"]["passages"] + 1))
    with pytest.raises(IndexLoadError, match=r"inconsistent \(passages: manifest says \d+, found \d+"):
        load_index(index_copy)


def test_damaged_data_file(index_copy):
    (index_copy / "passages.faiss").write_bytes(b"not a faiss index")
    with pytest.raises(IndexLoadError, match="damaged"):
        load_index(index_copy)


def test_truncated_vectors(index_copy):
    import numpy as np

    vecs = np.load(index_copy / "sentence_vectors.npy")
    np.save(index_copy / "sentence_vectors.npy", vecs[:-1])
    with pytest.raises(IndexLoadError, match="sentence vectors: shape"):
        load_index(index_copy)


# --- embedding cache -----------------------------------------------------------------------------

def test_rebuild_embeds_only_new_or_changed_text(tmp_path, settings, embedder, seed_index_dir):
    corpus = seed_corpus(tmp_path / "corpus", SEED_FILES[:2] + SEED_FILES[3:4])
    out = tmp_path / "index"
    first = build_index([corpus], out, settings.index, embedder=embedder, progress=False,
                        reuse_from=[seed_index_dir])
    total = first.passages + first.sentences
    assert first.embedded == 0 and first.reused == total  # all of it was in the seed index
    old = load_index(out)

    # The same corpus again: everything comes from the index being replaced.
    again = build_index([corpus], out, settings.index, embedder=embedder, progress=False)
    assert again.embedded == 0 and again.reused == total
    assert load_index(out).build_id != old.build_id

    # One sentence of one article changes: only that article's changed texts are embedded.
    changed = corpus / "003_650a5a8d15b4475b.txt"
    text = changed.read_text(encoding="utf-8")
    assert "till the end of March" in text
    changed.write_text(text.replace("till the end of March", "till the end of April"), encoding="utf-8")
    third = build_index([corpus], out, settings.index, embedder=embedder, progress=False)
    assert 0 < third.embedded < total
    assert third.embedded + third.reused == third.passages + third.sentences
    new = load_index(out)
    old_hashes = set(old.passage_hashes) | set(old.sentence_hashes)
    new_p = [i for i, h in enumerate(new.passage_hashes) if h not in old_hashes]
    new_s = [i for i, h in enumerate(new.sentence_hashes) if h not in old_hashes]
    assert len(new_p) + len(new_s) == third.embedded
    assert new_s and new_p
    assert {new.passages[i].doc_id for i in new_p} == {"003_650a5a8d15b4475b"}
    assert {new.sentences[i].doc_id for i in new_s} == {"003_650a5a8d15b4475b"}
    assert all("April" in new.sentences[i].text for i in new_s)
    # Reused vectors are the old ones; the new sentence's vector is the model's embedding of it.
    import numpy as np

    s_old = {h: old.sentence_vectors[i] for i, h in enumerate(old.sentence_hashes)}
    for i, h in enumerate(new.sentence_hashes):
        if h in s_old:
            assert np.array_equal(new.sentence_vectors[i], s_old[h])
    fresh = embedder.passages([new.sentences[new_s[0]].text])[0]
    assert float(np.dot(fresh, new.sentence_vectors[new_s[0]])) > 0.999


def test_format_1_folder_is_refused_with_its_rebuild_command(tmp_path):
    """An index written by Khabar before the SQLite store: JSONL files, format_version 1."""
    old = tmp_path / "old-index"
    old.mkdir()
    (old / "manifest.json").write_text(json.dumps({"format_version": 1, "build_id": "1"}), encoding="utf-8")
    (old / "documents.jsonl").write_text(
        "\n".join(json.dumps({"doc_id": f"d{i}", "source": f"/archive/2021/d{i}.txt"}) for i in range(3)) + "\n",
        encoding="utf-8")
    with pytest.raises(IndexLoadError, match=r"format version 1, this Khabar reads version 3 \(and 2\); rebuild it once: "
                                             r"`python scripts/build_index.py --corpus /archive/2021 --out "):
        load_index(old)
