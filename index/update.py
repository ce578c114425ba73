"""Incremental updates: today's articles added, a retracted or corrected one deleted, no rebuild.

    khabar build --out INDEX --add DIR [--add DIR ...] [--delete DOC_ID ...]

Only the new articles are split and embedded. The update writes the next generation of the
index the way a full build does (`store.write_generation`): the old generation is copied into a
temporary sibling, changed there, stamped and swapped in, so it is transactional (a killed
update leaves the old index serving) and a running bot picks it up at its next reload check.

- Added passages get the next ids; faiss gets their vectors appended (no re-embedding, no
  graph rebuild).
- A deleted article's rows stay in the store marked deleted and its passages are masked out
  of retrieval; their ids never move, so nothing else is rewritten. A full rebuild compacts them.
- An added article whose id is already indexed replaces it (a corrected story).
- BM25 is updated in place from its term counts (`index.bm25.BM25.updated`): only the added
  passages are analysed, and every score is recomputed in one vectorised pass, so N, the idf and
  the mean length are a full build's. An index written before the counts were kept has its BM25
  rebuilt from the stored texts once (BENCHMARKS.md measures both).
"""
from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np

from index import dense
from index.bm25 import BM25
from index.build import build_settings_of, embed_all
from index.config import IndexSettings
from index.corpus import Corpus, Document, Skipped, read_corpus, skipped_lines
from index.embed import Embedder, manifest_model_info
from index.passages import Passage, Sentence, bm25_text, segment
from index.progress import bar as step_bar
from index.store import (FILES, P_DELETED, P_DOC, PASSAGE_VECTORS, Index, IndexLoadError, fingerprint_of,
                         has_embargoes_column, insert_rows, load_index, passage_table, sqlite_uri, stored_date_range,
                         text_sha, upgrade_store, write_generation, writer_lock)

log = logging.getLogger(__name__)

#: Rows of sentence vectors copied per step into the next generation (bounded memory).
COPY_ROWS = 65536


class IndexUpdateError(Exception):
    """The update cannot be applied; the index is unchanged and the message says what to do."""


@dataclass
class UpdateSummary:
    out: Path
    added: list[str]
    replaced: list[str]
    deleted: list[str]
    passages: int
    sentences: int
    embedded: int
    seconds: float
    phases: dict[str, float] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"Index updated in place: {self.out}",
               f"  added {len(self.added)} article(s), replaced {len(self.replaced)}, deleted {len(self.deleted)}"
               + (f", {len(self.unchanged)} already indexed unchanged" if self.unchanged else ""),
               f"  new passages: {self.passages}   new sentences: {self.sentences}   embedded: {self.embedded}",
               f"  time: {self.seconds:.1f} s"]
        return out + [f"  note: {w}" for w in self.warnings] + skipped_lines(self.skipped)


def update_index(path: Path, settings: IndexSettings, embedder: Embedder, add: list[Path] = (),
                 delete: list[str] = (), progress: bool = True, corpus: Corpus | None = None) -> UpdateSummary:
    """Add the articles in the `add` folders or files (or the already read `corpus`) and delete the
    `delete` ids, as one new generation (holding the folder's writer lock from reading the old
    generation to the swap)."""
    with writer_lock(path):
        return _update(path, settings, embedder, add, delete, progress, corpus)


