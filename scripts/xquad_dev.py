"""XQuAD dev (English/Hindi, parallel) and Khabar's own sets over it, read and prepared once by
the serving pipeline: what scripts/evaluate.py, train_scorer.py, train_alignment.py,
scorer_variants.py and tune_retrieval.py share. Imports none of them (they import each other's
fitted pieces; this floor is below all of them).
"""
from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import Settings  # noqa: E402
from bot.pipeline import Pipeline, Prepared  # noqa: E402
from bot.projection import TokenProjection  # noqa: E402
from bot.scorer import Scorer  # noqa: E402
from bot.transliterate import Transliterator  # noqa: E402
from index.build import build_index  # noqa: E402
from index.embed import Embedder  # noqa: E402
from index.retrieve import Retriever  # noqa: E402
from index.store import load_index  # noqa: E402
from index.text import nfc, normalize_digits  # noqa: E402

EVAL_SETS = ROOT / "scripts" / "eval_sets"


@dataclass
class Example:
    """One asked question, prepared by the serving pipeline, with what counts as right."""
    setting: str
    article: int
    qid: str
    kind: str                     # answerable | removed | close | romanised
    prepared: Prepared
    gold: np.ndarray | None       # per candidate: holds the gold answer (None: no candidates)
    pipeline: object = None       # the Pipeline (and so the index) it was prepared by
    golds: dict | None = None     # lang → gold answer strings

    @property
    def answerable(self) -> bool:
        return self.kind in ("answerable", "romanised")

    @property
    def trainable(self) -> bool:
        return self.answerable and self.gold is not None and bool(self.gold.any())


#: setting → (question language, None for both; corpus languages, or "split")
SETTINGS = {"en→en": ("en", ["en"]), "hi→hi": ("hi", ["hi"]), "en→hi": ("en", ["hi"]),
            "hi→en": ("hi", ["en"]), "mixed": (None, ["en", "hi"]), "split": (None, "split")}
#: Settings whose questions are also asked with their article removed (should be refused).
REMOVED_IN = ("en→en", "hi→hi", "en→hi", "hi→en", "mixed")


def norm(text: str) -> str:
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


def split_keeps(p: dict) -> bool:
    """The split setting keeps each paragraph in one language, alternating within its article."""
    return p["lang"] == ("en" if int(p["key"].split("-")[1]) % 2 == 0 else "hi")


def build_corpus_index(paragraphs: list[dict], langs, work: Path, settings: Settings, embedder: Embedder):
    name = "xquad-" + ("split" if langs == "split" else "-".join(langs))
    corpus = work / "corpora" / name
    corpus.mkdir(parents=True, exist_ok=True)
    with (corpus / "xquad.jsonl").open("w", encoding="utf-8") as fh:
        for p in paragraphs:
            if (split_keeps(p) if langs == "split" else p["lang"] in langs):
                fh.write(json.dumps({"id": p["id"], "title": p["title"], "text": p["text"], "lang": p["lang"]},
                                    ensure_ascii=False) + "\n")
    out = work / "indexes" / name
    siblings = [p for p in (work / "indexes").glob("xquad-*") if p != out] if (work / "indexes").exists() else []
    summary = build_index([corpus], out, settings.index, embedder=embedder, progress=True, reuse_from=siblings)
    print(f"  index {name}: {summary.passages} passages, {summary.sentences} sentences, "
          f"{summary.embedded} embedded / {summary.reused} reused, {summary.seconds:.0f} s", file=sys.stderr)
    return load_index(out, expect_model_id=embedder.model_id)


#: One transliterator for every evaluation pipeline, as one engine has one (its word cache is shared).
TRANSLITERATOR = Transliterator()


def pipeline_for(index, settings: Settings, embedder: Embedder, scorer: Scorer | None) -> Pipeline:
    projection = TokenProjection.load(settings.answer.alignment, dim=embedder.dim)
    # Room for every passage under each fold's projection: the token cache is keyed by projection.
    answer = replace(settings.answer, token_cache_passages=max(settings.answer.token_cache_passages,
                                                               8 * len(index.passages)))
    return Pipeline(index, embedder, Retriever(index, embedder, settings.index), answer,
                    settings.conversation, scorer, projection, TRANSLITERATOR)


