#!/usr/bin/env python
"""Warm question-to-answer latency on the seeds, as the REPL and Slack serve it (token cache prewarmed).

    python scripts/bench_answer.py [--repeats 5] [--json OUT]

Every standalone question of scripts/seeds_questions.jsonl is asked once to warm up, then
`--repeats` times through `Engine.ask` (the real query encoder, retriever, answerer; follow-ups
are left out, they need their session). Reported: p50 and p95 in ms over all asks, and p50 per
kind of question (english, hindi, romanised, cross-only, unanswerable). The script uses only the
engine's public API, so the same file run from an older checkout times that checkout
(BENCHMARKS.md §10 compares two trees back to back, alternated).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import load_settings  # noqa: E402
from bot.runtime import Runtime  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    rows = [json.loads(line) for line in (ROOT / "scripts" / "seeds_questions.jsonl").read_text(encoding="utf-8")
            .splitlines() if line.strip()]
    rows = [r for r in rows if not r.get("session") and r["kind"] != "not-a-question"]
    with Runtime(load_settings(), prewarm=True) as runtime:
        engine = runtime.engine
        for thread in engine._prewarm_threads:  # the REPL and Slack answer with the cache full
            thread.join()
        times: dict[str, list[float]] = defaultdict(list)
        for row in rows:
            engine.ask(row["question"])
        for _ in range(args.repeats):
            for row in rows:
                start = time.perf_counter()
                engine.ask(row["question"])
                times[row["kind"]].append((time.perf_counter() - start) * 1000)
    every = np.concatenate([np.array(v) for v in times.values()])
    report = {"root": str(ROOT), "questions": len(rows), "repeats": args.repeats,
              "p50_ms": round(float(np.percentile(every, 50)), 1), "p95_ms": round(float(np.percentile(every, 95)), 1),
              "p50_ms_by_kind": {k: round(float(np.percentile(v, 50)), 1) for k, v in sorted(times.items())}}
    print(json.dumps(report, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
