"""Train the token projection behind the answerer's alignment feature on XQuAD dev, and write it.

    python scripts/train_alignment.py --xquad ../shared/eval/xquad-dev [--out bot/alignment_weights.npz]

What it learns (`bot/projection.py`): a linear map W of the model's contextual token vectors and a
weight per question token, so that a question's tokens find their best matches in the sentence
that holds the answer rather than in its neighbours. The data: every dev question, in English,
Hindi and (scripts/eval_sets/romanised_hi.jsonl) romanised Hindi, against the sentences of its
article in English and in Hindi (so cross-lingual pairs are trained too); the sentences holding
the gold answer are the positives, the article's other sentences the negatives, and the loss is
the softmax cross-entropy over them (listwise, as the scorer's).

The figures printed are held out: the articles are dealt into folds (as `train_scorer.py` deals
them) and each question is scored by the projection of the fold that never saw its article.
`scripts/evaluate.py` and `scripts/train_scorer.py` call `fold_projections` from here, so the
scorer is trained and judged on alignments made by projections that never saw the question.
Needs torch (training only; serving applies the projection with numpy).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bot.features import question_tokens, sentence_token_masks  # noqa: E402
from bot.projection import DEFAULT_PROJECTION, TokenProjection  # noqa: E402
from index.passages import titled  # noqa: E402
from index.text import split_sentences  # noqa: E402

EPOCHS = 2
LEARNING_RATE = 1e-3
BATCH = 16


@dataclass
class AlignExample:
    article: int
    setting: str              # "en→hi" etc.: question language → sentence language
    query: np.ndarray         # question token vectors (n_q × d)
    sentences: list[np.ndarray]
    gold: np.ndarray          # per sentence: holds the gold answer


def fold_of_articles(articles, k: int) -> dict[int, int]:
    """Articles dealt round-robin into k folds (the scorer's folds are dealt the same way)."""
    return {a: i % k for i, a in enumerate(sorted(set(articles)))}


def alignment_examples(folder: Path, embedder) -> list[AlignExample]:
    """Token vectors of every dev question against its article's sentences, in both languages."""
    from xquad_dev import load_xquad, norm as _norm, read_set as _read_set

    data = load_xquad(folder)
    sentences: dict[tuple[int, str], list[tuple[str, str, np.ndarray]]] = {}  # (article, lang) → (key, text, tokens)
    for p in data["paragraphs"]:
        sents = split_sentences(p["text"])
        text, start = titled(p["title"], " ".join(sents))  # laid out as the served passages are
        vecs, offs = embedder.token_vectors(text, embedder.passage_prompt)
        for s, mask in zip(sents, sentence_token_masks(offs, start, [len(s) for s in sents])):
            if mask.any():
                sentences.setdefault((p["article"], p["lang"]), []).append((p["key"], s, vecs[mask].astype(np.float32)))
    asked = [(q, lang, q["q"][lang]) for q in data["questions"] for lang in ("en", "hi")]
    by_id = {q["id"]: q for q in data["questions"]}
    asked += [(by_id[r["id"]], "hi", r["question"]) for r in _read_set("romanised_hi.jsonl") if r["id"] in by_id]
    out = []
    for q, qlang, text in asked:
        _, vecs, offs = embedder.query_and_tokens(text)  # as the pipeline reads a question
        qv = question_tokens(vecs, offs).astype(np.float32)
        for slang in ("en", "hi"):
            rows = sentences.get((q["article"], slang), [])
            gold = np.array([key == q["key"] and any(_norm(a) in _norm(s) for a in q["a"][slang]) for key, s, _ in rows])
            if gold.any():
                out.append(AlignExample(q["article"], f"{qlang}→{slang}", qv, [t for _, _, t in rows], gold))
    return out


def _scores(torch, W, u, query, sentences):
    qp = torch.nn.functional.normalize(query @ W, dim=-1)
    weights = torch.softmax(query @ u, 0)
    sp = torch.nn.functional.normalize(torch.cat(sentences) @ W, dim=-1)
    best = [chunk.max(1).values for chunk in torch.split(qp @ sp.T, [len(s) for s in sentences], dim=1)]
    return torch.stack(best) @ weights


def fit_projection(examples: list[AlignExample], epochs: int = EPOCHS, lr: float = LEARNING_RATE, seed: int = 0,
                   model_id: str | None = None, meta: dict | None = None) -> TokenProjection:
    """W and u from identity and zero, by Adam on the listwise softmax loss (a learned temperature)."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    dim = examples[0].query.shape[1]
    W = torch.nn.Parameter(torch.eye(dim))
    u = torch.nn.Parameter(torch.zeros(dim))
    log_temp = torch.nn.Parameter(torch.tensor(3.0))
    opt = torch.optim.Adam([W, u, log_temp], lr=lr)
    # from_numpy shares memory: an article's sentences recur in every example of the article.
    data = [(torch.from_numpy(e.query), [torch.from_numpy(s) for s in e.sentences], torch.from_numpy(e.gold))
            for e in examples]
    for _ in range(epochs):
        order = rng.permutation(len(data))
        for start in range(0, len(order), BATCH):
            loss = 0.0
            for i in order[start: start + BATCH]:
                query, sents, gold = data[i]
                z = _scores(torch, W, u, query, sents) * log_temp.exp()
                loss = loss - (torch.logsumexp(z[gold], 0) - torch.logsumexp(z, 0))
            opt.zero_grad()
            (loss / BATCH).backward()
            opt.step()
    return TokenProjection(W.detach().numpy().copy(), u.detach().numpy().copy(), model_id, meta or {})


def top1(projection: TokenProjection, e: AlignExample) -> bool:
    """The projection's best sentence of the article holds the answer."""
    q, w = projection.tokens(e.query), projection.weights(e.query)
    scores = [(q @ projection.tokens(s).T).max(axis=1) @ w for s in e.sentences]
    return bool(e.gold[int(np.argmax(scores))])


def fold_projections(examples: list[AlignExample], fold_of: dict[int, int], log=print) -> list[TokenProjection]:
    """One projection per fold, each trained without that fold's articles (`fold_of`: article → fold)."""
    k = max(fold_of.values()) + 1
    projections = []
    for held in range(k):
        started = time.perf_counter()
        projections.append(fit_projection([e for e in examples if fold_of[e.article] != held],
                                          meta={"fold": held, "folds": k}))
        log(f"  token projection for fold {held + 1}/{k} in {time.perf_counter() - started:.0f} s")
    return projections


def out_of_fold(folder: Path, embedder, k: int, log=print) -> tuple[list[TokenProjection], dict[int, int]]:
    """What evaluation and the scorer's training prepare questions with: a projection per fold of
    dev's articles, and the fold of each article (dealt as `train_scorer.folds_by_article` deals them)."""
    started = time.perf_counter()
    examples = alignment_examples(folder, embedder)
    log(f"  token vectors of {len(examples)} question–article pairs in {time.perf_counter() - started:.0f} s")
    fold_of = fold_of_articles([e.article for e in examples], k)
    return fold_projections(examples, fold_of, log), fold_of


def held_out_report(examples: list[AlignExample], projections: list[TokenProjection], fold_of: dict[int, int]) -> dict:
    """Top-1 sentence of the article by alignment alone, untrained vs learned, per setting."""
    identity = TokenProjection.identity(examples[0].query.shape[1])
    report: dict[str, dict] = {}
    for e in examples:
        row = report.setdefault(e.setting, {"questions": 0, "untrained": 0, "learned": 0})
        row["questions"] += 1
        row["untrained"] += top1(identity, e)
        row["learned"] += top1(projections[fold_of[e.article]], e)
    return {s: {"questions": r["questions"], "untrained": round(r["untrained"] / r["questions"], 4),
                "learned": round(r["learned"] / r["questions"], 4)} for s, r in sorted(report.items())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--xquad", type=Path, required=True, help="folder with xquad.en.json and xquad.hi.json")
    ap.add_argument("--out", type=Path, default=DEFAULT_PROJECTION, help="where to write the projection")
    ap.add_argument("--folds", type=int, default=5, help="held-out folds grouped by article for the figures (1: none)")
    args = ap.parse_args(argv)
    from bot.config import load_settings
    from index.embed import Embedder

    embedder = Embedder(load_settings().index)
    examples = alignment_examples(args.xquad, embedder)
    report = {}
    if args.folds > 1:
        fold_of = fold_of_articles([e.article for e in examples], args.folds)
        projections = fold_projections(examples, fold_of, log=lambda m: print(m, file=sys.stderr))
        report = held_out_report(examples, projections, fold_of)
    meta = {"trained": dt.date.today().isoformat(), "command": "python scripts/train_alignment.py --xquad ../shared/eval/xquad-dev",
            "examples": len(examples), "epochs": EPOCHS, "learning_rate": LEARNING_RATE, "held_out_top1": report}
    projection = fit_projection(examples, model_id=embedder.model_id, meta=meta)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    projection.save(args.out)
    print(json.dumps({"out": str(args.out), "examples": len(examples), "digest": projection.digest(),
                      "held_out_top1": report}, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
