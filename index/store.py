"""The on-disk index: a folder with a manifest, written atomically and checked on load.

The bot keeps serving while an editor rebuilds, so a build writes into a sibling temporary
folder and only a finished, manifest-stamped folder is renamed into place. A killed build
leaves at worst a stray `.tmp-*` sibling; the previous index is untouched. Loading trusts
nothing: every file is checked against the manifest and a mismatch is named precisely.

What is in the folder, and why (format 2; a million passages in a few GB, loaded in seconds):
- `store.sqlite`: documents, sentences and passages (stdlib sqlite3), read lazily by id, so
  loading never turns the archive into Python objects;
- `passages.npy`: one small int32 row per passage (document row, first sentence, length,
  language, deleted), the columns retrieval touches for every candidate;
- `sentence_vectors.npy`: fp16, memory-mapped;
- `passages.faiss`: the passage vectors (exact fp32 below `hnsw_threshold`, HNSW over fp16
  codes above), memory-mapped; passage vectors are read back from it, not stored twice;
  above `ivfpq_threshold` it is OPQ + IVF-PQ and `passage_vectors.npy` (fp16, memory-mapped)
  holds the exact vectors its candidates are re-scored with;
- `bm25/`: bm25s, memory-mapped.
An incremental update (`index.update`) writes a new generation the same way: copy, change,
swap. Nothing is ever modified in place, so a bot reading the old generation never sees a
half-applied change.
"""
from __future__ import annotations

import contextlib
import ctypes
import fcntl
import functools
import hashlib
import json
import logging
import os
import shlex
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import faiss
import numpy as np

from index import dense
from index.bm25 import BM25
from index.corpus import Document
from index.model_id import MODEL_ID_SCHEME
from index.passages import Passage, Sentence

log = logging.getLogger(__name__)

FORMAT_VERSION = 3
#: Versions this Khabar serves: 3 adds documents.embargo_until to 2 (a format-2 index has no
#: embargoes; an update adds the column and writes format 3). An older Khabar refuses format 3,
#: so it never serves an index whose embargoes it would not check.
READS_VERSIONS = (2, 3)
MANIFEST = "manifest.json"
FILES = {
    "store": "store.sqlite",
    "passages": "passages.npy",
    "sentence_vectors": "sentence_vectors.npy",
    "faiss": "passages.faiss",
    "bm25": "bm25",
}
#: Kept only beside a compressed dense index (`dense.compressed`), for exact re-scoring.
PASSAGE_VECTORS = "passage_vectors.npy"
#: Vectors on disk: half precision halves disk and page cache; cosines move by < 1e-3.
VECTOR_DTYPE = np.float16
#: Columns of passages.npy.
P_DOC, P_FIRST, P_COUNT, P_LANG, P_DELETED = range(5)

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE documents (row INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, title TEXT NOT NULL,
    lang TEXT NOT NULL, date TEXT, url TEXT, source TEXT NOT NULL, text_sha TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0, embargo_until TEXT);
CREATE UNIQUE INDEX documents_live ON documents(doc_id) WHERE deleted = 0;
CREATE TABLE sentences (sid INTEGER PRIMARY KEY, doc_row INTEGER NOT NULL, position INTEGER NOT NULL,
    text TEXT NOT NULL, lang TEXT NOT NULL, embed_hash TEXT NOT NULL);
CREATE TABLE passages (pid INTEGER PRIMARY KEY, doc_row INTEGER NOT NULL, first_sid INTEGER NOT NULL,
    n_sentences INTEGER NOT NULL, lang TEXT NOT NULL, embed_hash TEXT NOT NULL);
CREATE INDEX sentences_doc ON sentences(doc_row);
CREATE INDEX passages_doc ON passages(doc_row);
"""
#: Articles kept as objects once read (a question cites a handful; the cache bounds memory).
DOCUMENT_CACHE = 4096


class IndexLoadError(Exception):
    """The index folder cannot be used; the message says why and what to do."""


def text_sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def corpus_fingerprint(documents: list[Document]) -> str:
    """One digest of the articles (ids and texts), order-free; an update recomputes it from
    the stored per-article digests, so it equals a full build's of the same articles."""
    return fingerprint_of((d.doc_id, text_sha(d.text)) for d in documents)


def fingerprint_of(id_and_sha) -> str:
    h = hashlib.sha256()
    for doc_id, sha in sorted(id_and_sha):
        h.update(doc_id.encode() + b"\x00" + sha.encode() + b"\x01")
    return h.hexdigest()


