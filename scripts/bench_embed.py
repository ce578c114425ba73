#!/usr/bin/env python
"""Embedding backends and numeric paths compared in one run: torch (1 thread, all threads, bf16
autocast), ONNX fp32, ONNX dynamic int8, and the paths of issue 22 item 2 (static int8 calibrated
on dev text, int8 with the sensitive layers kept fp32; ONNX bf16 is probed for CPU kernels).

    python scripts/bench_embed.py --xquad ../shared/eval/xquad-dev [--sentences 600] [--json OUT]
    python scripts/bench_embed.py --xquad ../shared/eval/xquad-dev --sentences 300 \\
        --backends onnx_fp32,onnx_int8,onnx_int8_static,torch_all,torch_bf16
    python scripts/bench_embed.py --xquad ../shared/eval/xquad-dev --evaluate torch_bf16_weights -- \\
        --xquad ../shared/eval/xquad-dev --no-seeds --folds 1 --limit 200 --work /tmp/eval-bf16

For each backend, on the same XQuAD dev sentences (half English, half Hindi): sentences/s (best
of `--repeats` rounds; the rounds go through every backend in turn, so a busy machine slows all
of them alike) and the ratio to the first backend and to ONNX fp32 in the same run; the cosine of
its vectors to the first backend's; and dense P@1 of question → paragraph over XQuAD dev in the
four settings (en→en, hi→hi, en→hi, hi→en), with the difference to ONNX fp32, the figure the
issue asks a faster path to hold within 0.005 in every setting.

Backends named `onnx_int8_*` other than `onnx_int8` are experimental ONNX files built under
`--work` (not the model folder) when missing, from the model's fp32 export: the calibration text is
256 en+hi dev texts (sentences with the passage prompt, questions with the query prompt) from the
last 12 articles, activation ranges only (no labels).
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index import onnx_model  # noqa: E402
from index.config import IndexSettings, khabar_home  # noqa: E402
from index.embed import Embedder  # noqa: E402
from index.text import split_sentences  # noqa: E402

BACKENDS = {  # name -> IndexSettings changes (+ "variant": an experimental ONNX file, "autocast": torch.autocast
    #             to a dtype, "weights": the torch model cast to a dtype)
    "torch_1thread": {"embed_backend": "torch", "torch_threads": 1},
    "torch_all": {"embed_backend": "torch", "torch_threads": 0},
    "torch_bf16": {"embed_backend": "torch", "torch_threads": 0, "autocast": "bfloat16"},
    "torch_bf16_weights": {"embed_backend": "torch", "torch_threads": 0, "weights": "bfloat16"},
    "onnx_fp32": {"embed_backend": "onnx", "embed_precision": "fp32", "embed_threads": 0},
    "onnx_int8": {"embed_backend": "onnx", "embed_precision": "int8", "embed_threads": 0},
    # experimental quantisations of the fp32 export (VARIANTS below), each served from its own file
    **{f"onnx_{variant}": {"embed_backend": "onnx", "embed_precision": "fp32", "embed_threads": 0, "variant": variant}
       for variant in ("int8_dynamic_matmul", "int8_static", "int8_static_ffn2fp32", "int8_static_pct",
                       "int8_dynamic_ffn2fp32", "int8_dynamic_attention")},
}
DEFAULT_BACKENDS = "torch_1thread,torch_all,onnx_fp32,onnx_int8"
#: Experimental quantisations of the fp32 export. Every one quantises MatMuls with a constant weight
#: only (the attention's activation × activation products, the embeddings' Gather, LayerNorm and
#: Softmax stay fp32), weights int8 per output channel, and keeps the last encoder layer fp32.
VARIANTS = {
    # dynamic: activation ranges measured per batch at run time
    "int8_dynamic_matmul": {"mode": "dynamic", "keep_fp32": ("last_layer",)},
    # static: activation ranges fixed from the calibration text (MinMax, or the 99.99th percentile)
    "int8_static": {"mode": "static", "keep_fp32": ("last_layer",), "calibrate": "minmax"},
    "int8_static_ffn2fp32": {"mode": "static", "keep_fp32": ("last_layer", "ffn_down"), "calibrate": "minmax"},
    "int8_static_pct": {"mode": "static", "keep_fp32": ("last_layer",), "calibrate": "percentile"},
    "int8_dynamic_ffn2fp32": {"mode": "dynamic", "keep_fp32": ("last_layer", "ffn_down")},
    "int8_dynamic_attention": {"mode": "dynamic", "keep_fp32": ("last_layer", "ffn_down", "ffn_up")},
}
CALIBRATION_WIDTH = 96  # tokens; the histogram calibrator needs every batch the same shape


def load(xquad: Path, n_sentences: int):
    data = {lang: json.loads((xquad / f"xquad.{lang}.json").read_text(encoding="utf-8"))["data"]
            for lang in ("en", "hi")}
    sentences = {lang: [s for art in data[lang] for p in art["paragraphs"] for s in split_sentences(p["context"])]
                 for lang in data}
    half = n_sentences // 2
    texts = sentences["en"][:half] + sentences["hi"][:n_sentences - half]
    paragraphs = {lang: [p["context"] for art in data[lang] for p in art["paragraphs"]] for lang in data}
    questions = {lang: [(q["question"], i) for i, p in enumerate(p for art in data[lang] for p in art["paragraphs"])
                        for q in p["qas"]] for lang in data}
    return texts, paragraphs, questions


def calibration_texts(xquad: Path, n: int = 256, articles: int = 12) -> list[tuple[str, str]]:
    """(prompt name, text): en+hi sentences and questions from the last `articles` articles."""
    out = []
    for lang in ("en", "hi"):
        data = json.loads((xquad / f"xquad.{lang}.json").read_text(encoding="utf-8"))["data"][-articles:]
        sents = [s for art in data for p in art["paragraphs"] for s in split_sentences(p["context"])]
        qs = [q["question"] for art in data for p in art["paragraphs"] for q in p["qas"]]
        k = n // 4
        out += [("passage", s) for s in sents[::max(1, len(sents) // k)][:k]]
        out += [("query", q) for q in qs[::max(1, len(qs) // k)][:k]]
    return out


class CalibrationReader:
    """onnxruntime's CalibrationDataReader over tokenised texts, batched by length."""

    def __init__(self, embedder: Embedder, items: list[tuple[str, str]], batch: int = 16, width: int | None = None):
        ids = [embedder._token_ids([embedder.prompts.get(p, "") + t])[0] for p, t in items]
        order = np.argsort([len(x) for x in ids], kind="stable")
        self.batches = []
        for start in range(0, len(order) - (len(order) % batch if width else 0), batch):
            rows = order[start:start + batch]
            w = width or max(len(ids[i]) for i in rows)
            b = np.full((len(rows), w), embedder.pad_id, np.int64)
            m = np.zeros_like(b)
            for r, i in enumerate(rows):
                n = min(len(ids[i]), w)
                b[r, :n], m[r, :n] = ids[i][:n], 1
            self.batches.append({"input_ids": b, "attention_mask": m})
        self.rewind()

    def get_next(self):
        return next(self._it, None)

    def rewind(self):
        self._it = iter(self.batches)


