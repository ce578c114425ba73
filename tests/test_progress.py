"""`khabar build` (a full build and an update) shows a bar for each long step (issue 22, item 7) on
stderr, and none under --quiet.

In-process through bot/cli.py's `main`, with the session's embedder, rebuilding a copy of the
seed index (its embeddings are reused, so a build embeds nothing again and an update one article).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
STEPS = ("embedding", "BM25", "faiss flat", "writing index")


@pytest.fixture()
def cli(monkeypatch, embedder):
    import index.embed
    from bot.cli import main

    monkeypatch.setattr(index.embed, "Embedder", lambda settings: embedder)  # no second model load
    return main


@pytest.mark.parametrize("quiet", [False, True])
def test_build_names_each_step_and_quiet_prints_no_bar(cli, capsys, tmp_path, seed_index_dir, quiet):
    out = tmp_path / "index"
    shutil.copytree(seed_index_dir, out)
    rc = cli(["build", "--corpus", str(SEEDS), "--out", str(out), *(["--quiet"] if quiet else [])])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert f"Index written to {out}" in captured.out
    assert "|" not in captured.out and "it/s" not in captured.out  # the summary on stdout stays clean
    if quiet:
        assert captured.err == ""
    else:
        for step in STEPS:
            assert f"{step}:" in captured.err, f"no bar for {step!r}: {captured.err!r}"
        assert "passage/s" in captured.err and "vector/s" in captured.err  # counted steps have a rate


def test_chunked_add_is_the_index_of_one_add(settings):
    """Adding in chunks (so the bar has a rate) makes the index one add made, bar or no bar."""
    from dataclasses import replace

    import faiss
    import numpy as np

    from index import dense

    rng = np.random.default_rng(0)
    x = rng.standard_normal((dense.ADD_CHUNK + 100, 16)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    flat = replace(settings.index, hnsw_threshold=10**9, ivfpq_threshold=10**9)
    one = faiss.IndexFlatIP(16)
    one.add(x)
    q = x[::997]
    want = one.search(q, 5)
    for progress in (False, True):
        built = dense.build(x, flat, progress=progress)
        assert built.ntotal == len(x)
        got = built.search(q, 5)
        np.testing.assert_array_equal(got[1], want[1])
        np.testing.assert_array_equal(got[0], want[0])


@pytest.mark.parametrize("quiet", [False, True])
def test_update_names_each_step_and_quiet_prints_no_bar(cli, capsys, tmp_path, seed_index_dir, quiet):
    out = tmp_path / "index"
    shutil.copytree(seed_index_dir, out)
    today = tmp_path / "today"
    today.mkdir()
    (today / "wells.txt").write_text("Khabar test desk wins a prize\nThe desk reported on 412 village wells.\n",
                                     encoding="utf-8")
    rc = cli(["build", "--add", str(today), "--out", str(out), *(["--quiet"] if quiet else [])])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "|" not in captured.out and "it/s" not in captured.out
    if quiet:
        assert captured.err == ""
    else:
        for step in STEPS:
            assert f"{step}:" in captured.err, f"no bar for {step!r}: {captured.err!r}"


@pytest.mark.parametrize("json_mode, want", [(True, False), (False, None)])
def test_ask_in_json_mode_never_shows_a_first_use_build_bar(monkeypatch, json_mode, want):
    """`khabar ask --json` builds the seeds index on first use without a bar (None: on a terminal only)."""
    import bot.runtime
    from bot.cli import main

    seen = {}

    class Stop(Exception):
        pass

    def runtime(settings, index=None, **kwargs):
        seen.update(kwargs)
        raise Stop

    monkeypatch.setattr(bot.runtime, "Runtime", runtime)
    with pytest.raises(Stop):
        main(["ask", *(["--json"] if json_mode else []), "Who is Mahima Kaul?"])
    assert seen.get("progress") is want