def sqlite_uri(path: Path, query: str) -> str:
    """A file: URI for sqlite3 that survives '?', '#' and '%' in folder names."""
    return f"{Path(path).resolve().as_uri()}?{query}"


@contextlib.contextmanager
def writer_lock(out: Path):
    """Hold the index folder's writer lock (a sibling `.NAME.lock`, flock) for a whole build or
    update, so two writers never interleave (one would silently drop the other's change)."""
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f".{out.name}.lock", "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("another build or update of %s is running; waiting for it to finish", out)
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class _Reader:
    """One read-only connection to a generation's store.sqlite, opened at load and shared by the
    threads that answer (under a lock; each query takes microseconds). Opened once on purpose:
    after a swap the same path names the next generation, and an Index must keep reading its own.
    `immutable=1`: a generation is never written after its swap, so no file locking is needed."""

    def __init__(self, path: Path):
        self._conn = sqlite3.connect(sqlite_uri(path, "mode=ro&immutable=1"), uri=True, check_same_thread=False)
        self._lock = threading.Lock()

    def all(self, sql: str, args=()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    def one(self, sql: str, args=()) -> tuple | None:
        with self._lock:
            return self._conn.execute(sql, args).fetchone()


class Documents(Mapping):
    """doc_id → Document for the articles being served, read from SQLite on demand."""

    def __init__(self, db: _Reader, count: int):
        self._db, self._count = db, count
        self._get = functools.lru_cache(maxsize=DOCUMENT_CACHE)(self._live)

    def _live(self, doc_id: str) -> Document | None:
        return self._row("doc_id = ? AND deleted = 0", doc_id)

    def _row(self, where: str, arg) -> Document | None:
        row = self._db.one(f"SELECT row, doc_id, title, lang, date, url, source FROM documents WHERE {where}", (arg,))
        if row is None:
            return None
        text = " ".join(t for (t,) in self._db.all("SELECT text FROM sentences WHERE doc_row = ? ORDER BY sid",
                                                     (row[0],)))
        return Document(doc_id=row[1], title=row[2], text=text, lang=row[3], date=row[4], url=row[5], source=row[6])

    def __getitem__(self, doc_id: str) -> Document:
        doc = self._get(doc_id)
        if doc is None:
            raise KeyError(doc_id)
        return doc

    def __contains__(self, doc_id) -> bool:
        return self._db.one("SELECT 1 FROM documents WHERE doc_id = ? AND deleted = 0", (doc_id,)) is not None

    def __iter__(self):
        return iter([d for (d,) in self._db.all("SELECT doc_id FROM documents WHERE deleted = 0 ORDER BY row")])

    def __len__(self) -> int:
        return self._count


class Passages(Sequence):
    """pid → Passage from the int32 table; `langs`, `doc_rows` and `live` as arrays for retrieval."""

    def __init__(self, table: np.ndarray, lang_names: list[str], doc_id_of):
        self.table = table
        self.lang_names = lang_names
        self._doc_id_of = doc_id_of
        self.langs = np.array(lang_names, dtype=object)[table[:, P_LANG]] if len(table) else np.array([], object)
        self.live = table[:, P_DELETED] == 0

    def __getitem__(self, pid):
        if isinstance(pid, slice):
            return [self[i] for i in range(*pid.indices(len(self)))]
        r = self.table[int(pid)]
        return Passage(int(pid), self._doc_id_of(int(r[P_DOC])), int(r[P_FIRST]), int(r[P_COUNT]),
                       self.lang_names[int(r[P_LANG])])

    def __len__(self) -> int:
        return len(self.table)


class Sentences(Sequence):
    """sid → Sentence, read from SQLite on demand."""

    def __init__(self, db: _Reader, count: int, doc_id_of):
        self._db, self._count, self._doc_id_of = db, count, doc_id_of

    def __getitem__(self, sid):
        if isinstance(sid, slice):
            return [self[i] for i in range(*sid.indices(len(self)))]
        sid = int(sid)
        if not 0 <= sid < self._count:
            raise IndexError(sid)
        row = self._db.one("SELECT doc_row, position, text, lang FROM sentences WHERE sid = ?", (sid,))
        return Sentence(sid, self._doc_id_of(row[0]), row[1], row[2], row[3])

    def __len__(self) -> int:
        return self._count


class PassageVectors:
    """The passage vectors, read back from faiss (stored once): `vectors[ids]`, `np.asarray(vectors)`."""

    def __init__(self, faiss_index: faiss.Index):
        self._index = faiss_index

    def __getitem__(self, ids) -> np.ndarray:
        ids = np.atleast_1d(np.asarray(ids, dtype=np.int64))
        return self._index.reconstruct_batch(ids)

    def __array__(self, dtype=None, copy=None):
        out = self._index.reconstruct_n(0, self._index.ntotal)
        return out if dtype is None else out.astype(dtype)

    def __len__(self) -> int:
        return self._index.ntotal

    @property
    def shape(self) -> tuple[int, int]:
        return (self._index.ntotal, self._index.d)


@dataclass
class Index:
    path: Path
    manifest: dict
    documents: Documents
    sentences: Sentences
    passages: Passages
    passage_vectors: "PassageVectors | np.ndarray"
    sentence_vectors: np.ndarray
    faiss_index: faiss.Index
    bm25: BM25
    db: _Reader

    @property
    def model_id(self) -> str:
        return self.manifest["model"]["id"]

    @property
    def build_id(self) -> str:
        return self.manifest["build_id"]

    def hashes(self, kind: str) -> list[str]:
        """Embedding content keys of every passage or sentence (`kind`), in id order."""
        table = {"passage": "passages", "sentence": "sentences"}[kind]
        return [h for (h,) in self.db.all(f"SELECT embed_hash FROM {table} ORDER BY rowid")]

    @property
    def passage_hashes(self) -> list[str]:
        return self.hashes("passage")

    @property
    def sentence_hashes(self) -> list[str]:
        return self.hashes("sentence")


def new_store(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path)
    conn.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;" + SCHEMA)
    return conn


def insert_rows(conn: sqlite3.Connection, *, documents: list[Document], doc_rows: dict[str, int],
                sentences: list[Sentence], passages: list[Passage], sentence_hashes: list[str],
                passage_hashes: list[str]) -> None:
    """Add documents, sentences and passages (ids already final) in the caller's transaction."""
    conn.executemany("INSERT INTO documents (row, doc_id, title, lang, date, url, source, text_sha, embargo_until) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     ((doc_rows[d.doc_id], d.doc_id, d.title, d.lang, d.date, d.url, d.source, text_sha(d.text),
                       d.embargo_until) for d in documents))
    conn.executemany("INSERT INTO sentences VALUES (?, ?, ?, ?, ?, ?)",
                     ((s.sid, doc_rows[s.doc_id], s.position, s.text, s.lang, h)
                      for s, h in zip(sentences, sentence_hashes)))
    conn.executemany("INSERT INTO passages VALUES (?, ?, ?, ?, ?, ?)",
                     ((p.pid, doc_rows[p.doc_id], p.first_sid, p.n_sentences, p.lang, h)
                      for p, h in zip(passages, passage_hashes)))


