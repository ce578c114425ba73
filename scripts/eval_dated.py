"""Time-sensitive questions over an archive of stories that move (issue 21): right first quote, stale figures.

    python scripts/eval_dated.py [--set scripts/eval_sets/dated] [--questions questions.jsonl] [--work .khabar/eval-dated]
                                 [--no-time] [--json OUT]

The set is a corpus folder (`corpus/`: .txt and .jsonl articles dated in the forms exports write,
ISO 8601 with zones, RFC 2822, printed dates, one undated) and `questions.jsonl`, one question a
line: `q`, `kind` (latest / dated / first / control), `lang`, `as_of` (the reference time relative
dates are read against), `expect_docs` (the article whose sentence answers), `expect_text` (what
that sentence says, any of them), `stale` (figures of other reports that would be out of date).

Right first quote: the first answer is a sentence of an expected article and says what is expected
(a refusal is wrong). Stale: the first answer, or a report it cites as the same fact, is from
another article and gives one of the stale figures. Every question is asked through the real
engine (bot/engine.py) with `engine.as_of` set to its reference time, so what is measured is what
`khabar ask --as-of` serves. `--no-time` turns the time stage off (answer.time_aware).
`--questions short.jsonl`: the set's short questions instead, asked as a new user asks them, the
story named by its kind only ("Who won the bypoll?", "Is the strike still on?"), as in issue 21.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import load_settings  # noqa: E402
from bot.engine import Engine  # noqa: E402
from index.build import build_index  # noqa: E402
from index.dates import as_written  # noqa: E402
from index.embed import Embedder  # noqa: E402

DEFAULT_SET = ROOT / "scripts" / "eval_sets" / "dated"


def judge(item: dict, result) -> dict:
    """One question's verdict: right first quote, stale figure, and what was quoted."""
    first = result.answers[0] if result.answers else None
    right = bool(first) and first.citation.doc_id in item["expect_docs"] and \
        any(t in first.text for t in item["expect_text"])
    cited = [(first.text, first.citation)] + list(first.also_in) if first else []
    stale = any(c.doc_id not in item["expect_docs"] and any(s in t for s in item.get("stale", []))
                for t, c in cited)
    earlier = getattr(first, "earlier", None) if first else None
    return {"q": item["q"], "kind": item["kind"], "lang": item["lang"], "right": right, "stale": stale,
            "refused": first is None, "quoted": first.text if first else None,
            "doc": first.citation.doc_id if first else None, "date": first.citation.date if first else None,
            "earlier": {"text": earlier[0], "date": earlier[1].date} if earlier else None}


def index_of(corpus: Path, out: Path, settings, embedder) -> Path:
    """The set's index, built afresh (a few seconds: the corpus is small, and a reader change that
    moves only the articles' dates leaves the corpus fingerprint as it was)."""
    build_index([corpus], out, settings.index, embedder=embedder, progress=False)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", type=Path, default=DEFAULT_SET, help="folder with corpus/ and questions.jsonl")
    ap.add_argument("--questions", default="questions.jsonl", help="the question file in --set (short.jsonl: "
                                                                     "the story named by its kind only)")
    ap.add_argument("--work", type=Path, default=ROOT / ".khabar" / "eval-dated", help="where its index is built")
    ap.add_argument("--no-time", action="store_true", help="the time stage off (answer.time_aware = false)")
    ap.add_argument("--show", action="store_true", help="print every question's verdict")
    ap.add_argument("--json", type=Path, help="also write the figures and verdicts here")
    args = ap.parse_args()

    settings = load_settings()
    if args.no_time:
        if not hasattr(settings.answer, "time_aware"):
            print("this Khabar has no time stage; --no-time changes nothing", file=sys.stderr)
        settings.answer.time_aware = False
    embedder = Embedder(settings.index)
    items = [json.loads(line) for line in (args.set / args.questions).read_text(encoding="utf-8").splitlines()
             if line.strip()]
    engine = Engine(settings, index_of(args.set / "corpus", args.work / "index", settings, embedder), embedder)
    verdicts, seconds = [], []
    for item in items:
        engine.as_of = as_written(item["as_of"]) if item.get("as_of") else None
        t = time.perf_counter()
        result = engine.ask(item["q"])
        seconds.append(time.perf_counter() - t)
        verdicts.append(judge(item, result))
    engine.close()

    by_kind: dict[str, list[dict]] = defaultdict(list)
    for v in verdicts:
        by_kind[v["kind"]].append(v)
        by_kind[f"lang:{v['lang']}"].append(v)
    n = len(verdicts)
    figures = {"questions": n, "right_first_quote": round(sum(v["right"] for v in verdicts) / n, 3),
               "stale": sum(v["stale"] for v in verdicts), "refused": sum(v["refused"] for v in verdicts),
               "with_earlier_line": sum(v["earlier"] is not None for v in verdicts),
               "by_kind": {k: {"n": len(vs), "right": round(sum(v["right"] for v in vs) / len(vs), 3),
                               "stale": sum(v["stale"] for v in vs)} for k, vs in sorted(by_kind.items())},
               "median_ms": round(1000 * sorted(seconds)[n // 2], 1), "time_aware": not args.no_time}
    if args.show:
        for v in verdicts:
            mark = "ok " if v["right"] else "BAD"
            print(f"{mark}{' STALE' if v['stale'] else ''} [{v['kind']}/{v['lang']}] {v['q']}\n"
                  f"      → {v['doc']} ({v['date']}): {v['quoted']}"
                  + (f"\n      earlier: {v['earlier']['text']} ({v['earlier']['date']})" if v["earlier"] else ""))
    print(json.dumps(figures, ensure_ascii=False, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"figures": figures, "verdicts": verdicts}, ensure_ascii=False, indent=1),
                             encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
