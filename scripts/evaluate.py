"""Retrieval and answer quality on XQuAD (English/Hindi, parallel) and on the seeds question set.

    python scripts/evaluate.py --xquad ../shared/eval/xquad-dev [--work DIR] [--seeds-only] [--json OUT]

XQuAD: one document per paragraph and language. Settings: en→en, hi→hi, en→hi, hi→en and
mixed (both languages in the corpus and in the questions; either language's copy of the
gold paragraph counts). For BM25 only, dense only and the hybrid: paragraph P@1; for the
hybrid + answerer: answer-sentence accuracy (the top sentence contains the gold answer in
that sentence's language) and the abstention rates (answerable questions wrongly refused;
the same questions with their whole article removed from consideration, rightly refused).

Seeds: the question set in scripts/seeds_questions.jsonl, asked through the real engine
(sessions for follow-ups), checked against what each answer must contain or whether it
must abstain. The embedding cache lives in --work, so re-runs after a retrieval change are fast.
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

from bot.answer import Answerer  # noqa: E402
from bot.config import Settings, load_settings  # noqa: E402
from index.build import build_index  # noqa: E402
from index.embed import Embedder  # noqa: E402
from index.retrieve import Retriever  # noqa: E402
from index.store import load_index  # noqa: E402
from index.text import nfc, normalize_digits  # noqa: E402

SEED_QUESTIONS = ROOT / "scripts" / "seeds_questions.jsonl"
SETTINGS = {"en→en": ("en", ["en"]), "hi→hi": ("hi", ["hi"]), "en→hi": ("en", ["hi"]),
            "hi→en": ("hi", ["en"]), "mixed": (None, ["en", "hi"])}


def _norm(text: str) -> str:
    return " ".join(normalize_digits(nfc(text)).lower().split())


def load_xquad(folder: Path) -> dict:
    """Paragraphs and questions of both languages, keyed so the parallel copies line up."""
    data = {}
    for lang in ("en", "hi"):
        path = folder / f"xquad.{lang}.json"
        if not path.exists():
            raise SystemExit(f"evaluate: {path} not found; --xquad must be the folder with xquad.en.json "
                             f"and xquad.hi.json")
        data[lang] = json.loads(path.read_text(encoding="utf-8"))["data"]
    paragraphs, questions = [], []
    for ai, (art_en, art_hi) in enumerate(zip(data["en"], data["hi"])):
        for pi, (p_en, p_hi) in enumerate(zip(art_en["paragraphs"], art_hi["paragraphs"])):
            key = f"{ai:02d}-{pi:02d}"
            for lang, art, p in (("en", art_en, p_en), ("hi", art_hi, p_hi)):
                paragraphs.append({"id": f"{lang}-{key}", "title": art["title"].replace("_", " "),
                                   "text": p["context"], "lang": lang, "key": key, "article": ai})
            hi_by_id = {q["id"]: q for q in p_hi["qas"]}
            for q in p_en["qas"]:
                qh = hi_by_id.get(q["id"])
                if qh is None:
                    continue
                questions.append({"id": q["id"], "key": key, "article": ai,
                                  "q": {"en": q["question"], "hi": qh["question"]},
                                  "a": {"en": [a["text"] for a in q["answers"]],
                                        "hi": [a["text"] for a in qh["answers"]]}})
    return {"paragraphs": paragraphs, "questions": questions}


def build_corpus_index(paragraphs: list[dict], langs: list[str], work: Path, settings: Settings,
                       embedder: Embedder):
    name = "xquad-" + "-".join(langs)
    corpus = work / "corpora" / name
    corpus.mkdir(parents=True, exist_ok=True)
    with (corpus / "xquad.jsonl").open("w", encoding="utf-8") as fh:
        for p in paragraphs:
            if p["lang"] in langs:
                fh.write(json.dumps({"id": p["id"], "title": p["title"], "text": p["text"], "lang": p["lang"]},
                                    ensure_ascii=False) + "\n")
    out = work / "indexes" / name
    siblings = [p for p in (work / "indexes").glob("xquad-*") if p != out] if (work / "indexes").exists() else []
    summary = build_index([corpus], out, settings.index, embedder=embedder, progress=True, reuse_from=siblings)
    print(f"  index {name}: {summary.passages} passages, {summary.sentences} sentences, "
          f"{summary.embedded} embedded / {summary.reused} reused, {summary.seconds:.0f} s", file=sys.stderr)
    return load_index(out, expect_model_id=embedder.model_id)


def evaluate_xquad(folder: Path, work: Path, settings: Settings, embedder: Embedder) -> dict:
    data = load_xquad(folder)
    questions = data["questions"]
    results = {}
    indexes = {}
    qvec_cache: dict[str, np.ndarray] = {}
    all_q = sorted({q["q"][lang] for q in questions for lang in ("en", "hi")})
    vecs = embedder.queries(all_q)
    qvec_cache.update(zip(all_q, vecs))
    for setting, (qlang, langs) in SETTINGS.items():
        key = tuple(langs)
        if key not in indexes:
            indexes[key] = build_corpus_index(data["paragraphs"], langs, work, settings, embedder)
        idx = indexes[key]
        retriever = Retriever(idx, embedder, settings.index)
        answerer = Answerer(idx, settings.answer, embedder)
        doc_key = {doc_id: doc_id.split("-", 1)[1] for doc_id in idx.documents}
        doc_article = {doc_id: int(doc_key[doc_id].split("-")[0]) for doc_id in idx.documents}
        asked = [(q, l) for q in questions for l in ([qlang] if qlang else ["en", "hi"])]
        p1 = defaultdict(int)
        answer_ok = abstain_wrong = refused_unanswerable = 0
        for q, l in asked:
            text = q["q"][l]
            qvec = qvec_cache[text]
            for mode in ("bm25", "dense", "hybrid"):
                hits = retriever.search(text, k=10, qvec=qvec, mode=mode)
                if hits and doc_key[idx.passages[hits[0].pid].doc_id] == q["key"]:
                    p1[mode] += 1
            hits = retriever.search(text, k=60, qvec=qvec, mode="hybrid")
            res = answerer.answer(text, hits[:10], [qvec])
            if res.abstained:
                abstain_wrong += 1
            else:
                top = res.answers[0]
                golds = q["a"][top.citation.lang] if top.citation.lang in q["a"] else q["a"]["en"]
                if any(_norm(g) in _norm(top.text) for g in golds):
                    answer_ok += 1
            # The same question with its whole article gone: it should be refused.
            others = [h for h in hits if doc_article[idx.passages[h.pid].doc_id] != q["article"]]
            if answerer.answer(text, others[:10], [qvec]).abstained:
                refused_unanswerable += 1
        n = len(asked)
        results[setting] = {
            "questions": n,
            "p1_bm25": round(p1["bm25"] / n, 3), "p1_dense": round(p1["dense"] / n, 3),
            "p1_hybrid": round(p1["hybrid"] / n, 3),
            "answer_accuracy": round(answer_ok / n, 3),
            "answerable_refused": round(abstain_wrong / n, 3),
            "unanswerable_refused": round(refused_unanswerable / n, 3),
        }
        print(f"{setting:6s} " + "  ".join(f"{k} {v}" for k, v in results[setting].items()), flush=True)
    return results


def evaluate_seeds(settings: Settings, embedder: Embedder, index_dir: Path | None) -> dict:
    from bot.engine import Engine

    engine = Engine(settings, index_dir, embedder=embedder, progress=False)
    rows = [json.loads(line) for line in SEED_QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    passed = 0
    failures = []
    by_kind = defaultdict(lambda: [0, 0])
    for row in rows:
        res = engine.ask(row["question"], conversation_id=row.get("session"))
        ok = True
        if row.get("abstain"):
            ok = res.abstained
        else:
            texts = [a.text for a in res.answers] + [t for a in res.answers for t, _ in a.also_in]
            if res.abstained:
                ok = False
            if ok and row.get("contains"):
                # every alternative group: at least one of its strings in some answer sentence
                for group in row["contains"]:
                    alts = group if isinstance(group, list) else [group]
                    if not any(_norm(g) in _norm(t) for g in alts for t in texts):
                        ok = False
            if ok and row.get("langs"):
                langs = {a.citation.lang for a in res.answers} | {c.lang for a in res.answers for _, c in a.also_in}
                ok = set(row["langs"]) <= langs
        by_kind[row["kind"]][0] += ok
        by_kind[row["kind"]][1] += 1
        passed += ok
        if not ok:
            failures.append({"id": row["id"], "question": row["question"],
                             "got": "ABSTAINED" if res.abstained else [a.text[:90] for a in res.answers]})
    out = {"questions": len(rows), "passed": passed, "accuracy": round(passed / len(rows), 3),
           "by_kind": {k: f"{v[0]}/{v[1]}" for k, v in by_kind.items()}, "failures": failures}
    print(f"seeds  {passed}/{len(rows)} passed; " + ", ".join(f"{k} {v}" for k, v in out["by_kind"].items()))
    for f in failures:
        print(f"  FAIL {f['id']}: {f['question']} -> {f['got']}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--xquad", type=Path, help="folder with xquad.en.json and xquad.hi.json")
    ap.add_argument("--work", type=Path, default=ROOT / ".khabar" / "eval", help="corpora, indexes, cache")
    ap.add_argument("--seeds-index", type=Path, default=None, help="seed index (default: the bundled one)")
    ap.add_argument("--no-seeds", action="store_true", help="skip the seeds question set")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)
    settings = load_settings()
    started = time.perf_counter()
    embedder = Embedder(settings.index)
    report: dict = {}
    if args.xquad:
        report["xquad"] = evaluate_xquad(args.xquad, args.work, settings, embedder)
    if not args.no_seeds:
        report["seeds"] = evaluate_seeds(settings, embedder, args.seeds_index)
    report["seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