def has_embargoes_column(conn) -> bool:
    """Whether a store records embargoes (format 3; a format-2 store has none)."""
    rows = conn.all("PRAGMA table_info(documents)") if isinstance(conn, _Reader) else \
        conn.execute("PRAGMA table_info(documents)").fetchall()
    return any(r[1] == "embargo_until" for r in rows)


def upgrade_store(conn: sqlite3.Connection) -> None:
    """Bring a copied format-2 store to format 3 (in the caller's transaction)."""
    if not has_embargoes_column(conn):
        conn.execute("ALTER TABLE documents ADD COLUMN embargo_until TEXT")


def passage_table(passages: list[Passage], doc_rows: dict[str, int], lang_names: list[str]) -> np.ndarray:
    code = {lang: i for i, lang in enumerate(lang_names)}
    table = np.zeros((len(passages), 5), dtype=np.int32)
    for i, p in enumerate(passages):
        table[i] = (doc_rows[p.doc_id], p.first_sid, p.n_sentences, code[p.lang], 0)
    return table


def save_vectors(path: Path, vectors: np.ndarray) -> None:
    np.save(path, np.asarray(vectors).astype(VECTOR_DTYPE, copy=False))


def date_range(dates) -> dict:
    """The archive's dates for the manifest and `khabar stats`: the first and last article date
    (`YYYY-MM-DD`; None when no article is dated) and how many articles are dated and undated (an
    unreadable date counts as undated: the time stage ranks such an article neutrally)."""
    days, undated = [], 0
    for d in dates:
        text = str(d or "")[:10]
        try:
            days.append(datetime.strptime(text, "%Y-%m-%d").date().isoformat())
        except ValueError:
            undated += 1
    return {"first": min(days, default=None), "last": max(days, default=None), "dated": len(days),
            "undated": undated}


def stored_date_range(conn) -> dict:
    """`date_range` of a store's live articles (an update's manifest; an index written before the
    manifest carried it). `conn`: a sqlite3 connection or the store's own `db`."""
    query = "SELECT date FROM documents WHERE deleted = 0"
    rows = conn.all(query) if hasattr(conn, "all") else conn.execute(query).fetchall()
    return date_range(d for (d,) in rows)