def _nodes(path: Path, keep: tuple[str, ...]) -> list[str]:
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    out = []
    for n in graph.node:
        if n.op_type != "MatMul":
            continue
        if "last_layer" in keep and "/layer.11/" in n.name:
            out.append(n.name)
        elif "ffn_down" in keep and n.name.endswith("/output/dense/MatMul") and "/attention/" not in n.name:
            out.append(n.name)
        elif "ffn_up" in keep and n.name.endswith("/intermediate/dense/MatMul"):
            out.append(n.name)
    return out


def build_variant(name: str, embedder: Embedder, work: Path, xquad: Path) -> tuple[Path, float]:
    """The experimental ONNX file `name` under `work` (built now if missing); its build seconds."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_dynamic, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    spec, target = VARIANTS[name], work / f"{name}.onnx"
    if target.is_file():
        return target, 0.0
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    prep = work / "fp32_preprocessed.onnx"  # onnx shape inference + onnxruntime's graph optimisation
    if not prep.is_file():
        fp32 = onnx_model.onnx_path(IndexSettings().resolved_model_dir(), "fp32")
        quant_pre_process(str(fp32), str(prep), skip_symbolic_shape=True)  # symbolic: incomplete on this graph
    tmp = target.with_name(target.name + ".tmp")
    exclude = _nodes(prep, spec["keep_fp32"])
    if spec["mode"] == "dynamic":
        quantize_dynamic(str(prep), str(tmp), op_types_to_quantize=["MatMul"], per_channel=True,
                         weight_type=QuantType.QInt8, nodes_to_exclude=exclude, extra_options={"MatMulConstBOnly": True})
    else:
        pct = spec["calibrate"] == "percentile"
        extra = {"MatMulConstBOnly": True, "WeightSymmetric": True, "ActivationSymmetric": False}
        if pct:
            extra["CalibPercentile"] = 99.99
        reader = CalibrationReader(embedder, calibration_texts(xquad), width=CALIBRATION_WIDTH if pct else None)
        quantize_static(str(prep), str(tmp), reader, quant_format=QuantFormat.QDQ, op_types_to_quantize=["MatMul"],
                        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        nodes_to_exclude=exclude,
                        calibrate_method=CalibrationMethod.Percentile if pct else CalibrationMethod.MinMax,
                        extra_options=extra)
    os.replace(tmp, target)
    return target, time.perf_counter() - started


def ort_bf16_kernels() -> dict[str, bool]:
    """Whether this onnxruntime's CPU provider can run the encoder's ops in bfloat16."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    found = {}
    for op, shapes in (("MatMul", ([2, 4], [4, 4])), ("Add", ([2, 4], [2, 4])), ("Softmax", ([2, 4],)),
                       ("LayerNormalization", ([2, 4], [4])), ("Erf", ([2, 4],))):
        names = [f"x{i}" for i in range(len(shapes))]
        graph = helper.make_graph([helper.make_node(op, names, ["y"])], "probe",
                                  [helper.make_tensor_value_info(n, TensorProto.BFLOAT16, s) for n, s in zip(names, shapes)],
                                  [helper.make_tensor_value_info("y", TensorProto.BFLOAT16, None)])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        try:
            ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
            found[op] = True
        except Exception:  # noqa: BLE001 - NOT_IMPLEMENTED: no kernel for this op and type
            found[op] = False
    return found


