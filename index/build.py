"""Corpus folders → a finished on-disk index (the work behind scripts/build_index.py)."""
from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from index import dense
from index.bm25 import BM25
from index.config import IndexSettings
from index.corpus import Skipped, read_corpus, skipped_lines
from index.embed import Embedder, manifest_model_info, text_hash
from index.passages import Passage, bm25_text, embed_text, passage_text, segment
from index.progress import bar as step_bar
from index.store import cached_vectors, write_index, writer_lock

log = logging.getLogger(__name__)

#: Texts embedded per progress-bar step; small enough for a live bar, large enough to batch well.
EMBED_CHUNK = 256


@dataclass
class BuildSummary:
    out: Path
    documents: int
    passages: int
    sentences: int
    embedded: int
    reused: int
    seconds: float
    skipped: list[Skipped] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"Index written to {self.out}",
               f"  documents: {self.documents}   passages: {self.passages}   sentences: {self.sentences}",
               f"  embeddings: {self.embedded} computed, {self.reused} reused (from the previous index, or a text repeated)",
               f"  time: {self.seconds:.1f} s"]
        return out + skipped_lines(self.skipped)


def embed_with_cache(embedder: Embedder, texts: list[str], cache: dict[str, np.ndarray],
                      bar: tqdm | None) -> tuple[np.ndarray, list[str], int]:
    """Vectors of `texts`: those `cache` has (by content key) are taken, and each other distinct text
    is embedded once, however often it repeats (wire copy, a story republished verbatim). Returns
    the vectors, their keys and how many texts were embedded."""
    prompt = embedder.passage_prompt_text
    hashes = [text_hash(prompt, t) for t in texts]
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    rows_of: dict[str, list[int]] = {}  # a text not cached → every row that holds it
    for i, h in enumerate(hashes):
        if h in cache:
            out[i] = cache[h]
        else:
            rows_of.setdefault(h, []).append(i)
    groups = list(rows_of.values())
    if bar is not None:
        bar.update(len(texts) - sum(len(g) for g in groups))
    step = getattr(embedder, "chunk", EMBED_CHUNK)  # a cluster embedder takes everything in one job
    for start in range(0, len(groups), step):
        chunk = groups[start:start + step]
        vectors = embedder.passages([texts[rows[0]] for rows in chunk])
        for rows, vector in zip(chunk, vectors):
            out[rows] = vector
        if bar is not None:
            bar.update(sum(len(rows) for rows in chunk))
    return out, hashes, len(groups)


def embed_all(embedder: Embedder, passages: list[Passage], sentences, titles: dict[str, str],
              settings: IndexSettings, cache: dict[str, np.ndarray], progress: bool
              ) -> tuple[np.ndarray, list[str], np.ndarray, list[str], int]:
    """Passage and sentence vectors (and their content keys) for `passages` and the sentences
    they hold (`sentences`: sid → Sentence), taking what `cache` has; returns how many texts were
    embedded. `settings.sentence_vectors` says whether sentences get a pass of their own."""
    p_texts = [embed_text(p, sentences, titles[p.doc_id]) for p in passages]
    own = sorted({sid for p in passages for sid in p.sids})
    if settings.sentence_vectors == "separate":
        s_texts = [sentences[sid].text for sid in own]
        with tqdm(total=len(p_texts) + len(s_texts), desc="embedding", unit="text", disable=not progress,
                  leave=False) as bar:
            pvec, phash, p_new = embed_with_cache(embedder, p_texts, cache, bar)
            svec, shash, s_new = embed_with_cache(embedder, s_texts, cache, bar)
        return pvec, phash, svec, shash, p_new + s_new
    if settings.sentence_vectors != "passage":
        raise ValueError(f"sentence_vectors must be 'separate' or 'passage', not {settings.sentence_vectors!r}")
    return _embed_one_pass(embedder, passages, sentences, p_texts, own, cache, progress)