def read_set(name: str) -> list[dict]:
    path = EVAL_SETS / name
    if not path.exists():
        print(f"evaluate: {path} not found; that set is skipped", file=sys.stderr)
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def gold_mask(index, sids: np.ndarray, golds: dict) -> np.ndarray:
    return np.array([any(norm(g) in norm(index.sentences[int(s)].text)
                         for g in golds.get(index.sentences[int(s)].lang, golds["en"])) for s in sids])


def collect_examples(folder: Path, work: Path, settings: Settings, embedder: Embedder,
                     p1: dict | None = None, limit: int | None = None,
                     folds: tuple[list[TokenProjection], dict[int, int]] | None = None) -> list[Example]:
    """Every evaluation question prepared once by the serving pipeline (no scorer needed).
    `p1`, if given, receives paragraph P@1 counts per setting and retrieval mode; `folds`, if
    given (`train_alignment.out_of_fold`), the token projection of each fold and the fold of each
    article: every question is then prepared with the projection that never saw its article."""
    def projection_for(article: int) -> TokenProjection | None:
        return folds[0][folds[1][article]] if folds else None

    data = load_xquad(folder)
    by_id = {q["id"]: q for q in data["questions"]}
    questions = data["questions"][::max(1, len(data["questions"]) // limit)] if limit else data["questions"]
    texts = sorted({q["q"][l] for q in data["questions"] for l in ("en", "hi")}) if p1 is not None else []
    qvec = dict(zip(texts, embedder.queries(texts)))  # paragraph P@1 only: prepare() embeds its own readings
    examples: list[Example] = []
    pipelines = {}
    for setting, (qlang, langs) in SETTINGS.items():
        index = build_corpus_index(data["paragraphs"], langs, work, settings, embedder)
        pipe = pipelines[setting] = pipeline_for(index, settings, embedder, None)
        doc_key = {d: d.split("-", 1)[1] for d in index.documents}
        docs_of_article = defaultdict(set)
        for d in index.documents:
            docs_of_article[int(doc_key[d].split("-")[0])].add(d)
        started = time.perf_counter()
        for q in questions:
            for lang in ([qlang] if qlang else ["en", "hi"]):
                text = q["q"][lang]
                if p1 is not None:
                    for mode in ("bm25", "dense", "hybrid"):
                        hits = pipe.retriever.search(text, k=1, qvec=qvec[text], mode=mode)
                        ok = bool(hits) and doc_key[index.passages[hits[0].pid].doc_id] == q["key"]
                        p1.setdefault(setting, defaultdict(int))[mode] += ok
                kinds = [("answerable", frozenset())]
                if setting in REMOVED_IN:
                    kinds.append(("removed", frozenset(docs_of_article[q["article"]])))
                for kind, exclude in kinds:
                    prep = pipe.prepare(text, exclude_docs=exclude, projection=projection_for(q["article"]))
                    c = prep.candidates
                    name = setting
                    if setting == "split" and not split_keeps({"lang": lang, "key": q["key"]}):
                        name = "split-cross"
                    examples.append(Example(name, q["article"], q["id"], kind, prep,
                                            gold_mask(index, c.sids, q["a"]) if c is not None else None,
                                            pipe, q["a"]))
        print(f"  prepared {setting} in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    mixed = pipelines["mixed"]
    for kind, name, rows in (("romanised", "romanised", read_set("romanised_hi.jsonl")),
                             ("close", "close-unanswerable", read_set("unanswerable_close.jsonl"))):
        for r in rows:
            q = by_id[r["id"]]
            prep = mixed.prepare(r["question"], projection=projection_for(q["article"]))
            c = prep.candidates
            gold = gold_mask(mixed.index, c.sids, q["a"]) if c is not None and kind == "romanised" else None
            examples.append(Example(name, q["article"], q["id"], kind, prep, gold, mixed, q["a"]))
    return examples