class Torch16:
    """A torch embedder in 16-bit numerics: under torch.autocast (`autocast`: the weights stay fp32,
    the products run in `dtype`) or with its weights cast; vectors come back float32, normalised
    again in float32 (normalised in bfloat16 their norms are 1 ± 0.004)."""

    def __init__(self, embedder: Embedder, dtype: str, autocast: bool):
        self.inner, self.dtype, self.autocast = embedder, dtype, autocast
        self.model_id = embedder.model_id + (f" (autocast {dtype}, not wired)" if autocast else " (not wired)")

    def _run(self, fn, texts):
        import contextlib

        import torch

        with torch.autocast("cpu", dtype=getattr(torch, self.dtype)) if self.autocast else contextlib.nullcontext():
            v = np.asarray(fn(texts), dtype=np.float32)
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)

    def passages(self, texts):
        return self._run(self.inner.passages, texts)

    def queries(self, texts):
        return self._run(self.inner.queries, texts)


def _cast_weights(embedder: Embedder, dtype: str) -> None:
    """The torch model in `dtype` (bfloat16: oneDNN's AVX512-BF16/AMX kernels where the CPU has them);
    the model id follows the dtype, as a model loaded in that dtype would have."""
    import torch

    from index.model_id import model_folder, model_id

    embedder.model.to(getattr(torch, dtype))
    embedder.dtype = dtype
    embedder.model_id = model_id(embedder.settings.model, model_folder(str(IndexSettings().resolved_model_dir())), dtype)


def _torch_threads(name: str) -> None:
    """torch's thread count is one per process: set it to this backend's before it runs."""
    if BACKENDS[name]["embed_backend"] == "torch":
        import torch

        torch.set_num_threads(BACKENDS[name].get("torch_threads") or os.cpu_count() or 1)


