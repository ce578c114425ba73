"""dateparser against bot/when.py on the time forms of issue 21: which reads what, and how fast.

    python scripts/bench_when.py [--repeats 200]

Each form is asked as a question against one reference day (Sunday 2024-03-10). `dateparser.parse`
gets the bare expression (the best case: something else found it); `search_dates` gets the whole
question (what it would take to find expressions with dateparser alone); bot/when.py's `parse` gets
the question. A reading is right when its days are the expected ones (a month or year: its first
day for dateparser, which returns one instant). Then the cost per question of `when.parse` on the
seeds questions, most of which name no time.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.when import parse  # noqa: E402

NOW = datetime(2024, 3, 10, 12, 0)
#: (question, the expression in it, expected first day, expected last day or None, intent)
FORMS = [
    ("What was the death toll on March 4, 2024?", "March 4, 2024", date(2024, 3, 4), None, None),
    ("4 मार्च 2024 को कितने लोग मारे गए?", "4 मार्च 2024", date(2024, 3, 4), None, None),
    ("2021 में उपचुनाव किसने जीता?", "2021", date(2021, 1, 1), date(2021, 12, 31), None),
    ("What was the onion price at the end of October 2023?", "end of October 2023", date(2023, 10, 22),
     date(2023, 10, 31), None),
    ("Who won the bypoll in 2019?", "2019", date(2019, 1, 1), date(2019, 12, 31), None),
    ("What happened last week?", "last week", date(2024, 2, 26), date(2024, 3, 3), None),
    ("पिछले हफ्ते प्याज़ का दाम क्या था?", "पिछले हफ्ते", date(2024, 2, 26), date(2024, 3, 3), None),
    ("How many died yesterday?", "yesterday", date(2024, 3, 9), None, None),
    ("कल कितने लोग मरे?", "कल", date(2024, 3, 9), None, None),
    ("कल मतगणना कब होगी?", "कल", date(2024, 3, 11), None, None),
    ("परसों क्या हुआ?", "परसों", date(2024, 3, 8), None, None),
    ("How many cases 3 days ago?", "3 days ago", date(2024, 3, 7), None, None),
    ("What is the latest death toll?", "", None, None, "latest"),
    ("अब तक कितने लोगों की मौत हुई है?", "", None, None, "latest"),
    ("Who was initially reported as the winner?", "", None, None, "first"),
    ("शुरुआत में कितने लोग फंसे थे?", "", None, None, "first"),
]


def _dp_day(d):
    return d.date() if d is not None else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=200, help="timing repeats over the seeds questions")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    import dateparser
    from dateparser.search import search_dates

    settings = {"RELATIVE_BASE": NOW, "PREFER_DATES_FROM": "past"}
    rows, right = [], {"dateparser.parse": 0, "search_dates": 0, "when.parse": 0}
    for q, expr, start, end, intent in FORMS:
        if expr:
            dp = _dp_day(dateparser.parse(expr, languages=["en", "hi"], settings=settings))
            found = search_dates(q, languages=["en", "hi"], settings=settings) or []
            sd = _dp_day(found[0][1]) if found else None
            ok_dp, ok_sd = dp == start, sd == start
        else:
            dp = sd = None
            ok_dp = ok_sd = False  # dateparser reads no intents
        w = parse(q, NOW)
        ok_w = (w.start == start and (w.end == (end or start) if start else True) and w.intent == intent)
        right["dateparser.parse"] += ok_dp
        right["search_dates"] += ok_sd
        right["when.parse"] += ok_w
        rows.append((q, str(dp), str(sd), f"{w.start}..{w.end} {w.intent or ''}".strip(), ok_dp, ok_sd, ok_w))
    for q, dp, sd, w, a, b, c in rows:
        print(f"{'+' if a else '-'}{'+' if b else '-'}{'+' if c else '-'}  {q}\n      parse: {dp}  search: {sd}  "
              f"when: {w}")
    seeds = [json.loads(line)["question"] for line in
             (ROOT / "scripts" / "seeds_questions.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    parse(seeds[0], NOW)  # dateparser's lazy load is a first question's cost, not every question's
    t = time.perf_counter()
    for _ in range(args.repeats):
        for q in seeds:
            parse(q, NOW)
    per_q = (time.perf_counter() - t) / (args.repeats * len(seeds)) * 1000
    t = time.perf_counter()
    for q in seeds:
        search_dates(q, languages=["en", "hi"], settings=settings)
    per_sd = (time.perf_counter() - t) / len(seeds) * 1000
    print(json.dumps({"forms": len(FORMS), "right": right, "when_parse_ms_per_seed_question": round(per_q, 3),
                      "search_dates_ms_per_seed_question": round(per_sd, 2),
                      "seeds_questions": len(seeds)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
