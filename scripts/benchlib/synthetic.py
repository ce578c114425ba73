"""2a. The source index (seeds/ and, with --xquad, XQuAD dev) and the synthetic index of N
passages recombined from it: real texts, vectors derived from real ones (scripts/bench.py's
docstring says how)."""
from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from dataclasses import asdict
from pathlib import Path

import numpy as np
from tqdm import tqdm

from benchlib.common import ROOT, log
from bot.config import Settings
from bot.engine import SEEDS_DIR, default_index_dir
from index import dense
from index.bm25 import BM25
from index.build import build_index
from index.corpus import Document
from index.embed import Embedder, manifest_model_info
from index.passages import bm25_text, embed_text, passage_text, segment
from index.store import FORMAT_VERSION, Index, load_index, write_index
from index.text import detect_lang

# Synthetic corpus parameters (part of the reuse key).
SEED = 20210209
NOISE = 0.05  # norm of the Gaussian noise added to a unit vector before renormalising (cosine ≈ 0.999)
EXACT_SHARE = 0.4  # documents copied exactly (their passages keep the real passage embedding)
SWAP_PROB = 0.2  # per body sentence of a recombined document


# 2a. The source index and the synthetic index

def source_index(settings: Settings, embedder: Embedder, work: Path, xquad: Path | None) -> Index:
    folders = [SEEDS_DIR]
    if xquad is not None:
        corpus = work / "corpora" / "xquad"
        corpus.mkdir(parents=True, exist_ok=True)
        data = {lang: json.loads((xquad / f"xquad.{lang}.json").read_text(encoding="utf-8"))["data"]
                for lang in ("en", "hi")}
        # The same ids, titles and texts as scripts/evaluate.py, so its embeddings are reused.
        with (corpus / "xquad.jsonl").open("w", encoding="utf-8") as fh:
            for ai, (art_en, art_hi) in enumerate(zip(data["en"], data["hi"])):
                for pi, (p_en, p_hi) in enumerate(zip(art_en["paragraphs"], art_hi["paragraphs"])):
                    for lang, art, p in (("en", art_en, p_en), ("hi", art_hi, p_hi)):
                        fh.write(json.dumps({"id": f"{lang}-{ai:02d}-{pi:02d}",
                                             "title": art["title"].replace("_", " "),
                                             "text": p["context"], "lang": lang}, ensure_ascii=False) + "\n")
        folders.append(corpus)
    out = work / "source"
    reuse = [default_index_dir()]
    eval_indexes = ROOT / ".khabar" / "eval" / "indexes"
    if eval_indexes.exists():
        reuse += sorted(p for p in eval_indexes.iterdir() if p.is_dir())
    log(f"source index of {', '.join(str(f) for f in folders)} (embeddings reused where cached)")
    summary = build_index(folders, out, settings.index, embedder=embedder, progress=True,
                          reuse_from=[p for p in reuse if p.exists()])
    log(f"source: {summary.documents} documents, {summary.passages} passages, {summary.sentences} sentences; "
        f"{summary.embedded} embedded, {summary.reused} reused, {summary.seconds:.0f} s")
    return load_index(out, expect_model_id=embedder.model_id)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _noisy(base: np.ndarray, rng: np.random.Generator, noise: float, desc: str) -> np.ndarray:
    out = np.empty_like(base, dtype=np.float32)
    dim = base.shape[1]
    step = 50_000
    for start in tqdm(range(0, len(base), step), desc=desc, leave=False):
        chunk = base[start:start + step].astype(np.float32)
        chunk += rng.standard_normal(chunk.shape, dtype=np.float32) * np.float32(noise / np.sqrt(dim))
        out[start:start + step] = _unit(chunk)
    return out


def synthetic_params(n_passages: int, src: Index) -> dict:
    return {"version": 2, "passages": n_passages, "seed": SEED, "noise": NOISE, "exact_share": EXACT_SHARE,
            "swap_prob": SWAP_PROB, "source_fingerprint": src.manifest["corpus_fingerprint"],
            "source_counts": src.manifest["counts"]}


def _decentre(x: np.ndarray, g: np.ndarray, beta: float) -> np.ndarray:
    return _unit(x - np.float32(beta) * g)


