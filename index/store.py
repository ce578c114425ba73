"""The on-disk index: a folder with a manifest, written atomically and checked on load.

The bot keeps serving while an editor rebuilds, so a build writes into a sibling temporary
folder and only a finished, manifest-stamped folder is renamed into place. A killed build
leaves at worst a stray `.tmp-*` sibling; the previous index is untouched. Loading trusts
nothing: every file is checked against the manifest and a mismatch is named precisely.
"""
from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import os
import shlex
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import faiss
import numpy as np

from index import dense
from index.bm25 import BM25
from index.corpus import Document
from index.embed import MODEL_ID_SCHEME
from index.passages import Passage, Sentence

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
FILES = {
    "documents": "documents.jsonl",
    "sentences": "sentences.jsonl",
    "passages": "passages.jsonl",
    "passage_vectors": "passage_vectors.npy",
    "sentence_vectors": "sentence_vectors.npy",
    "passage_hashes": "passage_hashes.json",
    "sentence_hashes": "sentence_hashes.json",
    "faiss": "passages.faiss",
    "bm25": "bm25",
}


class IndexLoadError(Exception):
    """The index folder cannot be used; the message says why and what to do."""


@dataclass
class Index:
    path: Path
    manifest: dict
    documents: dict[str, Document]
    sentences: list[Sentence]
    passages: list[Passage]
    passage_vectors: np.ndarray
    sentence_vectors: np.ndarray
    passage_hashes: list[str]
    sentence_hashes: list[str]
    faiss_index: faiss.Index
    bm25: BM25

    @property
    def model_id(self) -> str:
        return self.manifest["model"]["id"]

    @property
    def build_id(self) -> str:
        return self.manifest["build_id"]


def corpus_fingerprint(documents: list[Document]) -> str:
    h = hashlib.sha256()
    for doc in sorted(documents, key=lambda d: d.doc_id):
        h.update(doc.doc_id.encode() + b"\x00" + doc.text.encode() + b"\x01")
    return h.hexdigest()