def _embed_one_pass(embedder, passages, sentences, p_texts, own, cache, progress):
    """Each sentence's vector is the mean of its tokens in the first passage holding it."""
    prompt = embedder.passage_prompt_text
    phash = [text_hash(prompt, t) for t in p_texts]
    row_of = {sid: i for i, sid in enumerate(own)}
    shash: list[str | None] = [None] * len(own)
    spans: list[list[tuple[int, int]]] = []
    owned: list[list[int]] = []
    for p, text in zip(passages, p_texts):
        pos = len(text) - len(" ".join(sentences[sid].text for sid in p.sids))  # after "title\n", if any
        mine, cuts = [], []
        for k, sid in enumerate(p.sids):
            n = len(sentences[sid].text)
            if shash[row_of[sid]] is None:
                shash[row_of[sid]] = text_hash(prompt + "\x00in-passage", f"{text}\x00{k}")
                mine.append(row_of[sid])
                cuts.append((pos, pos + n))
            pos += n + 1
        owned.append(mine)
        spans.append(cuts)
    pvec = np.zeros((len(passages), embedder.dim), np.float32)
    svec = np.zeros((len(own), embedder.dim), np.float32)
    todo = []
    for i, h in enumerate(phash):
        if h in cache and all(shash[r] in cache for r in owned[i]):
            pvec[i] = cache[h]
            for r in owned[i]:
                svec[r] = cache[shash[r]]
        else:
            todo.append(i)
    with tqdm(total=len(passages), desc="embedding", unit="passage", disable=not progress, leave=False) as bar:
        bar.update(len(passages) - len(todo))
        for start in range(0, len(todo), EMBED_CHUNK):
            chunk = todo[start:start + EMBED_CHUNK]
            pooled, spanned = embedder.passages_and_spans([p_texts[i] for i in chunk], [spans[i] for i in chunk])
            for j, i in enumerate(chunk):
                pvec[i] = pooled[j]
                for r, v in zip(owned[i], spanned[j]):
                    svec[r] = v
            bar.update(len(chunk))
    missing = [r for r in range(len(own)) if not np.any(svec[r])]  # a span cut off at max_seq_length
    if missing:
        svec[missing] = embedder.passages([sentences[own[r]].text for r in missing])
    return pvec, phash, svec, shash, len(todo) + sum(len(owned[i]) for i in todo)


def build_settings_of(settings: IndexSettings) -> dict:
    """The settings that shape an index (recorded in its manifest; an update must match them)."""
    return {k: v for k, v in asdict(settings).items()
            if k.startswith(("passage_", "hnsw_", "bm25_k", "bm25_b")) or k == "sentence_vectors"}


def build_index(corpus_dirs: list[Path], out: Path, settings: IndexSettings, embedder: Embedder | None = None,
                progress: bool = True, reuse_from: list[Path] = ()) -> BuildSummary:
    """Build `out` from the corpus folders; embeddings already in `out` (or `reuse_from`) are reused."""
    with writer_lock(out):
        return _build(corpus_dirs, out, settings, embedder, progress, reuse_from)


def _build(corpus_dirs, out, settings, embedder, progress, reuse_from) -> BuildSummary:
    started = time.perf_counter()
    corpus = read_corpus(corpus_dirs, settings)
    docs = corpus.documents
    sentences, passages = segment(docs, settings)
    titles = {d.doc_id: d.title for d in docs}
    embedder = embedder or Embedder(settings)
    cache: dict[str, np.ndarray] = {}
    for folder in [*reuse_from, Path(out)]:
        cache.update(cached_vectors(Path(folder), embedder.model_id))

    pvec, phash, svec, shash, embedded = embed_all(embedder, passages, sentences, titles, settings, cache, progress)
    total = len(passages) + len(sentences)

    bm25 = BM25.build([bm25_text(titles[p.doc_id], passage_text(p, sentences)) for p in passages],
                      k1=settings.bm25_k1, b=settings.bm25_b, progress=progress)
    findex = dense.build(pvec, settings, progress=progress)
    seconds = time.perf_counter() - started
    build_settings = build_settings_of(settings)
    with step_bar(progress, f"writing {Path(out).name}"):
        write_index(out, documents=docs, sentences=sentences, passages=passages, passage_vectors=pvec,
                    sentence_vectors=svec, passage_hashes=phash, sentence_hashes=shash, faiss_index=findex,
                    bm25=bm25, model=manifest_model_info(embedder), settings=build_settings,
                    stats={"seconds": round(seconds, 2), "embedded": embedded, "reused": total - embedded,
                           "skipped": [asdict(s) for s in corpus.skipped]})
    return BuildSummary(out=Path(out), documents=len(docs), passages=len(passages), sentences=len(sentences),
                        embedded=embedded, reused=total - embedded,
                        seconds=time.perf_counter() - started, skipped=corpus.skipped)