def _fit_beta(x: np.ndarray, g: np.ndarray, target: float) -> float:
    """β such that the mean cosine of unit(x - βg) to g is `target` (monotone in β: bisection)."""
    lo, hi = -1.0, 1.0
    for _ in range(50):
        mid = (lo + hi) / 2
        if float(np.mean(_decentre(x, g, mid) @ g)) > target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def make_synthetic(src: Index, n_passages: int, settings: Settings, embedder: Embedder, out: Path,
                   qvecs: np.ndarray, spot_n: int) -> dict:
    started = time.perf_counter()
    rng = np.random.default_rng(SEED)
    S = np.asarray(src.sentence_vectors, dtype=np.float32)
    P = np.asarray(src.passage_vectors, dtype=np.float32)
    by_doc: dict[str, list[int]] = defaultdict(list)
    for s in src.sentences:
        by_doc[s.doc_id].append(s.sid)
    doc_ids = sorted(by_doc)
    sid_of_text: dict[str, int] = {}
    for s in src.sentences:
        sid_of_text.setdefault(s.text, s.sid)
    # Body sentences (not headlines) per language: what a recombined document swaps in.
    pool = {lang: np.array([s.sid for s in src.sentences if s.lang == lang and s.sid != by_doc[s.doc_id][0]])
            for lang in ("en", "hi")}
    real_passage = {(src.documents[p.doc_id].title, tuple(src.sentences[i].text for i in p.sids)): p.pid
                    for p in src.passages}
    mean_of_sentences = _unit(np.stack([S[list(p.sids)].mean(axis=0) for p in src.passages]))
    residuals: dict[str, list[np.ndarray]] = defaultdict(list)
    for p in src.passages:
        residuals[p.doc_id].append(P[p.pid] - mean_of_sentences[p.pid])
    residual = {d: np.mean(r, axis=0) for d, r in residuals.items()}
    per_doc = Counter(p.doc_id for p in src.passages)

    log(f"synthetic: generating documents for {n_passages:,} passages from {len(doc_ids)} source documents")
    docs: list[Document] = []
    src_of_doc: dict[str, str] = {}
    target = n_passages * 1.03 + max(per_doc.values())
    estimate = 0.0
    with tqdm(total=int(target), desc="documents (est. passages)", unit="p", leave=False) as bar:
        while estimate < target:
            d = doc_ids[int(rng.integers(len(doc_ids)))]
            sids = by_doc[d]
            head, body = sids[:1], list(sids[1:])
            if body and rng.random() >= EXACT_SHARE:
                body = body[int(rng.integers(0, min(3, len(body) - 1) + 1)):]
                lang_pool = pool.get(src.sentences[head[0]].lang)
                for j in range(len(body)):
                    if lang_pool is not None and len(lang_pool) and rng.random() < SWAP_PROB:
                        body[j] = int(lang_pool[int(rng.integers(len(lang_pool)))])
            texts = [src.sentences[i].text for i in head + body]
            text = "\n".join(texts)
            src_doc = src.documents[d]
            doc_id = f"syn-{len(docs):06d}"
            docs.append(Document(doc_id=doc_id, title=src_doc.title, text=text, lang=detect_lang(text),
                                 date=src_doc.date, url=None, source=f"synthetic:{d}"))
            src_of_doc[doc_id] = d
            step = per_doc[d] * len(texts) / len(sids)
            estimate += step
            bar.update(int(estimate) - bar.n)

    log("synthetic: segmenting with index.passages.segment")
    sentences, passages = segment(docs, settings.index)
    if len(passages) > n_passages:  # keep whole documents, at most n_passages passages
        cut_doc = passages[n_passages].doc_id
        first_p = next(p.pid for p in passages if p.doc_id == cut_doc)
        first_s = passages[first_p].first_sid
        keep = {p.doc_id for p in passages[:first_p]}
        docs = [d for d in docs if d.doc_id in keep]
        passages, sentences = passages[:first_p], sentences[:first_s]

    log(f"synthetic: vectors for {len(sentences):,} sentences and {len(passages):,} passages")
    unmatched = 0
    src_sid = np.empty(len(sentences), dtype=np.int64)
    for s in sentences:
        i = sid_of_text.get(s.text)
        if i is None:  # re-splitting changed a sentence (not seen on seeds + XQuAD): nearest stand-in
            unmatched += 1
            i = by_doc[src_of_doc[s.doc_id]][min(s.position, len(by_doc[src_of_doc[s.doc_id]])) - 1]
        src_sid[s.sid] = i
    svec = _noisy(S[src_sid], rng, NOISE, "sentence vectors")
    base = np.empty((len(passages), S.shape[1]), dtype=np.float32)
    exact_pids: list[int] = []
    titles = {d.doc_id: d.title for d in docs}
    for p in tqdm(passages, desc="passage vectors", leave=False):
        key = (titles[p.doc_id], tuple(sentences[i].text for i in p.sids))
        pid = real_passage.get(key)
        if pid is not None:
            base[p.pid] = P[pid]
            exact_pids.append(p.pid)
        else:
            base[p.pid] = _unit(S[src_sid[p.first_sid:p.first_sid + p.n_sentences]].mean(axis=0)
                                + residual[src_of_doc[p.doc_id]])
    # Spot check against the truth: embed a sample of the estimated passages for real. Averaging
    # pulls a vector towards the centre of the embedding cone (measured: cosine to the source
    # centroid 0.884 estimated vs 0.872 real), which lifts every question's cosine a little; the
    # first half of the sample fixes how far to push estimates back out (one number, β, chosen on
    # the centroid cosine alone, no question involved), the second half reports the effect.
    estimated = np.array(sorted(set(range(len(passages))) - set(exact_pids)), dtype=np.int64)
    spot: dict = {"n": 0}
    if len(estimated) >= 8 and spot_n >= 8:
        sample = rng.choice(estimated, size=min(spot_n, len(estimated)), replace=False)
        log(f"synthetic: spot check, embedding {len(sample)} estimated passages for real")
        truth = embedder.passages([embed_text(passages[i], sentences, titles[passages[i].doc_id]) for i in sample],
                                  progress=True)
        g = _unit(P.mean(axis=0))
        half = len(sample) // 2
        beta = _fit_beta(base[sample[:half]], g, float(np.mean(truth[:half] @ g)))
        held, held_truth = base[sample[half:]], truth[half:]
        fixed = _decentre(held, g, beta)
        spot = {"n": int(len(sample)), "beta": round(beta, 4),
                "held_out": {
                    "n": int(len(held)),
                    "cos_to_real": {"before": round(float(np.mean(np.sum(held * held_truth, 1))), 4),
                                    "after": round(float(np.mean(np.sum(fixed * held_truth, 1))), 4)},
                    "centroid_cos": {"real": round(float(np.mean(held_truth @ g)), 4),
                                     "before": round(float(np.mean(held @ g)), 4),
                                     "after": round(float(np.mean(fixed @ g)), 4)},
                    "question_cos_bias": {"before": round(float(np.mean(held @ qvecs.T - held_truth @ qvecs.T)), 4),
                                          "after": round(float(np.mean(fixed @ qvecs.T - held_truth @ qvecs.T)), 4)}}}
        base[estimated] = _decentre(base[estimated], g, beta)
    pvec = _noisy(base, rng, NOISE, "passage vectors")
    del base

    log(f"synthetic: BM25 over {len(passages):,} passage texts")
    t = time.perf_counter()
    bm25 = BM25.build([bm25_text(titles[p.doc_id], passage_text(p, sentences)) for p in passages],
                      k1=settings.index.bm25_k1, b=settings.index.bm25_b)
    bm25_s = time.perf_counter() - t
    kind = dense.kind_for(len(passages), settings.index)
    log(f"synthetic: faiss ({kind}) over {len(passages):,} vectors (HNSW: a minute or two on 2 cores)")
    t = time.perf_counter()
    findex = dense.build(pvec, settings.index)
    faiss_s = time.perf_counter() - t
    stats = {"synthetic": synthetic_params(n_passages, src), "exact_passages": len(exact_pids),
             "spot_check": spot,
             "unmatched_sentences": unmatched, "bm25_build_seconds": round(bm25_s, 2),
             "faiss_build_seconds": round(faiss_s, 2), "source": str(src.path), "source_build": src.build_id}
    log("synthetic: writing with index.store.write_index")
    build_settings = {k: v for k, v in asdict(settings.index).items()
                      if k.startswith(("passage_", "hnsw_", "bm25_k", "bm25_b"))}
    t = time.perf_counter()
    write_index(out, documents=docs, sentences=sentences, passages=passages, passage_vectors=pvec,
                sentence_vectors=svec,
                # Not content hashes: no build may ever take these synthetic vectors from its cache.
                passage_hashes=[f"synthetic-p{i}" for i in range(len(passages))],
                sentence_hashes=[f"synthetic-s{i}" for i in range(len(sentences))],
                faiss_index=findex, bm25=bm25, model=manifest_model_info(embedder), settings=build_settings,
                stats={**stats, "seconds": round(time.perf_counter() - started, 2)})
    stats["write_seconds"] = round(time.perf_counter() - t, 2)
    stats["seconds"] = round(time.perf_counter() - started, 2)
    return stats


def synthetic_index(src: Index, n_passages: int, settings: Settings, embedder: Embedder, work: Path,
                    rebuild: bool, qvecs: np.ndarray, spot_n: int) -> tuple[Path, dict]:
    out = work / f"synthetic-{n_passages}"
    params = synthetic_params(n_passages, src)
    if not rebuild:
        try:
            manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
            if (manifest.get("stats", {}).get("synthetic") == params
                    and manifest.get("format_version") == FORMAT_VERSION
                    and manifest["model"]["id"] == embedder.model_id):
                log(f"synthetic: reusing {out} (built {manifest['built_at']}; --rebuild to regenerate)")
                return out, {**manifest["stats"], "reused": True}
        except (OSError, ValueError, KeyError):
            pass
    stats = make_synthetic(src, n_passages, settings, embedder, out, qvecs, spot_n)
    return out, {**stats, "reused": False}