def range_line(dates: dict | None) -> str:
    """One line: `2023-09-05 to 2024-03-07 (40 dated, 2 undated)`."""
    if not dates:
        return "dates not recorded (an index built before they were; rebuild to see them)"
    if not dates["dated"]:
        return f"no dated article ({dates['undated']} undated)"
    return f"{dates['first']} to {dates['last']} ({dates['dated']} dated, {dates['undated']} undated)"


def write_index(out: Path, *, documents: list[Document], sentences: list[Sentence], passages: list[Passage],
                passage_vectors: np.ndarray, sentence_vectors: np.ndarray, passage_hashes: list[str],
                sentence_hashes: list[str], faiss_index: faiss.Index, bm25: BM25, model: dict,
                settings: dict, stats: dict) -> Path:
    """Write a whole index into a temporary sibling, then swap it in."""
    doc_rows = {d.doc_id: i for i, d in enumerate(documents)}
    lang_names = sorted({p.lang for p in passages} | {s.lang for s in sentences})

    def fill(tmp: Path) -> None:
        conn = new_store(tmp / FILES["store"])
        with conn:
            insert_rows(conn, documents=documents, doc_rows=doc_rows, sentences=sentences, passages=passages,
                        sentence_hashes=sentence_hashes, passage_hashes=passage_hashes)
        conn.close()
        np.save(tmp / FILES["passages"], passage_table(passages, doc_rows, lang_names))
        save_vectors(tmp / FILES["sentence_vectors"], sentence_vectors)
        if dense.compressed(dense.kind(faiss_index)):
            save_vectors(tmp / PASSAGE_VECTORS, passage_vectors)
        dense.save(faiss_index, tmp / FILES["faiss"])
        bm25.save(tmp / FILES["bm25"])

    manifest = {"model": model, "langs": lang_names,
                "counts": {"documents": len(documents), "sentences": len(sentences), "passages": len(passages)},
                "document_rows": len(documents),
                "corpus_fingerprint": corpus_fingerprint(documents), "faiss": dense.kind(faiss_index),
                "dates": date_range(d.date for d in documents), "settings": settings, "stats": stats}
    return write_generation(out, fill, manifest)


