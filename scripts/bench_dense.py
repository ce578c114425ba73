"""Dense search alone at archive scale: HNSW over fp16 codes against (OPQ +) IVF-PQ with exact
re-scoring from memory-mapped fp16 vectors, both measured against exact search.

    python scripts/bench_dense.py --index .khabar/bench/synthetic-1000000 \
        [--xquad ../shared/eval/xquad-dev] [--queries 500] [--json OUT]

The vectors are the index's passage vectors (read back from its faiss file). Queries are real
questions embedded by the configured model: the seeds question set, and XQuAD dev questions with
--xquad. Ground truth is exact inner-product search over the same vectors (faiss IndexFlatIP).
For each configuration: recall@10 (the share of the exact top 10 found in the top 10 after
re-scoring), p50/p95 ms per single query (search + re-scoring, one query at a time as the bot
asks), the bytes it keeps in memory and the training/adding time. Results go to BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import load_settings  # noqa: E402
from index.embed import Embedder  # noqa: E402
from index.store import load_index  # noqa: E402

K = 10
QUERIES = VECTORS = TENTH = None  # set in main: what score_recall compares with


def log(msg: str) -> None:
    print(f"[bench_dense {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def questions(xquad: Path | None, limit: int) -> list[str]:
    out = [json.loads(line)["question"] for line in (ROOT / "scripts" / "seeds_questions.jsonl").read_text(
        encoding="utf-8").splitlines() if line.strip()]
    if xquad is not None:
        for lang in ("en", "hi"):
            data = json.loads((xquad / f"xquad.{lang}.json").read_text(encoding="utf-8"))["data"]
            out += [q["question"] for art in data for p in art["paragraphs"] for q in p["qas"]]
    rng = np.random.default_rng(7)
    return [out[i] for i in sorted(rng.choice(len(out), size=min(limit, len(out)), replace=False))]


def timed_search(search, queries: np.ndarray) -> tuple[np.ndarray, list[float]]:
    ids, ms = np.full((len(queries), K), -1, np.int64), []
    for i, q in enumerate(queries):
        t = time.perf_counter()
        ids[i] = search(q)
        ms.append((time.perf_counter() - t) * 1e3)
    return ids, ms


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth)]))


#: A found passage counts for `score_recall` when its exact cosine is within this of the 10th best.
TIE = 1e-3


def score_recall(found: np.ndarray, queries: np.ndarray, vectors: np.ndarray, tenth: np.ndarray) -> float:
    """Share of the top 10 found whose exact cosine reaches the exact 10th best (less TIE): ids
    alone undercount where many passages tie (the synthetic corpus repeats each source passage
    with noise, so a question's exact top 10 is 10 of hundreds of near-copies)."""
    hits = [np.sum(vectors[f[f >= 0]] @ q >= t - TIE) / K for f, q, t in zip(found, queries, tenth)]
    return float(np.mean(hits))


def summary(name: str, found, ms, truth, memory_bytes: int, build_s: float, **params) -> dict:
    row = {"name": name, **params, "recall_at_10": round(recall(found, truth), 4),
           "score_recall_at_10": round(score_recall(found, QUERIES, VECTORS, TENTH), 4),
           "p50_ms": round(float(np.percentile(ms, 50)), 3), "p95_ms": round(float(np.percentile(ms, 95)), 3),
           "memory_mb": round(memory_bytes / 2**20, 1), "build_s": round(build_s, 1)}
    log(f"{name} {params}: recall@10 {row['recall_at_10']} (score {row['score_recall_at_10']}), p50 {row['p50_ms']} ms, p95 {row['p95_ms']} ms, "
        f"memory {row['memory_mb']} MB, build {row['build_s']} s")
    return row


def rescored(index: faiss.Index, vectors16: np.ndarray, fetch: int):
    """Search `fetch` candidates in the compressed index, re-score them exactly from fp16 rows."""
    def search(q: np.ndarray) -> np.ndarray:
        _, ids = index.search(q.reshape(1, -1), fetch)
        ids = ids[0][ids[0] >= 0]
        exact = np.asarray(vectors16[np.sort(ids)], dtype=np.float32) @ q
        return np.sort(ids)[np.argsort(-exact)[:K]]
    return search


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", type=Path, required=True, help="an index folder (the bench's synthetic one)")
    ap.add_argument("--xquad", type=Path, help="XQuAD dev folder: its questions are queries too")
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--nlist", type=int, nargs="*", default=None, help="IVF lists (default 2·√n, as index.dense)")
    ap.add_argument("--nprobe", type=int, nargs="*", default=[16, 32, 64])
    ap.add_argument("--fetch", type=int, nargs="*", default=[100, 200])
    ap.add_argument("--pq", type=int, nargs="*", default=[48, 96], help="PQ sub-quantisers (bytes a vector)")
    ap.add_argument("--opq", choices=("no", "yes", "both"), default="both", help="rotate before PQ")
    ap.add_argument("--no-hnsw", action="store_true", help="skip the served HNSW index's rows")
    ap.add_argument("--train-threads", type=int, default=2, help="faiss threads for training and adding")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    faiss.omp_set_num_threads(1)  # one query at a time on one thread, as the bot serves

    settings = load_settings()
    index = load_index(args.index)
    n = index.faiss_index.ntotal
    log(f"{args.index}: {n:,} passages ({index.manifest['faiss']}); reading the vectors back")
    vectors = np.ascontiguousarray(np.asarray(index.passage_vectors, dtype=np.float32))
    vectors16 = vectors.astype(np.float16)
    texts = questions(args.xquad, args.queries)
    embedder = Embedder(settings.index)
    queries = np.ascontiguousarray(embedder.queries(texts), dtype=np.float32)
    log(f"{len(queries)} queries embedded; exact ground truth")
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    faiss.omp_set_num_threads(args.train_threads)
    top_scores, truth = flat.search(queries, K)
    global QUERIES, VECTORS, TENTH
    QUERIES, VECTORS, TENTH = queries, vectors, top_scores[:, -1]
    faiss.omp_set_num_threads(1)
    rows = []
    found, ms = timed_search(lambda q: flat.search(q.reshape(1, -1), K)[1][0], queries)
    rows.append(summary("exact (IndexFlatIP, fp32)", found, ms, truth, vectors.nbytes, 0.0))
    del flat

    served = index.faiss_index
    if isinstance(served, faiss.IndexHNSW) and not args.no_hnsw:
        for ef in (64, 128, 256):
            served.hnsw.efSearch = ef
            found, ms = timed_search(lambda q: served.search(q.reshape(1, -1), K)[1][0], queries)
            rows.append(summary("HNSW32 over fp16 codes (served today)", found, ms, truth,
                                (args.index / "passages.faiss").stat().st_size, 0.0, ef_search=ef))

    faiss.omp_set_num_threads(args.train_threads)
    nlists = args.nlist or [int(2 * np.sqrt(n))]
    rng = np.random.default_rng(11)
    for nlist in nlists:
        for m in args.pq:
            for opq in {"no": (False,), "yes": (True,), "both": (False, True)}[args.opq]:
                spec = f"{'OPQ%d,' % m if opq else ''}IVF{nlist},PQ{m}x8"
                train = vectors[rng.choice(n, size=min(n, max(40 * nlist, 100_000)), replace=False)]
                t = time.perf_counter()
                ivf = faiss.index_factory(vectors.shape[1], spec, faiss.METRIC_INNER_PRODUCT)
                ivf.train(train)
                ivf.add(vectors)
                build_s = time.perf_counter() - t
                path = Path("/tmp") / f"bench_dense_{nlist}_{m}_{int(opq)}.faiss"
                faiss.write_index(ivf, str(path))
                size = path.stat().st_size
                path.unlink()
                ivf_only = faiss.extract_index_ivf(ivf)
                faiss.omp_set_num_threads(1)
                for nprobe in args.nprobe:
                    ivf_only.nprobe = nprobe
                    for fetch in args.fetch:
                        found, ms = timed_search(rescored(ivf, vectors16, fetch), queries)
                        rows.append(summary(spec + " + exact re-score from fp16", found, ms, truth, size, build_s,
                                            nprobe=nprobe, fetch=fetch))
                faiss.omp_set_num_threads(args.train_threads)
                del ivf
    report = {"index": str(args.index), "passages": n, "queries": len(queries), "k": K,
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "command": " ".join(["python", *sys.argv]), "rows": rows}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
