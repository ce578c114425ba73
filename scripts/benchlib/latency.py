"""2b. Warm question-to-answer latency of Engine.ask, split by stage, configurations
interleaved; and the fidelity of the synthetic index against the source index."""
from __future__ import annotations

import time
from collections import defaultdict

import numpy as np
from tqdm import tqdm

from benchlib.common import check_answer, stats_ms
from bot.engine import Engine

CONFIGS = (("align2", 2, True), ("align2_cached", 2, False), ("align0", 0, False))
TARGET_MS = {"seeds": 30.0, "synthetic": 100.0}


# 2b. Warm latency

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
