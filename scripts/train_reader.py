"""Train the reader (bot/reader.py), a cross-encoder over e5-small, with folds by article, and write it.

    python scripts/train_reader.py --xquad ../shared/eval/xquad-dev [--squad ../shared/train/squad-v2.0-train-first10.json]
        [--work DIR] [--folds 4] [--epochs 1] [--other-languages] [--out bot/reader_weights.npz] [--only all|0|1|...]

What it learns: P(this sentence answers the question), read together with its headline and the
sentence before it (`bot.reader` lays the input out; serving lays it out the same way). A question's
candidates and a "nothing here" option (logit 0) are one softmax: the positives are the gold
paragraph's sentences that hold the answer, the hard negatives the paragraph's other sentences
and retrieval's near misses (the closest sentence of another paragraph of the article and of
another article, by the e5 cosine), and unanswerable questions, whose target is "nothing here":
- every dev question in English and Hindi against its paragraph in English and in Hindi
  (cross-lingual pairs included; with --other-languages, once more in one of XQuAD's ten others);
- constructed unanswerable questions (a number, a name or a rare word of the question swapped for
  one its paragraph does not have, or the question asked of another paragraph of its article);
- SQuAD 2.0's train slice (English; its unanswerable questions too), in every fold: none of its
  articles is a dev article.

How it trains on two cores: the bottom layers stay the converted model's, so their output for
each input is computed once (bf16) and cached in --work, shared by every fold; only the top
`--trained-layers` layers and the head are trained (bf16 autocast, AdamW), checkpointed every
--checkpoint-every steps, and a run that is stopped resumes where it was. The weights written are
the trained layers and head in fp16 (≈14 MB for 4 layers).

The figures printed (and written to --work/report.json) are held out: fold k's reader never saw
the articles of fold k. `--only all` trains the shipped reader on every article.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.reader import DEFAULT_WEIGHTS, Candidate, encode  # noqa: E402
from index.text import normalize_digits, split_sentences  # noqa: E402

LANGS = ("en", "hi")
OTHER_LANGS = ("ar", "de", "el", "es", "ro", "ru", "th", "tr", "vi", "zh")
SEED = 13


@dataclass
class Group:
    """One question against its candidates: a softmax over them and "nothing here"."""
    question: str
    candidates: list[Candidate]
    labels: list[int]          # 1: holds the answer
    in_paragraph: list[bool]   # the candidate is a sentence of the gold paragraph (not a near miss)
    article: int               # dev article (-1: SQuAD, in every fold's training)
    kind: str                  # "en→hi", "unanswerable:number", "squad", ...
    pair_ids: list[int] = field(default_factory=list)  # rows of the pair table

    @property
    def answerable(self) -> bool:
        return any(self.labels)


def _norm(text: str) -> str:
    return " ".join(normalize_digits(text).lower().split())


def sentences_with_spans(text: str) -> list[tuple[str, int, int]]:
    out, pos = [], 0
    for s in split_sentences(text):
        start = text.find(s, pos)
        start = pos if start < 0 else start
        out.append((s, start, start + len(s)))
        pos = start + len(s)
    return out


def gold_labels(spans: list[tuple[str, int, int]], answers: list[dict]) -> list[int]:
    """Sentences overlapping an answer span (by offset, else by containing its text)."""
    labels = [0] * len(spans)
    for a in answers:
        start, end = a["answer_start"], a["answer_start"] + len(a["text"])
        for i, (s, a0, a1) in enumerate(spans):
            if a0 < end and start < a1:
                labels[i] = 1
        if not any(labels):
            for i, (s, _, _) in enumerate(spans):
                if _norm(a["text"]) in _norm(s):
                    labels[i] = 1
    return labels


def paragraph_candidates(title: str, spans) -> list[Candidate]:
    return [Candidate(s, title, spans[i - 1][0] if i else "") for i, (s, _, _) in enumerate(spans)]


# --- constructed unanswerable questions ------------------------------------------------------

_NUM = re.compile(r"\d+")
_CAPS = re.compile(r"(?<!^)(?<![.?!] )\b[A-Z][\w'-]+(?: [A-Z][\w'-]+)*")
_WORD = re.compile(r"[\w\u0900-\u097f]{3,}")


def swap_number(q: str, paragraph: str, rng: random.Random) -> str | None:
    nums = [m for m in _NUM.finditer(normalize_digits(q))]
    if not nums:
        return None
    m = rng.choice(nums)
    have = set(_NUM.findall(normalize_digits(paragraph)))
    n = int(m.group())
    for _ in range(20):
        new = n + rng.choice([-1, 1]) * rng.randint(3, 40) if 1000 <= n <= 2100 else n + rng.randint(2, 9) * rng.choice([1, 10])
        if new > 0 and str(new) not in have:
            return normalize_digits(q)[: m.start()] + str(new) + normalize_digits(q)[m.end():]
    return None


def swap_phrase(q: str, paragraph: str, phrases: list[str], pool: list[str], rng: random.Random) -> str | None:
    """Replace one of `phrases` (words of the question its paragraph has) with one from `pool` it lacks."""
    phrases = [p for p in phrases if p.lower() in paragraph.lower()]
    if not phrases or not pool:
        return None
    old = rng.choice(phrases)
    for _ in range(20):
        new = rng.choice(pool)
        if new.lower() not in paragraph.lower() and new.lower() not in q.lower():
            return q.replace(old, new, 1)
    return None


def rare_words(texts_by_article: dict[int, list[str]]) -> dict[int, list[str]]:
    """Words (≥ 3 letters) printed in one article only: mostly its names and its own terms."""
    seen: dict[str, set[int]] = {}
    for a, texts in texts_by_article.items():
        for t in texts:
            for w in _WORD.findall(t):
                seen.setdefault(w, set()).add(a)
    out: dict[int, list[str]] = {a: [] for a in texts_by_article}
    for w, arts in seen.items():
        if len(arts) == 1 and not w.isdigit():
            out[next(iter(arts))].append(w)
    return {a: sorted(ws) for a, ws in out.items()}


# --- data ------------------------------------------------------------------------------------

def load_lang(folder: Path, lang: str) -> list[dict]:
    path = folder / f"xquad.{lang}.json"
    if not path.is_file():
        raise SystemExit(f"train_reader: {path} not found; --xquad must be the folder with xquad.LANG.json")
    return json.loads(path.read_text(encoding="utf-8"))["data"]


def xquad_groups(folder: Path, embedder, rng: random.Random, extra_languages: bool = False) -> list[Group]:
    data = {lang: load_lang(folder, lang) for lang in LANGS}
    others = {lang: load_lang(folder, lang) for lang in OTHER_LANGS if (folder / f"xquad.{lang}.json").is_file()}
    paras = []  # (article, p_index, lang) → spans, title, qas by id
    info: dict[tuple[int, int, str], dict] = {}
    for lang, arts in data.items():
        for ai, art in enumerate(arts):
            title = art["title"].replace("_", " ")
            for pi, p in enumerate(art["paragraphs"]):
                spans = sentences_with_spans(p["context"])
                info[(ai, pi, lang)] = {"spans": spans, "title": title, "context": p["context"],
                                        "qas": {q["id"]: q for q in p["qas"]}}
                paras.append((ai, pi, lang))
    other_q: dict[str, dict[str, str]] = {}
    for lang, arts in others.items():
        for art in arts:
            for p in art["paragraphs"]:
                for q in p["qas"]:
                    other_q.setdefault(q["id"], {})[lang] = q["question"]
    # near misses: every dev sentence of each language, embedded once
    flat = {lang: [(ai, pi, i, c) for (ai, pi, l) in paras if l == lang
                   for i, c in enumerate(paragraph_candidates(info[(ai, pi, l)]["title"], info[(ai, pi, l)]["spans"]))]
            for lang in LANGS}
    svecs = {lang: embedder.passages([c.sentence for *_, c in flat[lang]]) for lang in LANGS}
    caps_pool = {ai: sorted({m.group() for k, v in info.items() if k[0] == ai and k[2] == "en"
                             for q in v["qas"].values() for m in _CAPS.finditer(q["question"])})
                 for ai in range(len(data["en"]))}
    rare = {lang: rare_words({ai: [v["context"] for k, v in info.items() if k[0] == ai and k[2] == lang]
                              for ai in range(len(data[lang]))}) for lang in LANGS}

    groups: list[Group] = []
    for (ai, pi, _) in [p for p in paras if p[2] == "en"]:
        en = info[(ai, pi, "en")]
        for qid, q_en in en["qas"].items():
            q_hi = info[(ai, pi, "hi")]["qas"].get(qid)
            if q_hi is None:
                continue
            texts = {"en": q_en["question"], "hi": q_hi["question"]}
            answers = {"en": q_en["answers"], "hi": q_hi["answers"]}
            asked = [("en", texts["en"]), ("hi", texts["hi"])]
            if extra_languages and other_q.get(qid):
                lang = rng.choice(sorted(other_q[qid]))
                asked.append((lang, other_q[qid][lang]))
            qvecs = embedder.queries([t for _, t in asked])
            for (q_lang, q_text), qv in zip(asked, qvecs):
                for s_lang in LANGS:
                    para = info[(ai, pi, s_lang)]
                    labels = gold_labels(para["spans"], answers[s_lang])
                    if not any(labels):
                        continue
                    cands = paragraph_candidates(para["title"], para["spans"])
                    near = _near_misses(flat[s_lang], svecs[s_lang], qv, ai, pi)
                    kind = f"{'en' if q_lang == 'en' else 'hi' if q_lang == 'hi' else 'xx'}→{s_lang}"
                    groups.append(Group(q_text, cands + near, labels + [0] * len(near),
                                        [True] * len(cands) + [False] * len(near), ai, kind))
            # one constructed unanswerable question per question language (en, hi)
            for q_lang in LANGS:
                s_lang = q_lang if rng.random() < 0.5 else ("hi" if q_lang == "en" else "en")
                para = info[(ai, pi, s_lang)]
                own = info[(ai, pi, q_lang)]
                made = _unanswerable(texts[q_lang], q_lang, own["context"], ai, caps_pool, rare[q_lang], rng)
                if made is not None:
                    text, how = made
                    cands = paragraph_candidates(para["title"], para["spans"])
                    groups.append(Group(text, cands, [0] * len(cands), [True] * len(cands), ai,
                                        f"unanswerable:{how}:{q_lang}→{s_lang}"))
                else:  # asked of another paragraph of its article that lacks the answer
                    other = [k for k in info if k[0] == ai and k[2] == s_lang and k[1] != pi
                             and not any(_norm(a["text"]) in _norm(info[k]["context"]) for a in answers[s_lang])]
                    if other:
                        k = rng.choice(other)
                        cands = paragraph_candidates(info[k]["title"], info[k]["spans"])
                        groups.append(Group(texts[q_lang], cands, [0] * len(cands), [True] * len(cands), ai,
                                            f"unanswerable:other-paragraph:{q_lang}→{s_lang}"))
    return groups


def _near_misses(flat, svecs: np.ndarray, qvec: np.ndarray, article: int, paragraph: int) -> list[Candidate]:
    sims = svecs @ qvec
    same = [i for i, (a, p, _, _) in enumerate(flat) if a == article and p != paragraph]
    other = [i for i, (a, _, _, _) in enumerate(flat) if a != article]
    return [flat[max(idx, key=lambda i: sims[i])][3] for idx in (same, other) if idx]


def _unanswerable(q: str, lang: str, paragraph: str, article: int, caps_pool: dict, rare: dict,
                  rng: random.Random) -> tuple[str, str] | None:
    kinds = ["number", "name", "word"]
    rng.shuffle(kinds)
    for kind in kinds:
        if kind == "number":
            made = swap_number(q, paragraph, rng)
        elif kind == "name" and lang == "en":
            pool = [n for a, ns in caps_pool.items() if a != article for n in ns]
            made = swap_phrase(q, paragraph, [m.group() for m in _CAPS.finditer(q)], pool, rng)
        elif kind == "word":
            pool = [w for a, ws in rare.items() if a != article for w in ws]
            own = set(rare.get(article, []))
            made = swap_phrase(q, paragraph, [w for w in _WORD.findall(q) if w in own], pool, rng)
        else:
            made = None
        if made:
            return made, kind
    return None


def squad_groups(path: Path, answerable: int, rng: random.Random, max_candidates: int = 10) -> list[Group]:
    if not path.is_file():
        raise SystemExit(f"train_reader: {path} not found (--squad PATH, or --no-squad to train on dev alone)")
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    pos, neg = [], []
    for art in data:
        title = art["title"].replace("_", " ")
        for p in art["paragraphs"]:
            spans = sentences_with_spans(p["context"])
            cands = paragraph_candidates(title, spans)
            for q in p["qas"]:
                if q.get("is_impossible"):
                    labels = [0] * len(cands)
                else:
                    labels = gold_labels(spans, q["answers"])
                    if not any(labels):
                        continue
                keep = [i for i, l in enumerate(labels) if l]
                rest = [i for i in range(len(cands)) if not labels[i]]
                rng.shuffle(rest)
                keep = sorted(keep + rest[: max(0, max_candidates - len(keep))])
                g = Group(q["question"], [cands[i] for i in keep], [labels[i] for i in keep], [True] * len(keep),
                          -1, "squad" if any(labels) else "squad:unanswerable")
                (pos if g.answerable else neg).append(g)
    rng.shuffle(pos)
    return pos[:answerable] + neg


def pair_table(groups: list[Group], tokenizer) -> list[list[int]]:
    """Token ids of every (question, candidate) pair, each group's rows recorded in it."""
    rows: list[list[int]] = []
    for g in groups:
        ids = encode(tokenizer, g.question, g.candidates)
        g.pair_ids = list(range(len(rows), len(rows) + len(ids)))
        rows.extend(ids)
    return rows


