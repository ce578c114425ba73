#!/usr/bin/env python
"""The reader alone, as served (ONNX), in fp32 and int8: held-out accuracy and latency per batch size.

    python scripts/bench_reader.py --xquad ../shared/eval/xquad-dev [--work ~/.cache/khabar/reader-train]
        [--groups 150] [--training-speed] [--json OUT]

Accuracy: for each fold of `scripts/train_reader.py` (its fold*.npz in --work), up to --groups of
its held-out dev questions (every setting: en→en, hi→hi, en→hi, hi→en, and the constructed
unanswerable ones), each scored through `bot.reader.Reader` in both precisions: top-1 among the gold
paragraph's sentences, the share of unanswerable questions whose best logit is below 0, and the
largest logit difference between the two precisions. Latency: one batched call of N candidates
(N = 4, 6, 8, 12; real dev sentences with headline and previous sentence), median of 7, per precision.
With --training-speed, also what choosing the reader's training rested on (torch, batch 32 × 96
tokens, best of 3 steps after one warm-up): tokens/s of full fine-tuning in fp32 and bf16, of the top
4 layers over cached bottom states (bf16), and of a forward pass (bf16).
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bot.reader import Reader, read_weights_header  # noqa: E402
from bot.reader_model import export  # noqa: E402
from index.config import IndexSettings  # noqa: E402
from index.embed import Embedder, resolve_model_path  # noqa: E402
from train_reader import SEED, xquad_groups  # noqa: E402


def training_speed(model_dir: Path, batch: int = 32, tokens: int = 96) -> dict:
    import torch

    from bot.reader_model import Top, load_base

    base = load_base(model_dir)
    ids = torch.randint(5, 20000, (batch, tokens))
    ids[:, 20], ids[:, 21], ids[:, 60] = 2, 2, 2  # a question, a sentence and a context part
    mask = torch.ones(batch, tokens, dtype=torch.long)

    def best(step) -> float:
        times = []
        for _ in range(4):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        return round(batch * tokens / min(times[1:]))

    out = {}
    for dtype in ("fp32", "bf16"):
        opt = torch.optim.AdamW([p for layer in base.encoder.layer for p in layer.parameters()], lr=1e-5)

        def full():
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bf16"):
                loss = base(input_ids=ids, attention_mask=mask).last_hidden_state[:, 0].float().mean()
            loss.backward()
            opt.step()
            opt.zero_grad()
        out[f"full_fine_tuning_{dtype}"] = best(full)
    top = Top(base, 8)
    opt = torch.optim.AdamW(top.parameters(), lr=1e-5)
    states = torch.randn(batch, tokens, base.config.hidden_size)

    def top4():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = top(states, mask, ids).float().mean()
        loss.backward()
        opt.step()
        opt.zero_grad()
    out["top4_over_cached_bf16"] = best(top4)

    def forward():
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            base(input_ids=ids, attention_mask=mask)
    out["forward_bf16"] = best(forward)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--xquad", type=Path, required=True)
    ap.add_argument("--work", type=Path, default=Path.home() / ".cache" / "khabar" / "reader-train")
    ap.add_argument("--groups", type=int, default=150, help="held-out questions scored per fold")
    ap.add_argument("--training-speed", action="store_true", help="also time the training options (torch)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    model_dir = Path(resolve_model_path(IndexSettings()))
    groups = xquad_groups(args.xquad, Embedder(IndexSettings()), random.Random(SEED))
    folds = sorted(args.work.expanduser().glob("fold*.npz"))
    if not folds:
        raise SystemExit(f"bench_reader: no fold*.npz in {args.work}; run scripts/train_reader.py first")
    rows = {"fp32": [], "int8": []}
    diffs = []
    for path in folds:
        held = set(read_weights_header(path)["held_out_articles"])
        export(model_dir, path)
        test = [g for g in groups if g.article in held]
        random.Random(SEED).shuffle(test)
        test = test[: args.groups]
        readers = {p: Reader(model_dir, path, cache_items=1, precision=p).warm_up() for p in rows}
        for g in test:
            out = {p: r.run(g.question, g.candidates) for p, r in readers.items()}
            diffs.append(float(np.abs(out["fp32"] - out["int8"]).max()))
            for p, s in out.items():
                inside = np.where(np.array(g.in_paragraph), s, -np.inf)
                rows[p].append({"kind": g.kind.split(":")[0], "answerable": g.answerable,
                                "right": bool(g.answerable and g.labels[int(np.argmax(inside))]),
                                "refused": bool(s.max() < 0)})
        print(f"  {path.name}: {len(test)} held-out questions", file=sys.stderr, flush=True)
    report: dict = {"accuracy": {}, "max_logit_difference": round(max(diffs), 4),
                    "median_logit_difference": round(float(np.median(diffs)), 4)}
    for p, rs in rows.items():
        ans = [r for r in rs if r["answerable"]]
        un = [r for r in rs if not r["answerable"]]
        kinds = sorted({r["kind"] for r in ans})
        report["accuracy"][p] = {**{k: round(float(np.mean([r["right"] for r in ans if r["kind"] == k])), 3)
                                    for k in kinds},
                                 "all": round(float(np.mean([r["right"] for r in ans])), 3),
                                 "answerable_refused_at_0": round(float(np.mean([r["refused"] for r in ans])), 3),
                                 "unanswerable_refused_at_0": round(float(np.mean([r["refused"] for r in un])), 3)
                                 if un else None}
    sample = [c for g in groups[:40] for c in g.candidates]
    latency: dict = {}
    for p in rows:
        reader = Reader(model_dir, folds[0], cache_items=1, precision=p).warm_up()
        for n in (4, 6, 8, 12):
            times = []
            for k in range(7):
                batch = sample[k * n: (k + 1) * n]
                start = time.perf_counter()
                reader.run(f"Which question is this, number {k}?", batch)
                times.append(time.perf_counter() - start)
            latency.setdefault(p, {})[n] = round(1000 * float(np.median(times)), 1)
    report["latency_ms_median"] = latency
    if args.training_speed:
        report["training_tokens_per_second"] = training_speed(model_dir)
    print(json.dumps(report, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