def _write_jsonl(path: Path, rows) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def write_index(out: Path, *, documents: list[Document], sentences: list[Sentence], passages: list[Passage],
                passage_vectors: np.ndarray, sentence_vectors: np.ndarray, passage_hashes: list[str],
                sentence_hashes: list[str], faiss_index: faiss.Index, bm25: BM25, model: dict,
                settings: dict, stats: dict) -> Path:
    """Write everything into a temporary sibling, then swap it in with renames."""
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        _write_jsonl(tmp / FILES["documents"], (d.to_json() for d in documents))
        _write_jsonl(tmp / FILES["sentences"], (s.to_json() for s in sentences))
        _write_jsonl(tmp / FILES["passages"], (p.to_json() for p in passages))
        np.save(tmp / FILES["passage_vectors"], passage_vectors.astype(np.float32))
        np.save(tmp / FILES["sentence_vectors"], sentence_vectors.astype(np.float32))
        (tmp / FILES["passage_hashes"]).write_text(json.dumps(passage_hashes))
        (tmp / FILES["sentence_hashes"]).write_text(json.dumps(sentence_hashes))
        dense.save(faiss_index, tmp / FILES["faiss"])
        bm25.save(tmp / FILES["bm25"])
        manifest = {
            "format_version": FORMAT_VERSION,
            "build_id": f"{time.time_ns():x}",
            "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "model": model,
            "counts": {"documents": len(documents), "sentences": len(sentences), "passages": len(passages)},
            "corpus_fingerprint": corpus_fingerprint(documents),
            "faiss": dense.kind(faiss_index),
            "settings": settings,
            "stats": stats,
            "files": sorted(FILES.values()),
        }
        # The manifest is written last: a folder without one was never finished.
        (tmp / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        for f in tmp.rglob("*"):
            if f.is_file():
                with f.open("rb") as fh:
                    os.fsync(fh.fileno())
        _swap_in(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


_RENAME_EXCHANGE = 2  # linux/fs.h


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with renameat2(RENAME_EXCHANGE); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd = -100
    return fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _swap_in(tmp: Path, out: Path) -> None:
    """Replace `out` by `tmp` so that `out` is never missing: one atomic exchange where the
    kernel has it (Linux), else move-aside-then-rename with the old folder restored on failure."""
    if not out.exists():
        os.rename(tmp, out)
    elif _exchange(tmp, out):
        shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the previous index
    else:
        old = out.parent / f".{out.name}.old-{time.time_ns():x}"
        os.rename(out, old)
        try:
            os.rename(tmp, out)
        except BaseException:
            os.rename(old, out)
            raise
        shutil.rmtree(old, ignore_errors=True)
    _fsync_dir(out.parent)


def read_manifest(path: Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise IndexLoadError(f"index folder not found: {path}. Build one with "
                             f"`python scripts/build_index.py --corpus DIR --out {path}`.")
    if not path.is_dir():
        raise IndexLoadError(f"{path} is not a folder; an index is a folder made by scripts/build_index.py.")
    mpath = path / MANIFEST
    if not mpath.exists():
        raise IndexLoadError(f"{path} has no {MANIFEST}: it is not a finished Khabar index (a build may have "
                             f"been interrupted). Rebuild it with scripts/build_index.py.")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IndexLoadError(f"{mpath} is not valid JSON ({exc}); rebuild the index.") from None
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise IndexLoadError(f"index {path} has format version {version}, this Khabar reads version "
                             f"{FORMAT_VERSION}; rebuild it with scripts/build_index.py.")
    return manifest


def same_model(recorded_id: str, model_id: str) -> bool:
    """Two ids name the same model when their digests (after the last '@') agree; the label
    before it is only for people, so the same weights in another folder are the same model."""
    return recorded_id.rpartition("@")[2] == model_id.rpartition("@")[2]


def check_model(path: Path, manifest: dict, expect_model_id: str) -> None:
    """Raise IndexLoadError, saying what to do, unless the index was built with `expect_model_id`."""
    model = manifest.get("model") or {}
    if model.get("id_scheme") != MODEL_ID_SCHEME:
        raise IndexLoadError(_old_scheme_message(path, model))
    if not same_model(str(model.get("id")), expect_model_id):
        raise IndexLoadError(
            f"index {path} was built with model '{model.get('id')}' but Khabar is configured for "
            f"'{expect_model_id}'; rebuild the index or set KHABAR_MODEL to the index's model.")


def _old_scheme_message(path: Path, model: dict) -> str:
    scheme = model.get("id_scheme")
    if scheme is None:
        why = (f"was built by an older Khabar, whose model id ('{model.get('id')}') changed with every "
               f"conversion of the model, so it cannot be checked against the model configured now")
    else:
        why = f"records its model id in scheme {scheme!r}, and this Khabar reads scheme {MODEL_ID_SCHEME}"
    return f"index {path} {why}. Rebuild it once: {rebuild_command(path)}"


def rebuild_command(path: Path) -> str:
    """The command that rebuilds `path`, with the folder its articles came from where the
    index says so (else a placeholder to fill in)."""
    corpus = _corpus_folder(path)
    where = shlex.quote(corpus) if corpus else "ARTICLES_DIR"
    command = f"`python scripts/build_index.py --corpus {where} --out {shlex.quote(str(path))}`"
    if corpus:
        return (f"{command} (its articles all came from {corpus}; if it was built from several "
                f"folders, give each its own --corpus).")
    return f"{command}, with ARTICLES_DIR the folder(s) of articles it was built from."


def _corpus_folder(path: Path) -> str | None:
    """The deepest folder holding every indexed article, from the documents' `source` paths."""
    try:
        sources = [row.get("source") or "" for row in _read_jsonl(path / FILES["documents"])]
        folders = {os.path.dirname(_strip_line_number(s)) for s in sources}
        common = os.path.commonpath(sorted(folders)) if folders and "" not in folders else ""
    except (OSError, ValueError, AttributeError):
        return None
    return common if common not in ("", os.sep) else None


def _strip_line_number(source: str) -> str:
    """A JSONL article's source is `file.jsonl:LINE`."""
    head, sep, tail = source.rpartition(":")
    return head if sep and tail.isdigit() else source


def load_index(path: Path, expect_model_id: str | None = None) -> Index:
    path = Path(path)
    manifest = read_manifest(path)
    if expect_model_id is not None:
        check_model(path, manifest, expect_model_id)
    missing = [name for name in FILES.values() if not (path / name).exists()]
    if missing:
        raise IndexLoadError(f"index {path} is incomplete: missing {', '.join(missing)}. Rebuild it.")
    counts = manifest["counts"]
    try:
        docs = [Document(**row) for row in _read_jsonl(path / FILES["documents"])]
        sentences = [Sentence(**row) for row in _read_jsonl(path / FILES["sentences"])]
        passages = [Passage(**row) for row in _read_jsonl(path / FILES["passages"])]
        pvec = np.load(path / FILES["passage_vectors"], mmap_mode="r")
        svec = np.load(path / FILES["sentence_vectors"], mmap_mode="r")
        phash = json.loads((path / FILES["passage_hashes"]).read_text())
        shash = json.loads((path / FILES["sentence_hashes"]).read_text())
        findex = dense.load(path / FILES["faiss"])
        bm25 = BM25.load(path / FILES["bm25"])
    except Exception as exc:  # noqa: BLE001 - any corrupt file gets the same advice
        raise IndexLoadError(f"index {path} is damaged ({type(exc).__name__}: {exc}); rebuild it.") from None
    problems = []
    for what, got in (("documents", len(docs)), ("sentences", len(sentences)), ("passages", len(passages))):
        if got != counts[what]:
            problems.append(f"{what}: manifest says {counts[what]}, found {got}")
    dim = manifest["model"]["dim"]
    for what, arr, n in (("passage vectors", pvec, len(passages)), ("sentence vectors", svec, len(sentences))):
        if arr.shape != (n, dim):
            problems.append(f"{what}: shape {arr.shape}, expected {(n, dim)}")
    if findex.ntotal != len(passages) or bm25.size != len(passages):
        problems.append(f"faiss has {findex.ntotal} and BM25 {bm25.size} passages, expected {len(passages)}")
    if len(phash) != len(passages) or len(shash) != len(sentences):
        problems.append("embedding hash lists do not match the passage/sentence counts")
    if problems:
        raise IndexLoadError(f"index {path} is inconsistent ({'; '.join(problems)}); rebuild it.")
    return Index(path=path, manifest=manifest, documents={d.doc_id: d for d in docs}, sentences=sentences,
                 passages=passages, passage_vectors=pvec, sentence_vectors=svec, passage_hashes=phash,
                 sentence_hashes=shash, faiss_index=findex, bm25=bm25)


def cached_vectors(path: Path, model_id: str) -> dict[str, np.ndarray]:
    """hash → vector from a previous index of the same model, so a rebuild embeds only what changed."""
    try:
        manifest = read_manifest(path)
    except IndexLoadError:
        return {}
    model = manifest.get("model") or {}
    if model.get("id_scheme") != MODEL_ID_SCHEME or not same_model(str(model.get("id")), model_id):
        return {}
    cache: dict[str, np.ndarray] = {}
    try:
        for hname, vname in (("passage_hashes", "passage_vectors"), ("sentence_hashes", "sentence_vectors")):
            hashes = json.loads((path / FILES[hname]).read_text())
            vecs = np.load(path / FILES[vname], mmap_mode="r")
            if len(hashes) != len(vecs):
                return {}
            for i, h in enumerate(hashes):
                cache[h] = vecs[i]
    except (OSError, ValueError) as exc:
        log.warning("embedding cache in %s unusable (%s); embedding everything", path, exc)
        return {}
    return cache