def make_embedder(name: str, work: Path, xquad: Path, cache: dict):
    changes = dict(BACKENDS[name])
    variant, autocast = changes.pop("variant", None), changes.pop("autocast", None)
    weights = changes.pop("weights", None)
    settings = copy.deepcopy(IndexSettings())
    for key, value in changes.items():
        setattr(settings, key, value)
    key = json.dumps(changes, sort_keys=True)
    if weights:  # a model of its own: its weights change
        embedder = Embedder(settings)
        _cast_weights(embedder, weights)
        return Torch16(embedder, weights, autocast=False), 0.0
    if key not in cache:  # torch_all and torch_bf16 share one model, the ONNX variants the tokenizer
        cache[key] = Embedder(settings)
    embedder, built = cache[key], 0.0
    if variant:
        path, built = build_variant(variant, embedder, work, xquad)
        embedder = copy.copy(embedder)
        embedder.onnx = onnx_model.OnnxTransformer(path, threads=settings.embed_threads, device=settings.embed_device)
        embedder.model_id = f"{variant} (experimental, not wired)"
    if autocast:
        embedder = Torch16(embedder, autocast, autocast=True)
    return embedder, built


def run_evaluate(name: str, evaluate_args: list[str], work: Path, xquad: Path) -> int:
    """scripts/evaluate.py (unchanged) with every Embedder it makes on the numeric path `name`:
    answer accuracy of a path that is not wired as a setting."""
    import runpy

    import index.embed

    changes = dict(BACKENDS[name])
    variant, weights = changes.pop("variant", None), changes.pop("weights", None)
    if changes.pop("autocast", None):
        raise SystemExit("bench_embed: --evaluate does not take an autocast backend")
    original = index.embed.Embedder.__init__

    def patched(self, settings):
        settings = copy.deepcopy(settings)
        for key, value in changes.items():
            setattr(settings, key, value)
        original(self, settings)
        if weights:
            _cast_weights(self, weights)
            encode = self._encode

            def renormalised(texts, prompt_name, progress):
                v = encode(texts, prompt_name, progress)
                return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)

            self._encode = renormalised
        if variant:
            path, _ = build_variant(variant, self, work, xquad)
            self.onnx = onnx_model.OnnxTransformer(path, threads=settings.embed_threads, device=settings.embed_device)
            self.dtype, self.model_id = variant, f"{self.model_id}+{variant}"
        print(f"bench_embed: evaluate.py embeds with {name} (model id {self.model_id})", file=sys.stderr, flush=True)

    index.embed.Embedder.__init__ = patched
    sys.argv = [str(ROOT / "scripts" / "evaluate.py"), *evaluate_args]
    try:
        runpy.run_path(str(ROOT / "scripts" / "evaluate.py"), run_name="__main__")
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return 0