def _update(path: Path, settings: IndexSettings, embedder: Embedder, add, delete, progress,
            corpus: Corpus | None = None) -> UpdateSummary:
    started = time.perf_counter()
    phases: dict[str, float] = {}
    path = Path(path)
    if not add and not delete and corpus is None:
        raise IndexUpdateError("nothing to do: give --add DIR and/or --delete DOC_ID.")
    try:
        old = load_index(path, expect_model_id=embedder.model_id)
    except IndexLoadError as exc:
        raise IndexUpdateError(f"cannot update, the index must load first: {exc}") from None
    _check_settings(old, settings)

    if corpus is None and add:
        corpus = read_corpus([Path(a) for a in add], settings)
    new_docs = corpus.documents if corpus else []
    unknown = [d for d in delete if d not in old.documents]
    if unknown:
        raise IndexUpdateError(f"no article {', '.join(unknown)} in {path}; nothing was changed. "
                               f"`khabar ask --json` shows an answer's doc_id.")
    unchanged = [d.doc_id for d in new_docs if d.doc_id in old.documents and d.doc_id not in delete
                 and _same_article(old, d)]
    new_docs = [d for d in new_docs if d.doc_id not in unchanged]  # re-adding today's folder is a no-op
    replaced = [d.doc_id for d in new_docs if d.doc_id in old.documents]
    gone = sorted(set(delete) | set(replaced))
    gone_rows = [r for (r,) in old.db.all(
        f"SELECT row FROM documents WHERE deleted = 0 AND doc_id IN ({','.join('?' * len(gone))})", gone)] if gone else []

    if not new_docs and not delete:
        return UpdateSummary(out=path, added=[], replaced=[], deleted=[], passages=0, sentences=0, embedded=0,
                             seconds=time.perf_counter() - started, unchanged=unchanged,
                             skipped=corpus.skipped if corpus else [])
    if len(gone_rows) >= len(old.documents) and not new_docs:
        raise IndexUpdateError(f"deleting {len(gone_rows)} article(s) would leave {path} empty; nothing was "
                               f"changed. Build a new index instead.")
    sentences, passages, doc_rows = _numbered(new_docs, old, settings)
    phases["read_and_split"] = time.perf_counter() - started

    t = time.perf_counter()
    cache = _vectors_of_rows(old, gone_rows)
    titles = {d.doc_id: d.title for d in new_docs}
    pvec, phash, svec, shash, embedded = embed_all(embedder, passages, {s.sid: s for s in sentences}, titles,
                                                   settings, cache, progress)
    phases["embed"] = time.perf_counter() - t

    manifest: dict = {}

    def fill(tmp: Path) -> None:
        t0 = time.perf_counter()
        with step_bar(progress, f"writing {path.name}"):
            _copy_store(old, tmp / FILES["store"], new_docs, doc_rows, sentences, passages, shash, phash, gone_rows)
            table = np.array(old.passages.table)
            if gone_rows:
                table[np.isin(table[:, P_DOC], gone_rows), P_DELETED] = 1
            langs = _langs(old, passages, sentences)
            table = np.concatenate([table, passage_table(passages, doc_rows, langs)])
            np.save(tmp / FILES["passages"], table)
            _append_vectors(old.sentence_vectors, svec, tmp / FILES["sentence_vectors"])
            if isinstance(old.passage_vectors, np.ndarray):  # kept beside a compressed dense index
                _append_vectors(old.passage_vectors, pvec, tmp / PASSAGE_VECTORS)
        phases["copy_and_append"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        findex = faiss.read_index(str(old.path / FILES["faiss"]))  # a writable copy; the served one is mapped
        dense.add(findex, pvec, progress=progress)
        dense.save(findex, tmp / FILES["faiss"])
        del findex
        phases["faiss_add"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        was = old.manifest["settings"]  # the index's own BM25 parameters, whatever the settings say now
        k1, b = was.get("bm25_k1", settings.bm25_k1), was.get("bm25_b", settings.bm25_b)
        live = table[:, P_DELETED] == 0
        if old.bm25.counts is not None:  # only the added passages are analysed
            by_sid = {s.sid: s for s in sentences}
            added = [bm25_text(titles[p.doc_id], " ".join(by_sid[i].text for i in p.sids)) for p in passages]
            bm25 = old.bm25.updated(added, live, k1=k1, b=b, progress=progress)
        else:
            log.info("%s keeps no BM25 term counts (written by an older build): BM25 is rebuilt from every "
                     "stored text this once", path)
            bm25 = BM25.build(list(_passage_texts(tmp / FILES["store"], table)), k1=k1, b=b, live=live,
                              progress=progress)
        bm25.save(tmp / FILES["bm25"])
        phases["bm25"] = time.perf_counter() - t0
        live_docs, rows, fingerprint = _counts(tmp / FILES["store"])
        manifest.update({
            "model": manifest_model_info(embedder), "langs": langs,
            "counts": {"documents": live_docs, "sentences": len(old.sentences) + len(sentences),
                       "passages": len(table)},
            "document_rows": rows, "corpus_fingerprint": fingerprint, "faiss": old.manifest["faiss"],
            "dates": _dates(tmp / FILES["store"]), "settings": old.manifest["settings"],
            "stats": {**old.manifest.get("stats", {}),
                      "last_update": {"added": len(new_docs) - len(replaced), "replaced": len(replaced),
                                      "deleted": len(set(delete) - set(replaced)), "embedded": embedded,
                                      "seconds": round(time.perf_counter() - started, 2)}}})

    t = time.perf_counter()
    write_generation(path, fill, manifest)
    phases["write_and_swap"] = time.perf_counter() - t
    return UpdateSummary(out=path, added=[d.doc_id for d in new_docs if d.doc_id not in replaced],
                         replaced=replaced, deleted=sorted(set(delete) - set(replaced)), passages=len(passages),
                         sentences=len(sentences), embedded=embedded, seconds=time.perf_counter() - started,
                         phases={k: round(v, 3) for k, v in phases.items()}, unchanged=unchanged,
                         warnings=_kind_warning(old, len(old.passages) + len(passages), settings),
                         skipped=corpus.skipped if corpus else [])


def _same_article(old: Index, new: Document) -> bool:
    """Whether a re-exported article is what the index holds (then adding it again is a no-op)."""
    embargo = "embargo_until" if has_embargoes_column(old.db) else "NULL"
    stored = old.db.one(f"SELECT text_sha, title, date, url, {embargo} FROM documents WHERE doc_id = ? AND deleted = 0",
                        (new.doc_id,))
    return stored == (text_sha(new.text), new.title, new.date, new.url, new.embargo_until)


def _kind_warning(old: Index, passages: int, settings: IndexSettings) -> list[str]:
    """An update keeps the dense index's kind; say when a full build would choose another."""
    want = dense.kind_for(passages, settings)
    have = old.manifest.get("faiss")
    if want == have:
        return []
    return [f"the index now holds {passages:,} passages: a full build would use a {want} dense index, this one "
            f"stays {have} until you rebuild it"]


def _check_settings(old: Index, settings: IndexSettings) -> None:
    """New passages must be cut like the old ones, or the index would mix two segmentations."""
    now = build_settings_of(settings)
    was = {"sentence_vectors": "separate", **old.manifest.get("settings", {})}
    differ = sorted(k for k in now if k.startswith(("passage_", "sentence_")) and was.get(k) != now[k])
    if differ:
        raise IndexUpdateError(
            f"the index was built with {', '.join(f'{k}={was.get(k)}' for k in differ)} and the settings now say "
            f"{', '.join(f'{k}={now[k]}' for k in differ)}; an update cannot mix the two. Rebuild it in full.")


def _numbered(docs: list[Document], old: Index, settings: IndexSettings
              ) -> tuple[list[Sentence], list[Passage], dict[str, int]]:
    """Split the new articles and give them the ids after the old generation's."""
    sentences, passages = segment(docs, settings)
    s0, p0, r0 = len(old.sentences), len(old.passages), old.manifest["document_rows"]
    doc_rows = {d.doc_id: r0 + i for i, d in enumerate(docs)}
    sentences = [Sentence(s.sid + s0, s.doc_id, s.position, s.text, s.lang) for s in sentences]
    passages = [Passage(p.pid + p0, p.doc_id, p.first_sid + s0, p.n_sentences, p.lang) for p in passages]
    return sentences, passages, doc_rows


def _vectors_of_rows(old: Index, rows: list[int]) -> dict[str, np.ndarray]:
    """Embeddings of the articles being replaced: a corrected story re-embeds only what changed."""
    if not rows:
        return {}
    marks = ",".join("?" * len(rows))
    cache = {}
    sids = old.db.all(f"SELECT sid, embed_hash FROM sentences WHERE doc_row IN ({marks})", rows)
    for sid, h in sids:
        cache[h] = np.asarray(old.sentence_vectors[sid], dtype=np.float32)
    pids = old.db.all(f"SELECT pid, embed_hash FROM passages WHERE doc_row IN ({marks})", rows)
    if pids:
        vecs = old.passage_vectors[[p for p, _ in pids]]
        cache.update({h: v for (_, h), v in zip(pids, vecs)})
    return cache


def _langs(old: Index, passages: list[Passage], sentences: list[Sentence]) -> list[str]:
    """Language codes only ever grow, so old passages keep theirs."""
    langs = list(old.passages.lang_names)
    langs += sorted({p.lang for p in passages} | {s.lang for s in sentences} - set(langs))
    return langs


def _copy_store(old: Index, dest: Path, docs, doc_rows, sentences, passages, shash, phash, gone_rows) -> None:
    source = sqlite3.connect(sqlite_uri(old.path / FILES["store"], "mode=ro"), uri=True)
    conn = sqlite3.connect(dest)
    try:
        source.backup(conn)
        with conn:  # one transaction: the copy gets all of the change or none of it
            upgrade_store(conn)  # a format-2 index gains the embargo column (and is written as format 3)
            conn.execute("DELETE FROM meta WHERE key = 'build_id'")
            if gone_rows:
                conn.execute(f"UPDATE documents SET deleted = 1 WHERE row IN ({','.join('?' * len(gone_rows))})",
                             gone_rows)
            insert_rows(conn, documents=docs, doc_rows=doc_rows, sentences=sentences, passages=passages,
                        sentence_hashes=shash, passage_hashes=phash)
    finally:
        conn.close()
        source.close()


def _append_vectors(old: np.ndarray, new: np.ndarray, dest: Path) -> None:
    out = np.lib.format.open_memmap(dest, mode="w+", dtype=old.dtype, shape=(len(old) + len(new), old.shape[1]))
    for start in range(0, len(old), COPY_ROWS):
        end = min(start + COPY_ROWS, len(old))
        out[start:end] = old[start:end]
    out[len(old):] = new.astype(old.dtype)
    out.flush()
    del out


def _passage_texts(store: Path, table: np.ndarray):
    """What BM25 indexes for every passage (headline + text; "" for deleted ones, left out), in pid order."""
    conn = sqlite3.connect(store)
    try:
        titles = dict(conn.execute("SELECT row, title FROM documents"))
        texts = [t for (t,) in conn.execute("SELECT text FROM sentences ORDER BY sid")]
    finally:
        conn.close()
    for doc_row, first, n, _lang, deleted in table:
        yield "" if deleted else bm25_text(titles[int(doc_row)], " ".join(texts[first:first + n]))


def _dates(store: Path) -> dict:
    """The live articles' date range (index/store.py `date_range`), after the update."""
    conn = sqlite3.connect(store)
    try:
        return stored_date_range(conn)
    finally:
        conn.close()


def _counts(store: Path) -> tuple[int, int, str]:
    """(live articles, document rows, corpus fingerprint of the live articles)."""
    conn = sqlite3.connect(store)
    try:
        rows = conn.execute("SELECT count(*) FROM documents").fetchone()[0]
        live = conn.execute("SELECT doc_id, text_sha FROM documents WHERE deleted = 0").fetchall()
    finally:
        conn.close()
    return len(live), rows, fingerprint_of(live)
