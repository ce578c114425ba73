"""Retrieval and answer quality on XQuAD (English/Hindi, parallel) and on the seeds question set.

    python scripts/evaluate.py --xquad ../shared/eval/xquad-dev [--folds 5] [--work DIR] [--json OUT]

Every question is answered by `Pipeline` (bot/pipeline.py), the code the bot serves with.
With `--folds K` the token projection (scripts/train_alignment.py) and the scorer
(scripts/train_scorer.py's `fit`) are retrained K times, folds grouped by article, and every
question is prepared and answered by the models that never saw its article: these are
the held-out figures BENCHMARKS.md reports. Without it, the shipped weights are used (trained on
all of dev, so in-sample there).

XQuAD settings (one document per paragraph and language): en→en, hi→hi, en→hi, hi→en, mixed
(both languages in the corpus and the questions), and split (each paragraph kept in only one
language, alternating within an article, so many answers exist only in the other language while
same-language paragraphs of the same article are distractors; "split-cross" counts those only).
Per setting: paragraph P@1 for BM25, dense and the hybrid; answer accuracy (the top sentence
contains the gold answer in that sentence's language; abstentions count as wrong); answerable
questions refused; the same questions with their whole article removed, refused.
Sets written for Khabar (scripts/eval_sets/, over dev paragraphs, mixed index): romanised Hindi
questions (accuracy) and close-topic unanswerable questions (a key name or number replaced by one
absent from the archive; refused). Then a risk–coverage table of the calibrated confidence.

Seeds: scripts/seeds_questions.jsonl asked through the real engine (sessions for follow-ups).
The embedding cache lives in --work, so re-runs are fast.

Feedback: `--feedback FILE` (written by `khabar feedback export --since 7d --out FILE`) asks the
desk's downvoted questions again over `--index` (default: $KHABAR_INDEX, else the seeds) and says,
for each, whether the downvoted sentence is still quoted first (or a refused question still
refused), whether it is still quoted at all, and what is quoted first now.
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
sys.path.insert(0, str(ROOT / "scripts"))

from bot.config import Settings, load_settings  # noqa: E402
from bot.projection import TokenProjection  # noqa: E402
from bot.scorer import Scorer  # noqa: E402
from index.embed import Embedder  # noqa: E402
from train_alignment import out_of_fold  # noqa: E402
from train_scorer import fit, folds_by_article  # noqa: E402
from fit_decision import fit_decision, fold_readers, read_example  # noqa: E402
from xquad_dev import (SETTINGS, Example, build_corpus_index, collect_examples,  # noqa: E402
                       load_xquad, norm as _norm, pipeline_for)

SEED_QUESTIONS = ROOT / "scripts" / "seeds_questions.jsonl"
def answered_right(e: Example, result) -> bool:
    if result.abstained or not result.answers:
        return False
    top = result.answers[0]
    return any(_norm(g) in _norm(top.text) for g in e.golds.get(top.citation.lang, e.golds["en"]))


def score_examples(examples: list[Example], scorers: list[Scorer], fold: np.ndarray,
                   readers: dict | None = None, decisions: list | None = None) -> list[dict]:
    """Each example answered by `Pipeline.decide` with the scorer of its fold (and the reader that
    never saw its article, with its fold's decision). Only the `answer` tier counts as answering."""
    out = []
    for e, f in zip(examples, fold):
        reader = readers.get(e.article) if readers else None
        res = e.pipeline.decide(e.prepared, scorer=scorers[f], reader=reader,
                                decision=decisions[f] if decisions and reader is not None else None)
        answered = res.tier == "answer" and bool(res.answers)
        top_right = res.top_sid is not None and e.gold is not None and bool(
            e.gold[list(e.prepared.candidates.sids).index(res.top_sid)])
        out.append({"setting": e.setting, "kind": e.kind, "right": answered and answered_right(e, res),
                    "abstained": not answered, "tier": res.tier, "refused_by": res.refused_by,
                    "top_right": top_right, "confidence": res.confidence or 0.0})
    return out


def summarise(rows: list[dict], p1: dict, n_asked: dict) -> dict:
    report: dict = {}
    groups = defaultdict(list)
    for r in rows:
        groups[r["setting"]].append(r)
    for setting in list(SETTINGS) + ["split-cross", "romanised", "close-unanswerable"]:
        rs = groups.get(setting, [])
        if setting == "split":
            rs = rs + groups.get("split-cross", [])
        ans = [r for r in rs if r["kind"] in ("answerable", "romanised")]
        rem = [r for r in rs if r["kind"] in ("removed", "close")]
        fig = {}
        base = "split" if setting == "split-cross" else setting
        if base in p1 and setting != "split-cross":
            n = n_asked[base]
            fig.update({f"p1_{m}": round(p1[base][m] / n, 3) for m in ("bm25", "dense", "hybrid")})
        if ans:
            fig.update({"questions": len(ans), "answer_accuracy": round(np.mean([r["right"] for r in ans]), 3),
                        "answerable_refused": round(np.mean([r["abstained"] for r in ans]), 3)})
        if ans:
            fig["not_sure"] = round(np.mean([r["tier"] == "not_sure" for r in ans]), 3)
            fig["top1_any_tier"] = round(np.mean([r["top_right"] for r in ans]), 3)
        if rem:
            fig["unanswerable_refused"] = round(np.mean([r["abstained"] for r in rem]), 3)
            fig["unanswerable_none"] = round(np.mean([r["tier"] == "none" for r in rem]), 3)
            fig["unanswerable_questions"] = len(rem)
        for rule in sorted({n for r in rs for n in r["refused_by"]}):
            alone = [r for r in rs if r["refused_by"] == [rule]]
            fig[f"rule_{rule}"] = {"answerable_refused_by_it_alone": round(len([r for r in alone if r in ans]) / max(1, len(ans)), 3),
                                   "unanswerable_refused_by_it_alone": round(len([r for r in alone if r in rem]) / max(1, len(rem)), 3),
                                   "right_first_quote_it_refused": sum(r["top_right"] for r in alone if r in ans)}
        report[setting] = fig
        print(f"{setting:19s} " + "  ".join(f"{k} {v}" for k, v in fig.items()), flush=True)
    report["risk_coverage"] = risk_coverage([r for r in rows if r["kind"] in ("answerable", "romanised")])
    return report


def risk_coverage(rows: list[dict]) -> list[dict]:
    """Answer accuracy among the questions answered, when only the most confident share is answered."""
    conf = np.array([r["confidence"] for r in rows])
    right = np.array([r["right"] for r in rows])
    order = np.argsort(-conf)
    table = []
    print("coverage  accuracy_of_answered  confidence_at_least")
    for cov in (1.0, 0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2):
        n = max(1, int(round(cov * len(rows))))
        table.append({"coverage": cov, "accuracy": round(float(right[order[:n]].mean()), 3),
                      "confidence": round(float(conf[order[n - 1]]), 3)})
        print(f"  {cov:4.2f}    {table[-1]['accuracy']:.3f}                 {table[-1]['confidence']:.3f}")
    return table


def evaluate_xquad(folder: Path, work: Path, settings: Settings, embedder: Embedder, folds: int,
                   limit: int | None = None, save_weights: Path | None = None, reader_folds: Path | None = None,
                   save_decision: Path | None = None, max_refused: float = 0.04, cache: Path | None = None) -> dict:
    p1: dict = {}
    # Held out means the token projection too: each question's alignments come from a projection
    # trained without its article (and the shipped scorer is fitted on those, as it is served).
    cached = cache is not None and cache.is_file()
    oof = out_of_fold(folder, embedder, folds if folds > 1 else 5, log=lambda m: print(m, file=sys.stderr, flush=True)) \
        if (folds > 1 or save_weights) and not cached else None
    if cached:  # prepared by an earlier run of this code (the pipelines are rebuilt over the same indexes)
        examples, p1 = load_prepared(cache, folder, work, settings, embedder)
    else:
        examples = collect_examples(folder, work, settings, embedder, p1, limit, oof)
        if cache is not None:
            save_prepared(cache, examples, p1)
    if save_weights:
        scorer = fit(examples, model_id=embedder.model_id,
                     meta={"command": f"python scripts/evaluate.py --xquad ../shared/eval/xquad-dev "
                                      f"--save-weights {save_weights}", "examples": len(examples),
                           "projection": TokenProjection.load(settings.answer.alignment).digest()})
        scorer.save(save_weights)
        print(f"wrote {save_weights} (threshold {scorer.threshold:.3f})", flush=True)
    n_asked = defaultdict(int)
    for e in examples:
        if e.kind == "answerable":
            n_asked["split" if e.setting == "split-cross" else e.setting] += 1
    if folds > 1:
        fold = folds_by_article(examples, folds)
        assert cached or all(oof[1][e.article] == f for e, f in zip(examples, fold)), "projection and scorer folds differ"
        scorers = [fit([e for e, f in zip(examples, fold) if f != k]) for k in range(folds)]
        print(f"held-out figures: {folds} folds grouped by article; thresholds "
              f"{[round(s.threshold, 3) for s in scorers]}", flush=True)
    else:
        fold = np.zeros(len(examples), dtype=int)
        scorers = [Scorer.load(settings.answer.scorer)]
        print("figures with the shipped weights (in-sample on dev)", flush=True)
    readers = decisions = None
    if reader_folds is not None and folds > 1:
        from bot.reader import DEFAULT_WEIGHTS, Reader
        from index.embed import resolve_model_path

        model_dir = Path(resolve_model_path(settings.index))
        readers = fold_readers(reader_folds, model_dir, settings.answer.reader_precision,
                               log=lambda m: print(m, file=sys.stderr, flush=True))
        # Only questions whose article some fold reader never saw (all of them when the reader's folds
        # cover every article; half when only one fold of two was trained).
        keep = np.array([e.article in readers for e in examples])
        if not keep.all():
            print(f"  the reader folds hold out {len({e.article for e in examples if e.article in readers})} articles: "
                  f"{int(keep.sum())} of {len(examples)} questions are evaluated", file=sys.stderr, flush=True)
        examples, fold = [e for e, k in zip(examples, keep) if k], fold[keep]
        started = time.perf_counter()
        reads = [read_example(e, scorers[f], readers[e.article]) for e, f in zip(examples, fold)]
        print(f"  read {len(reads)} questions in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        decisions = [fit_decision([r for r, f in zip(reads, fold) if f != k], settings.answer, max_refused)
                     for k in range(folds)]
        print("decisions (candidates, blend, answer at, not sure at): " + "; ".join(
            f"{d.candidates}, {d.blend}, {d.answer_at:.3f}, {d.not_sure_at:.3f}" for d in decisions), flush=True)
        if save_decision:
            shipped = Reader(model_dir, settings.answer.reader or DEFAULT_WEIGHTS,
                             precision=settings.answer.reader_precision)
            shipped.describe()
            decision = fit_decision(reads, settings.answer, max_refused, reader_id=shipped.id,
                                    meta={"command": f"python scripts/evaluate.py --xquad ../shared/eval/xquad-dev "
                                                     f"--folds {folds} --reader-folds {reader_folds} "
                                                     f"--save-decision {save_decision}",
                                          "max_refused": max_refused})
            decision.save(save_decision)
            print(f"wrote {save_decision}: {decision.candidates} candidates, blend {decision.blend}, tiers "
                  f"{decision.answer_at:.3f} / {decision.not_sure_at:.3f}", flush=True)
    rows = score_examples(examples, scorers, fold, readers, decisions)
    report = summarise(rows, p1, n_asked)
    report["folds"] = folds
    report["reader"] = readers is not None
    return report


def _index_setting(example_setting: str) -> str:
    return {"split-cross": "split", "romanised": "mixed", "close-unanswerable": "mixed"}.get(example_setting,
                                                                                           example_setting)


def save_prepared(path: Path, examples: list[Example], p1: dict) -> None:
    """The prepared questions, without their pipelines (an index does not pickle)."""
    import pickle

    pipes = [e.pipeline for e in examples]
    for e in examples:
        e.pipeline = None
    try:
        path.write_bytes(pickle.dumps({"examples": examples, "p1": {k: dict(v) for k, v in p1.items()}}))
    finally:
        for e, pipe in zip(examples, pipes):
            e.pipeline = pipe


def load_prepared(path: Path, folder: Path, work: Path, settings: Settings, embedder: Embedder):
    import pickle

    data = pickle.loads(path.read_bytes())
    paragraphs = load_xquad(folder)["paragraphs"]
    pipes = {name: pipeline_for(build_corpus_index(paragraphs, langs, work, settings, embedder), settings, embedder, None)
             for name, (_, langs) in SETTINGS.items()}
    for e in data["examples"]:
        e.pipeline = pipes[_index_setting(e.setting)]
    print(f"  {len(data['examples'])} prepared questions read from {path}", file=sys.stderr, flush=True)
    return data["examples"], {k: defaultdict(int, v) for k, v in data["p1"].items()}


def seed_row_passes(row: dict, res) -> bool:
    """One row of scripts/seeds_questions.jsonl against the engine's result (also the pytest's check)."""
    if row.get("not_question"):
        return res.not_question and not res.answers
    if row.get("abstain"):
        return res.abstained and not res.not_question
    if res.abstained:
        return False
    texts = [a.text for a in res.answers] + [t for a in res.answers for t, _ in a.also_in]
    # every alternative group: at least one of its strings in some answer sentence
    for group in row.get("contains", []):
        if not any(_norm(g) in _norm(t) for g in group for t in texts):
            return False
    for group in row.get("not_contains", []):  # ... and none of these in the top answer
        if any(_norm(g) in _norm(res.answers[0].text) for g in group):
            return False
    if row.get("langs"):
        langs = {a.citation.lang for a in res.answers} | {c.lang for a in res.answers for _, c in a.also_in}
        return set(row["langs"]) <= langs
    return True


def evaluate_seeds(settings: Settings, embedder: Embedder, index_dir: Path | None) -> dict:
    from bot.engine import Engine, ensure_seed_index

    engine = Engine(settings, index_dir or ensure_seed_index(settings, embedder), embedder=embedder)
    rows = [json.loads(line) for line in SEED_QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    passed = 0
    failures = []
    by_kind = defaultdict(lambda: [0, 0])
    for row in rows:
        res = engine.ask(row["question"], conversation_id=row.get("session"))
        ok = seed_row_passes(row, res)
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


def evaluate_feedback(path: Path, engine) -> dict:
    """The desk's 👎 asked again: `same_as_downvoted` is the share still answered as it was
    downvoted (its first quote, or its refusal), the number a fix should bring down."""
    from bot.feedback import read_items
    from bot.understand import QuestionError

    rows = []
    for item in read_items(path):
        row = {"id": item.get("id"), "question": item["question"], "reasons": item.get("reasons") or [],
               "was_first": item.get("first"), "was_abstained": bool(item.get("abstained"))}
        try:
            res = engine.ask(item["question"])
        except QuestionError as exc:
            rows.append({**row, "error": str(exc)})
            continue
        answered = not res.abstained and bool(res.answers)
        ids = [f"{a.citation.doc_id}#{a.citation.sentence}" for a in res.answers] if answered else []
        also = [f"{c.doc_id}#{c.sentence}" for a in res.answers for _, c in a.also_in] if answered else []
        row.update(now_first=ids[0] if ids else None, now_text=res.answers[0].text if ids else None,
                   now_abstained=not answered, tier=res.tier,
                   still_quoted=row["was_first"] is not None and row["was_first"] in ids + also)
        row["same_as_downvoted"] = (row["now_first"] == row["was_first"]) if row["was_first"] else not answered
        rows.append(row)
    scored = [r for r in rows if "error" not in r]
    share = (lambda key: round(sum(bool(r[key]) for r in scored) / len(scored), 3) if scored else None)
    report = {"items": len(rows), "errors": len(rows) - len(scored), "same_as_downvoted": share("same_as_downvoted"),
              "still_quoted": share("still_quoted"), "now_abstained": share("now_abstained"), "rows": rows}
    print(f"feedback  {len(rows)} downvoted question(s): still answered as downvoted {report['same_as_downvoted']}, "
          f"downvoted sentence still quoted {report['still_quoted']}, refused now {report['now_abstained']}")
    for r in rows:
        if "error" in r:
            print(f"  ERROR {r['question'][:80]}: {r['error']}")
            continue
        mark = "SAME" if r["same_as_downvoted"] else "NEW "
        now = "refused" if r["now_abstained"] else f"{r['now_first']} \u201c{(r['now_text'] or '')[:90]}\u201d"
        why = f" (desk: {'; '.join(r['reasons'])[:80]})" if r["reasons"] else ""
        print(f"  {mark} {r['question'][:80]}{why}\n       was {r['was_first'] or 'refused'}; now {now}")
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--xquad", type=Path, help="folder with xquad.en.json and xquad.hi.json")
    ap.add_argument("--work", type=Path, default=ROOT / ".khabar" / "eval", help="corpora, indexes, cache")
    ap.add_argument("--seeds-index", type=Path, default=None, help="seed index (default: the bundled one)")
    ap.add_argument("--no-seeds", action="store_true", help="skip the seeds question set")
    ap.add_argument("--folds", type=int, default=5, help="held-out folds grouped by article (1: shipped weights)")
    ap.add_argument("--limit", type=int, default=None, help="about this many XQuAD questions (a quick check)")
    ap.add_argument("--save-weights", type=Path, default=None,
                    help="also fit the scorer on all examples and write it here (as scripts/train_scorer.py does)")
    ap.add_argument("--reader-folds", type=Path, default=None,
                    help="scripts/train_reader.py's --work folder: decide with the reader of each question's held-out fold")
    ap.add_argument("--save-decision", type=Path, default=None,
                    help="also fit the decision on every question's out-of-fold reading and write it here")
    ap.add_argument("--max-refused", type=float, default=0.04,
                    help="share of answerable questions the answer tier may refuse (out of fold)")
    ap.add_argument("--cache", type=Path, default=None,
                    help="keep the prepared questions in this pickle (made if absent; later runs skip preparing)")
    ap.add_argument("--feedback", type=Path, default=None,
                    help="score the desk's downvoted questions (`khabar feedback export --out FILE`)")
    ap.add_argument("--index", type=Path, default=None,
                    help="the archive --feedback questions are asked of (default: $KHABAR_INDEX, else the seeds)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)
    settings = load_settings()
    if args.feedback:  # a wrong file is said before the model loads
        from bot.feedback import FeedbackError, read_items

        try:
            read_items(args.feedback)
        except FeedbackError as exc:
            raise SystemExit(f"evaluate: {exc}") from None
    started = time.perf_counter()
    embedder = Embedder(settings.index)
    report: dict = {}
    if args.xquad:
        report["xquad"] = evaluate_xquad(args.xquad, args.work, settings, embedder, args.folds, args.limit,
                                         args.save_weights, args.reader_folds, args.save_decision, args.max_refused,
                                         args.cache)
    if args.feedback:
        from bot.engine import Engine, ensure_seed_index

        index_dir = args.index or settings.index_dir or ensure_seed_index(settings, embedder)
        report["feedback"] = evaluate_feedback(args.feedback, Engine(settings, index_dir, embedder=embedder))
    if not args.no_seeds:
        report["seeds"] = evaluate_seeds(settings, embedder, args.seeds_index)
    report["seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