def dense_p1(embedder: Embedder, paragraphs: dict, questions: dict) -> dict[str, float]:
    P = {lang: embedder.passages(paragraphs[lang]) for lang in paragraphs}
    Q = {lang: embedder.queries([q for q, _ in questions[lang]]) for lang in questions}
    gold = {lang: np.array([i for _, i in questions[lang]]) for lang in questions}
    out = {}
    for qlang, plang in (("en", "en"), ("hi", "hi"), ("en", "hi"), ("hi", "en")):
        top = (Q[qlang] @ P[plang].T).argmax(axis=1)
        out[f"{qlang}->{plang}"] = round(float((top == gold[qlang]).mean()), 4)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--xquad", required=True, type=Path, help="the XQuAD dev folder (xquad.en.json, xquad.hi.json)")
    p.add_argument("--sentences", type=int, default=600, help="texts timed for throughput (half en, half hi)")
    p.add_argument("--repeats", type=int, default=2, help="timed rounds through every backend; the best counts")
    p.add_argument("--backends", default=DEFAULT_BACKENDS, help="comma-separated subset of " + ",".join(BACKENDS))
    p.add_argument("--work", type=Path, default=None,
                   help="where experimental ONNX files are built (default <KHABAR_HOME>/bench-numerics)")
    p.add_argument("--p1-backends", default=None,
                   help="comma-separated backends whose dense P@1 is measured (default: all; 'none': none)")
    p.add_argument("--json", type=Path, help="also write the figures here")
    p.add_argument("--evaluate", metavar="BACKEND", default=None,
                   help="instead: run scripts/evaluate.py with the arguments after `--`, every embedder on BACKEND")
    argv = list(sys.argv[1:] if argv is None else argv)
    rest = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    args = p.parse_args(argv)
    work = args.work or khabar_home() / "bench-numerics"
    if args.evaluate:
        if args.evaluate not in BACKENDS:
            p.error(f"unknown backend {args.evaluate!r}; choose from {', '.join(BACKENDS)}")
        return run_evaluate(args.evaluate, rest, work, args.xquad)
    names = args.backends.split(",")
    p1_names = names if args.p1_backends is None else [n for n in args.p1_backends.split(",") if n != "none"]
    unknown = [n for n in names + p1_names if n not in BACKENDS]
    if unknown:
        p.error(f"unknown backends {unknown}; choose from {', '.join(BACKENDS)}")
    texts, paragraphs, questions = load(args.xquad, args.sentences)
    cache, embedders, results = {}, {}, {}
    for name in names:
        embedders[name], built = make_embedder(name, work, args.xquad, cache)
        embedders[name].passages(texts[:8])  # first-call overheads are not throughput
        results[name] = {"model_id": embedders[name].model_id, "build_s": round(built, 1)}
    best = {name: float("inf") for name in names}
    vecs = {}
    for _ in range(args.repeats):  # every backend in each round: a busy spell slows them all
        for name in names:
            _torch_threads(name)
            start = time.perf_counter()
            vecs[name] = embedders[name].passages(texts)
            best[name] = min(best[name], time.perf_counter() - start)
    reference = vecs[names[0]]
    for name in names:
        cos = (vecs[name] * reference).sum(axis=1)
        results[name].update({"sentences_per_s": round(len(texts) / best[name], 1),
                              "cosine_to_first": {"mean": round(float(cos.mean()), 5), "min": round(float(cos.min()), 5)}})
    for name in names:
        _torch_threads(name)
        if name in p1_names:
            results[name]["dense_p1"] = dense_p1(embedders[name], paragraphs, questions)
        r = results[name]
        print(f"{name:>26}: {r['sentences_per_s']:7.1f} sentences/s  cos {r['cosine_to_first']['mean']:.5f} "
              f"(min {r['cosine_to_first']['min']:.5f})  P@1 {r.get('dense_p1')}", flush=True)
    first = names[0]
    for name, r in results.items():
        r["speed_ratio"] = round(r["sentences_per_s"] / results[first]["sentences_per_s"], 2)
        if "onnx_fp32" in results:
            r["speed_ratio_to_onnx_fp32"] = round(r["sentences_per_s"] / results["onnx_fp32"]["sentences_per_s"], 2)
            if "dense_p1" in r and "dense_p1" in results["onnx_fp32"]:
                delta = {k: round(r["dense_p1"][k] - results["onnx_fp32"]["dense_p1"][k], 4) for k in r["dense_p1"]}
                r["p1_minus_onnx_fp32"] = delta
                r["p1_worst_minus_onnx_fp32"] = round(min(delta.values()), 4)
                if name != "onnx_fp32":
                    print(f"{name} - onnx_fp32 dense P@1, worst setting: {min(delta.values()):+.4f} "
                          f"(acceptable only if >= -0.005)")
    report = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.machine(),
              "cpus": os.cpu_count(), "sentences": len(texts), "repeats": args.repeats, "results": results,
              "onnx_bf16_cpu_kernels": ort_bf16_kernels()}
    print("onnxruntime CPU bfloat16 kernels:", report["onnx_bf16_cpu_kernels"])
    if args.json:
        args.json.write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(json.dumps({k: {"x": v["speed_ratio"], "sent/s": v["sentences_per_s"]} for k, v in results.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