def write_generation(out: Path, fill, manifest: dict) -> Path:
    """Make a temporary sibling of `out`, let `fill(tmp)` write the data files, stamp the
    manifest (last: a folder without one was never finished), fsync, and swap it in."""
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        fill(tmp)
        build_id = f"{time.time_ns():x}"
        conn = sqlite3.connect(tmp / FILES["store"])
        with conn:
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('build_id', ?)", (build_id,))
        conn.close()
        manifest = {"format_version": FORMAT_VERSION, "build_id": build_id,
                    "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    **manifest, "files": sorted(FILES.values())}
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
    if version not in READS_VERSIONS:
        raise IndexLoadError(f"index {path} has format version {version}, this Khabar reads version "
                             f"{FORMAT_VERSION} (and {', '.join(str(v) for v in READS_VERSIONS if v != FORMAT_VERSION)}); "
                             f"rebuild it once: {rebuild_command(path)}")
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
        if (path / "documents.jsonl").is_file() and not (path / FILES["store"]).is_file():  # format 1
            with (path / "documents.jsonl").open(encoding="utf-8") as fh:
                sources = [json.loads(line).get("source") or "" for line in fh if line.strip()]
        else:
            conn = sqlite3.connect(sqlite_uri(path / FILES["store"], "mode=ro"), uri=True)
            try:
                sources = [s or "" for (s,) in conn.execute("SELECT source FROM documents WHERE deleted = 0")]
            finally:
                conn.close()
        folders = {os.path.dirname(_strip_line_number(s)) for s in sources}
        common = os.path.commonpath(sorted(folders)) if folders and "" not in folders else ""
    except (OSError, ValueError, AttributeError, sqlite3.Error):
        return None
    return common if common not in ("", os.sep) else None


def _strip_line_number(source: str) -> str:
    """A JSONL article's source is `file.jsonl:LINE`."""
    head, sep, tail = source.rpartition(":")
    return head if sep and tail.isdigit() else source


def load_index(path: Path, expect_model_id: str | None = None) -> Index:
    """Open an index folder for serving: checks everything against the manifest, reads nothing
    in bulk (text stays in SQLite, vectors and BM25 are memory-mapped)."""
    path = Path(path)
    manifest = read_manifest(path)
    if expect_model_id is not None:
        check_model(path, manifest, expect_model_id)
    compressed = dense.compressed(manifest.get("faiss", ""))
    needed = [*FILES.values(), *([PASSAGE_VECTORS] if compressed else [])]
    missing = [name for name in needed if not (path / name).exists()]
    if missing:
        raise IndexLoadError(f"index {path} is incomplete: missing {', '.join(missing)}. Rebuild it.")
    counts = manifest["counts"]
    try:
        db = _Reader(path / FILES["store"])
        stored_id = db.one("SELECT value FROM meta WHERE key = 'build_id'")
        n_doc_rows, n_docs = db.one("SELECT count(*), sum(deleted = 0) FROM documents")
        n_sent = db.one("SELECT max(sid) + 1 FROM sentences")[0] or 0
        n_pass = db.one("SELECT max(pid) + 1 FROM passages")[0] or 0
        table = np.load(path / FILES["passages"], mmap_mode="r")
        svec = np.load(path / FILES["sentence_vectors"], mmap_mode="r")
        findex = dense.load(path / FILES["faiss"])
        pvec = np.load(path / PASSAGE_VECTORS, mmap_mode="r") if compressed else PassageVectors(findex)
        bm25 = BM25.load(path / FILES["bm25"], mmap=True)
    except Exception as exc:  # noqa: BLE001 - any corrupt file gets the same advice
        raise IndexLoadError(f"index {path} is damaged ({type(exc).__name__}: {exc}); rebuild it.") from None
    problems = []
    if stored_id is None or stored_id[0] != manifest["build_id"]:
        problems.append(f"{FILES['store']} belongs to build {stored_id[0] if stored_id else None}, "
                        f"the manifest to {manifest['build_id']}")
    for what, got in (("documents", n_docs or 0), ("sentences", n_sent), ("passages", n_pass)):
        if got != counts.get(what):
            problems.append(f"{what}: manifest says {counts.get(what)}, found {got}")
    if n_doc_rows != manifest.get("document_rows"):
        problems.append(f"document rows: manifest says {manifest.get('document_rows')}, found {n_doc_rows}")
    dim = manifest["model"]["dim"]
    if svec.shape != (n_sent, dim):
        problems.append(f"sentence vectors: shape {svec.shape}, expected {(n_sent, dim)}")
    if table.shape != (n_pass, 5):
        problems.append(f"passage table: shape {table.shape}, expected {(n_pass, 5)}")
    if findex.ntotal != n_pass or bm25.size != n_pass or findex.d != dim:
        problems.append(f"faiss has {findex.ntotal} and BM25 {bm25.size} passages, expected {n_pass}")
    if pvec.shape != (n_pass, dim):
        problems.append(f"passage vectors: shape {pvec.shape}, expected {(n_pass, dim)}")
    if problems:
        raise IndexLoadError(f"index {path} is inconsistent ({'; '.join(problems)}); rebuild it.")
    table = np.array(table)  # small (20 bytes a passage); every candidate touches it
    doc_id_of = _doc_ids(db)
    return Index(path=path, manifest=manifest, documents=Documents(db, counts["documents"]),
                 sentences=Sentences(db, n_sent, doc_id_of), passages=Passages(table, manifest["langs"], doc_id_of),
                 passage_vectors=pvec, sentence_vectors=svec, faiss_index=findex, bm25=bm25, db=db)


def _doc_ids(db: _Reader):
    """document row → doc_id, remembered (a reply cites a handful of articles)."""
    @functools.lru_cache(maxsize=65536)
    def doc_id_of(row: int) -> str:
        found = db.one("SELECT doc_id FROM documents WHERE row = ?", (int(row),))
        if found is None:
            raise IndexLoadError(f"document row {row} is missing from the store; rebuild the index.")
        return found[0]
    return doc_id_of


def cached_vectors(path: Path, model_id: str) -> dict[str, np.ndarray]:
    """hash → vector from a previous index of the same model, so a rebuild embeds only what changed."""
    try:
        index = load_index(path, expect_model_id=model_id)
    except IndexLoadError:
        return {}
    cache: dict[str, np.ndarray] = {}
    try:
        svec = np.asarray(index.sentence_vectors, dtype=np.float32)
        pvec = np.asarray(index.passage_vectors, dtype=np.float32)
        for hashes, vecs in ((index.hashes("passage"), pvec), (index.hashes("sentence"), svec)):
            if len(hashes) != len(vecs):
                return {}
            cache.update(zip(hashes, vecs))
    except (OSError, ValueError, sqlite3.Error) as exc:
        log.warning("embedding cache in %s unusable (%s); embedding everything", path, exc)
        return {}
    return cache