# --- the cached bottom ------------------------------------------------------------------------

class BottomCache:
    """The frozen layers' output for every pair: one fp16 [tokens, hidden] memmap and offsets."""

    def __init__(self, work: Path, rows: list[list[int]], frozen: int, model_dir: Path):
        digest = hashlib.sha256(json.dumps([frozen, str(model_dir), rows]).encode()).hexdigest()[:16]
        self.path = work / f"bottom-{digest}.f16"
        self.offsets = np.cumsum([0] + [len(r) for r in rows])
        self.rows = rows
        self.frozen = frozen
        self.model_dir = model_dir

    def build(self, base, batch_tokens: int = 6144) -> np.memmap:
        import torch

        from bot.reader_model import Bottom

        done = self.path.with_name(self.path.name + ".done")
        hidden = base.config.hidden_size
        shape = (int(self.offsets[-1]), hidden)
        if done.is_file():
            return np.memmap(self.path, dtype=np.float16, mode="r", shape=shape)
        out = np.memmap(self.path, dtype=np.float16, mode="w+", shape=shape)
        bottom = Bottom(base, self.frozen).eval()
        order = sorted(range(len(self.rows)), key=lambda i: len(self.rows[i]))
        started, i = time.perf_counter(), 0
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            while i < len(order):  # shortest first, so a chunk is about as wide as its first row
                n = max(1, batch_tokens // max(len(self.rows[order[i]]), 1))
                chunk = order[i: i + n]
                width = max(len(self.rows[j]) for j in chunk)
                ids = torch.full((len(chunk), width), 1, dtype=torch.long)
                mask = torch.zeros((len(chunk), width), dtype=torch.long)
                for r, j in enumerate(chunk):
                    ids[r, : len(self.rows[j])] = torch.tensor(self.rows[j])
                    mask[r, : len(self.rows[j])] = 1
                h = bottom(ids, mask).float().numpy().astype(np.float16)
                for r, j in enumerate(chunk):
                    out[self.offsets[j]: self.offsets[j + 1]] = h[r, : len(self.rows[j])]
                i += len(chunk)
                if (i // n) % 50 == 0 or i >= len(order):
                    rate = self.offsets[-1] * i / len(order) / max(time.perf_counter() - started, 1e-9)
                    print(f"  bottom cache: {i}/{len(order)} pairs, {rate:,.0f} tokens/s", file=sys.stderr, flush=True)
        out.flush()
        done.write_text("ok\n")
        return np.memmap(self.path, dtype=np.float16, mode="r", shape=shape)


# --- training ---------------------------------------------------------------------------------

def batches(groups: list[Group], pairs_per_batch: int, rng: random.Random) -> list[list[Group]]:
    order = groups[:]
    rng.shuffle(order)
    out, cur, n = [], [], 0
    for g in order:
        cur.append(g)
        n += len(g.pair_ids)
        if n >= pairs_per_batch:
            out.append(cur)
            cur, n = [], 0
    if cur:
        out.append(cur)
    return out


def gather(states: np.memmap, offsets: np.ndarray, rows: list[int], table: list[list[int]]):
    """Padded cached states, attention mask and token ids of these pair rows."""
    import torch

    width = max(int(offsets[r + 1] - offsets[r]) for r in rows)
    h = np.zeros((len(rows), width, states.shape[1]), dtype=np.float32)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    ids = np.ones((len(rows), width), dtype=np.int64)
    for i, r in enumerate(rows):
        n = int(offsets[r + 1] - offsets[r])
        h[i, :n] = states[offsets[r]: offsets[r + 1]]
        mask[i, :n] = 1
        ids[i, :n] = table[r]
    return torch.from_numpy(h), torch.from_numpy(mask), torch.from_numpy(ids)


def group_loss(logits, groups: list[Group]):
    """Listwise: softmax over each group's candidates and a "nothing here" logit of 0; the target is
    the answer sentences (their probabilities summed) or nothing."""
    import torch

    losses, at = [], 0
    for g in groups:
        s = logits[at: at + len(g.pair_ids)]
        at += len(g.pair_ids)
        full = torch.cat([s.new_zeros(1), s])
        lse = torch.logsumexp(full, 0)
        if g.answerable:
            pos = torch.tensor([i + 1 for i, l in enumerate(g.labels) if l])
            losses.append(lse - torch.logsumexp(full[pos], 0))
        else:
            losses.append(lse - full[0])
    return torch.stack(losses).mean()


def score_groups(top, states, offsets, table, groups: list[Group]) -> list[np.ndarray]:
    import torch

    top.eval()
    out = []
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        for chunk in [groups[i: i + 12] for i in range(0, len(groups), 12)]:
            rows = [r for g in chunk for r in g.pair_ids]
            h, m, ids = gather(states, offsets, rows, table)
            logits = top(h, m, ids).float().numpy()
            at = 0
            for g in chunk:
                out.append(logits[at: at + len(g.pair_ids)])
                at += len(g.pair_ids)
    return out


def train(name: str, groups: list[Group], base, states, offsets, table, work: Path, args) -> "object":
    import torch

    from bot.reader_model import Top

    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    top = Top(base, args.frozen_layers)
    head_params = list(top.head.parameters())
    head_params += [top.cos_scale, top.cos_shift]
    opt = torch.optim.AdamW([{"params": [p for p in top.layers.parameters()], "lr": args.lr},
                             {"params": head_params, "lr": args.lr * 20}], weight_decay=0.01)
    plan = [b for epoch in range(args.epochs) for b in batches(groups, args.pairs_per_batch, random.Random(SEED + epoch))]
    if args.max_steps:
        plan = plan[: args.max_steps]
    total = len(plan)
    warm = max(1, total // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    ckpt = work / f"{name}.ckpt"
    step = 0
    if ckpt.is_file():
        saved = torch.load(ckpt, weights_only=False)
        top.load_state_dict(saved["top"])
        opt.load_state_dict(saved["opt"])
        sched.load_state_dict(saved["sched"])
        step = saved["step"]
        print(f"  {name}: resuming at step {step}/{total}", file=sys.stderr, flush=True)
    started, seen = time.perf_counter(), 0
    top.train()
    while step < total:
        chunk = plan[step]
        rows = [r for g in chunk for r in g.pair_ids]
        h, m, ids = gather(states, offsets, rows, table)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = top(h, m, ids).float()
        loss = group_loss(logits, chunk)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(top.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        step += 1
        seen += int(m.sum())
        if step % 25 == 0 or step == total:
            el = time.perf_counter() - started
            print(f"  {name}: step {step}/{total} loss {loss.item():.3f}, {seen / max(el, 1e-9):,.0f} tokens/s",
                  file=sys.stderr, flush=True)
        if step % args.checkpoint_every == 0 and step < total:
            torch.save({"top": top.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                        "step": step}, ckpt)
    top.eval()
    return top


def held_out_report(groups: list[Group], logits: list[np.ndarray]) -> dict:
    """Reader alone: top-1 among the gold paragraph's sentences per setting, the same with near
    misses competing, and unanswerable detection (max logit) against answerable questions."""
    by: dict[str, list[float]] = {}
    near: dict[str, list[float]] = {}
    top_ans, top_un = [], []
    for g, s in zip(groups, logits):
        if g.answerable:
            inside = np.array(g.in_paragraph)
            best = int(np.argmax(np.where(inside, s, -np.inf)))
            by.setdefault(g.kind, []).append(float(g.labels[best]))
            near.setdefault(g.kind, []).append(float(g.labels[int(np.argmax(s))]))
            top_ans.append(float(np.max(s)))
        else:
            top_un.append((g.kind.split(":")[1], float(np.max(s))))
    report = {"top1_in_paragraph": {k: round(float(np.mean(v)), 4) for k, v in sorted(by.items())},
              "top1_with_near_misses": {k: round(float(np.mean(v)), 4) for k, v in sorted(near.items())},
              "questions": {k: len(v) for k, v in sorted(by.items())}}
    if top_un and top_ans:
        a = np.array(top_ans)
        un = np.array([v for _, v in top_un])
        report["unanswerable_auc"] = round(float((un[:, None] < a[None, :]).mean()), 4)
        report["refused_at_0"] = {"answerable": round(float((a < 0).mean()), 4),
                                  "unanswerable": round(float((un < 0).mean()), 4)}
        for kind in sorted({k for k, _ in top_un}):
            vals = np.array([v for k, v in top_un if k == kind])
            report.setdefault("unanswerable_refused_at_0", {})[kind] = round(float((vals < 0).mean()), 4)
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--xquad", type=Path, required=True)
    ap.add_argument("--squad", type=Path, default=ROOT.parent / "shared" / "train" / "squad-v2.0-train-first10.json")
    ap.add_argument("--other-languages", action="store_true",
                    help="also ask each dev question once in one of XQuAD's ten other languages")
    ap.add_argument("--no-squad", action="store_true", help="train on dev alone (no SQuAD slice)")
    ap.add_argument("--squad-questions", type=int, default=1000, help="answerable SQuAD questions used (all unanswerable ones are)")
    ap.add_argument("--work", type=Path, default=Path.home() / ".cache" / "khabar" / "reader-train")
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--only", default=None, help="train one run: a fold number or 'all'")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--max-steps", type=int, default=0, help="stop each run after this many steps (tests)")
    ap.add_argument("--trained-layers", type=int, default=4)
    ap.add_argument("--lr", type=float, default=4e-5)
    ap.add_argument("--pairs-per-batch", type=int, default=48)
    ap.add_argument("--checkpoint-every", type=int, default=100)
    ap.add_argument("--limit-questions", type=int, default=0, help="use only the first N dev groups (tests)")
    ap.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args(argv)

    import torch
    from tokenizers import Tokenizer

    from bot.reader_model import load_base, save_weights
    from index.config import IndexSettings
    from index.embed import Embedder, resolve_model_path

    if args.threads:
        torch.set_num_threads(args.threads)
    args.work.mkdir(parents=True, exist_ok=True)
    settings = IndexSettings()
    model_dir = Path(resolve_model_path(settings))
    embedder = Embedder(settings)
    base = load_base(model_dir)
    args.frozen_layers = base.config.num_hidden_layers - args.trained_layers
    rng = random.Random(SEED)
    t0 = time.perf_counter()
    groups = xquad_groups(args.xquad, embedder, rng, args.other_languages)
    if args.limit_questions:
        groups = groups[: args.limit_questions]
    squad = [] if args.no_squad else squad_groups(args.squad, args.squad_questions, rng)
    groups_all = groups + squad
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    rows = pair_table(groups_all, tokenizer)
    kinds: dict[str, int] = {}
    for g in groups_all:
        kind = ":".join(g.kind.split(":")[:2])
        kinds[kind] = kinds.get(kind, 0) + 1
    print(f"train_reader: {len(groups_all)} groups ({json.dumps(kinds, ensure_ascii=False)}), {len(rows)} pairs, "
          f"{sum(map(len, rows)):,} tokens; made in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    cache = BottomCache(args.work, rows, args.frozen_layers, model_dir)
    t1 = time.perf_counter()
    states = cache.build(base)
    print(f"train_reader: bottom {args.frozen_layers} layers cached in {time.perf_counter() - t1:.0f} s", file=sys.stderr)

    fold_of = {a: i % args.folds for i, a in enumerate(sorted({g.article for g in groups if g.article >= 0}))}
    runs = [str(k) for k in range(args.folds)] + ["all"] if args.only is None else [args.only]
    report_path = args.work / "report.json"
    report = json.loads(report_path.read_text()) if report_path.is_file() else {}
    header = {"base_model": embedder.model_id, "frozen_layers": args.frozen_layers,
              "trained_layers": args.trained_layers, "epochs": args.epochs, "lr": args.lr,
              "pairs_per_batch": args.pairs_per_batch, "max_tokens": 128,
              "train_command": "python scripts/train_reader.py --xquad ../shared/eval/xquad-dev",
              "trained": dt.date.today().isoformat()}
    for run in runs:
        held = {a for a, f in fold_of.items() if run != "all" and f == int(run)}
        train_groups = [g for g in groups_all if g.article not in held]
        out = args.out if run == "all" else args.work / f"fold{run}.npz"
        t2 = time.perf_counter()
        top = train(f"fold{run}" if run != "all" else "all", train_groups, base, states, cache.offsets, rows,
                    args.work, args)
        seconds = time.perf_counter() - t2
        save_weights(top, out, {**header, "fold": None if run == "all" else int(run), "folds": args.folds,
                                "held_out_articles": sorted(held), "seconds": round(seconds)})
        print(f"train_reader: {run} trained in {seconds:.0f} s -> {out}", file=sys.stderr, flush=True)
        if held:
            test = [g for g in groups if g.article in held]
            scored = score_groups(top, states, cache.offsets, rows, test)
            report[f"fold{run}"] = held_out_report(test, scored)
            report[f"fold{run}"]["seconds"] = round(seconds)
            print(json.dumps(report[f"fold{run}"], ensure_ascii=False), file=sys.stderr, flush=True)
            with (args.work / f"fold{run}.oof.json").open("w") as fh:
                json.dump([{"question": g.question, "kind": g.kind, "labels": g.labels, "logits": s.round(4).tolist()}
                           for g, s in zip(test, scored)], fh, ensure_ascii=False)
        report_path.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
        ckpt = args.work / f"{'fold' + run if run != 'all' else 'all'}.ckpt"
        if ckpt.exists():
            ckpt.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
