"""A watched drop folder (index/watch.py, `khabar watch`): the first pass builds, a new file is picked
up, a half-written one waits for the next pass, a re-export replaces (a correction) or changes
nothing, and a killed watcher starts again without harm. Real model, real indexes."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from exports import ATOM_HI, RSS

from index.store import load_index
from index.watch import Watcher, parse_every, state_path

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def quick(settings):
    return dataclasses.replace(settings.index, watch_settle_seconds=0.0)


def settled(path: Path) -> None:
    """Date a file a minute back, as a finished export would be by the next pass."""
    past = time.time() - 60
    os.utime(path, (past, past))


def test_passes_build_then_add_new_and_changed_files(tmp_path, quick, embedder):
    drop, out = tmp_path / "drop", tmp_path / "index"
    drop.mkdir()
    (drop / "city.rss").write_text(RSS, encoding="utf-8")
    watcher = Watcher(drop, out, quick, embedder)
    first = watcher.run_pass()
    assert first.error is None and first.read == [str(drop / "city.rss")]
    assert set(load_index(out).documents) == {"city-1001", "city-1002"}
    assert watcher.run_pass().read == []  # nothing new: nothing read, nothing written
    build = load_index(out).build_id

    (drop / "pradesh.atom").write_text(ATOM_HI, encoding="utf-8")
    second = watcher.run_pass()
    assert second.read == [str(drop / "pradesh.atom")] and "added 1 article(s)" in "\n".join(second.lines)
    assert len(load_index(out).documents) == 3 and load_index(out).build_id != build

    # the CMS exports the feed again, one story corrected, the other as it was
    (drop / "city.rss").write_text(RSS.replace("50,000 trees", "55,000 trees"), encoding="utf-8")
    third = watcher.run_pass()
    text = "\n".join(third.lines)
    assert "replaced 1" in text and "1 already indexed unchanged" in text
    index = load_index(out)
    assert "55,000 trees" in index.documents["city-1001"].text and len(index.documents) == 3


def test_a_half_written_file_waits_and_is_read_when_complete(tmp_path, quick, embedder, settings):
    drop, out = tmp_path / "drop", tmp_path / "index"
    drop.mkdir()
    (drop / "ok.txt").write_text("Nagpur gets a new bridge\n\nThe 1.2 km bridge opened on Monday.", encoding="utf-8")
    watcher = Watcher(drop, out, quick, embedder)
    assert watcher.run_pass().error is None
    feed = drop / "city.rss"
    feed.write_text(RSS[: len(RSS) // 2], encoding="utf-8")  # the export job is still writing it
    cut = watcher.run_pass()
    assert cut.waiting == [str(feed)] and not cut.read and "city-1001" not in load_index(out).documents
    feed.write_text(RSS, encoding="utf-8")
    done = watcher.run_pass()
    assert done.read == [str(feed)] and "city-1001" in load_index(out).documents

    # a file modified within the settle time is left for the next pass, whatever it holds
    patient = Watcher(drop, out, dataclasses.replace(settings.index, watch_settle_seconds=30.0), embedder)
    (drop / "fresh.atom").write_text(ATOM_HI, encoding="utf-8")
    assert patient.run_pass().waiting == [str(drop / "fresh.atom")]
    settled(drop / "fresh.atom")
    assert patient.run_pass().read == [str(drop / "fresh.atom")]


def test_a_restarted_watcher_rereads_without_changing_anything(tmp_path, quick, embedder):
    drop, out = tmp_path / "drop", tmp_path / "index"
    drop.mkdir()
    (drop / "city.rss").write_text(RSS, encoding="utf-8")
    Watcher(drop, out, quick, embedder).run_pass()
    build = load_index(out).build_id
    state_path(out).unlink()  # killed before it saved what it read
    again = Watcher(drop, out, quick, embedder).run_pass()
    assert again.read == [str(drop / "city.rss")] and "2 already indexed unchanged" in "\n".join(again.lines)
    assert load_index(out).build_id == build  # a no-op update writes no new generation
    state_path(out).write_text("{not json", encoding="utf-8")  # a damaged state file is not fatal
    assert Watcher(drop, out, quick, embedder).run_pass().error is None


def test_bad_files_are_reported_once(tmp_path, quick, embedder):
    drop, out = tmp_path / "drop", tmp_path / "index"
    drop.mkdir()
    (drop / "ok.txt").write_text("Title\n\nA real sentence about the city budget.", encoding="utf-8")
    watcher = Watcher(drop, out, quick, embedder)
    watcher.run_pass()
    (drop / "attachment.txt").write_text("QUJD" * 50_000, encoding="utf-8")
    bad = watcher.run_pass()
    assert bad.read == [str(drop / "attachment.txt")] and "not prose" in "\n".join(bad.lines)
    assert watcher.run_pass().read == []


def test_every():
    assert parse_every("5m") == 300 and parse_every("30s") == 30 and parse_every("1h") == 3600
    assert parse_every("90") == 90
    with pytest.raises(ValueError, match="30s, 5m or 1h"):
        parse_every("often")


@pytest.mark.slow
def test_khabar_watch_once_from_the_command_line(tmp_path):
    drop, out = tmp_path / "drop", tmp_path / "index"
    drop.mkdir()
    (drop / "pradesh.atom").write_text(ATOM_HI, encoding="utf-8")
    settled(drop / "pradesh.atom")
    env = {**os.environ, "KHABAR_CONFIG": str(tmp_path / "none.toml")}
    (tmp_path / "none.toml").write_text("", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "bot", "watch", str(drop), "--out", str(out), "--once"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "read 1 new or changed file(s)" in proc.stdout and "draft" in proc.stdout
    assert len(load_index(out).documents) == 1
    bad = subprocess.run([sys.executable, "-m", "bot", "watch", str(drop), "--out", str(out), "--every", "soon"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "30s, 5m or 1h" in bad.stderr and "Traceback" not in bad.stderr
