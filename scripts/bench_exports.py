"""Real exports (issue 20): the figures behind the corpus reader's defaults and choices.

    python scripts/bench_exports.py [--build]

1. What real articles look like (the seeds and the XQuAD en/hi contexts): the margins the junk
   limits in index/config.py leave.
2. How fast junk is skipped: a 3 MB base64 attachment, a hex dump, a table dump, a page saved as .txt.
3. Pages with boilerplate (scripts/eval_sets/exports_pages.json): article paragraphs kept and
   boilerplate snippets left in, for trafilatura alone, trafilatura as index/pages.py runs it,
   and readability-lxml (if installed: pip install readability-lxml).
4. With --build (loads the model): the export set built with and without a 3 MB junk file, and
   its questions (scripts/eval_sets/exports_questions.jsonl) asked through the engine: each fact
   quoted with its date; embargoed, draft and boilerplate text never quoted.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.config import IndexSettings  # noqa: E402
from index.corpus import read_corpus  # noqa: E402
from index.prose import check  # noqa: E402

EXPORTS = ROOT / "scripts" / "eval_sets" / "exports"


def real_texts() -> list[str]:
    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").glob("*.txt"))]
    for lang in ("en", "hi"):
        path = ROOT.parent / "shared" / "eval" / "xquad-dev" / f"xquad.{lang}.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        texts += [p["context"] for a in data["data"] for p in a["paragraphs"]]
    return texts


def margins() -> None:
    texts = real_texts()
    url = re.compile(r"^(?:https?://|www\.)")
    words = [w.strip(".,;:!?\"'()[]“”‘’") for t in texts for w in t.split() if not url.match(w)]
    shares, cells = [], []
    for t in texts:
        for line in t.splitlines():
            s = "".join(line.split())
            if len(s) >= 20:
                letters = sum(1 for c in s if unicodedata.category(c)[0] in "LM")
                shares.append(letters / len(s))
            cells.append(len(re.findall(r"[|\t]|,(?=\S)(?<!\d,(?=\d{3}))", line)))
    settings = IndexSettings()
    flagged = sum(1 for t in texts if check(t, settings).cut or check(t, settings).skip)
    print(f"1. real articles: {len(texts)} texts, {len(words):,} words, {sum(map(len, texts)):,} characters")
    print(f"   longest word {max(map(len, words))} characters (limit {settings.max_word_chars}); lowest letter "
          f"share of a 20+ character line {min(shares):.2f} (limit {settings.min_letter_share}); most cell "
          f"separators in a line {max(cells)} (limit {settings.table_separators}); texts cut or skipped: {flagged}")


def junk_timings() -> None:
    print("2. junk files, read_corpus wall time (each beside one real article):")
    rng = os.urandom
    data = rng(1 << 20)
    cases = {
        "3 MB base64 attachment (.txt, MIME lines)": base64.encodebytes(rng(3 * 1024 * 1024 * 3 // 4)).decode(),
        "3 MB base64, one line": base64.b64encode(rng(3 * 1024 * 1024 * 3 // 4)).decode(),
        "3 MB hex dump (xxd)": "\n".join(f"{i:08x}: " + " ".join(data[i:i + 16][j:j + 2].hex() for j in range(0, 16, 2))
                                         for i in range(0, len(data), 16)),
        "2 MB table dump (CSV of numbers)": "\n".join(",".join(str((i * 7919 + j * 104729) % 99991) for j in range(8))
                                                     for i in range(50_000)),
    }
    for name, text in cases.items():
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "junk.txt").write_text(text, encoding="utf-8")
            (Path(tmp) / "story.txt").write_text("Title\n\nThe government ordered 1,178 accounts blocked.",
                                                 encoding="utf-8")
            started = time.perf_counter()
            corpus = read_corpus(Path(tmp))
            seconds = time.perf_counter() - started
        why = next(s.reason for s in corpus.skipped if s.path.endswith("junk.txt"))
        print(f"   {name}: {seconds * 1000:.0f} ms: {why}")


def extractors() -> None:
    import lxml.html
    import trafilatura

    from index.html_text import html_to_text
    from index.pages import read_page

    truth = json.loads((ROOT / "scripts" / "eval_sets" / "exports_pages.json").read_text(encoding="utf-8"))
    runs = {"trafilatura alone": lambda h, p: trafilatura.extract(h, include_comments=False, include_tables=False),
            "index/pages.py (trafilatura, link lists out)": lambda h, p: read_page(h, p).text}
    try:
        from readability import Document as Readability

        runs["readability-lxml"] = lambda h, p: html_to_text(Readability(h).summary(html_partial=True))
    except ImportError:
        print("   (readability-lxml not installed: pip install readability-lxml to compare it)")
    del lxml
    norm = lambda s: " ".join(s.split())  # noqa: E731
    print(f"3. pages with boilerplate ({len(truth)}: 3 English, 3 Hindi, three layouts):")
    for name, run in runs.items():
        kept = leaked = total_p = total_b = 0
        started = time.perf_counter()
        for t in truth:
            path = EXPORTS / t["file"]
            text = norm(run(path.read_text(encoding="utf-8"), path) or "")
            kept += sum(norm(p) in text for p in t["paragraphs"])
            leaked += sum(norm(b) in text for b in t["boilerplate"])
            total_p += len(t["paragraphs"])
            total_b += len(t["boilerplate"])
        ms = (time.perf_counter() - started) * 1000 / len(truth)
        print(f"   {name}: paragraphs kept {kept}/{total_p}, boilerplate left in {leaked}/{total_b}, {ms:.0f} ms a page")


def build_and_ask() -> None:
    from bot.config import load_settings
    from bot.engine import Engine
    from index.build import build_index
    from index.embed import Embedder

    settings = load_settings(env={k: v for k, v in os.environ.items() if k == "KHABAR_HOME"})
    embedder = Embedder(settings.index)
    with tempfile.TemporaryDirectory() as tmp:
        plain, junk = Path(tmp) / "plain", Path(tmp) / "junk"
        shutil.copytree(EXPORTS, plain)
        shutil.copytree(EXPORTS, junk)
        (junk / "scan-attachment.txt").write_bytes(base64.encodebytes(os.urandom(3 * 1024 * 1024 * 3 // 4)))
        times = {}
        for name, folder in (("without", plain), ("with", junk)):
            best = []
            for _ in range(3):
                out = Path(tmp) / f"index-{name}"
                shutil.rmtree(out, ignore_errors=True)
                started = time.perf_counter()
                summary = build_index([folder], out, settings.index, embedder=embedder, progress=False)
                best.append(time.perf_counter() - started)
            times[name] = min(best)
        print(f"4. build of the export set ({summary.documents} articles; embedding included), best of 3: "
              f"{times['without']:.2f} s without, {times['with']:.2f} s with a 3 MB base64 .txt "
              f"(+{times['with'] - times['without']:.2f} s)")
        print("   " + "\n   ".join(summary.lines()[1:]))
        engine = Engine(settings, Path(tmp) / "index-with", embedder=embedder)
        rows = [json.loads(line) for line in (ROOT / "scripts" / "eval_sets" / "exports_questions.jsonl")
                .read_text(encoding="utf-8").splitlines() if line.strip()]
        facts = [r for r in rows if "quote" in r]
        probes = [r for r in rows if "never" in r]
        never = probes[0]["never"] if probes else []
        right = dated = 0
        leaks = []
        for r in rows:
            result = engine.ask(r["question"])
            quoted = [a.text for a in result.answers] + [t for a in result.answers for t, _ in a.also_in]
            leaks += [(r["question"], n) for n in never if any(n in q for q in quoted)]
            if "quote" in r:
                hit = next((a for a in result.answers if a.citation.doc_id == r["doc_id"] and r["quote"] in a.text), None)
                right += hit is not None
                dated += hit is not None and hit.citation.date == r["date"]
                if hit is None:
                    print(f"   missed: {r['question']} -> {[a.text[:60] for a in result.answers]}")
        print(f"   facts quoted from their article: {right}/{len(facts)}, with their date: {dated}/{len(facts)}; "
              f"embargoed/draft/boilerplate text quoted: {len(leaks)} times over {len(rows)} questions")
        for q, n in leaks:
            print(f"   LEAK: {q!r} quoted {n!r}")
        engine.close()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", action="store_true", help="also build the export set and ask its questions (model)")
    args = p.parse_args()
    margins()
    junk_timings()
    extractors()
    if args.build:
        build_and_ask()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
