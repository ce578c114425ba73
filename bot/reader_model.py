"""The reader's network, in torch: the converted e5-small with its top layers fine-tuned and a score head.

Only training (`scripts/train_reader.py`) and the one-time ONNX export (`python -m bot.reader_model`,
run by `scripts/setup.sh`) import this module; serving reads the export through onnxruntime
(`bot.reader`), so a serving process never imports torch for the reader.

The shipped weights file (`bot/reader_weights.npz`) holds only what training changed: the top
`trained_layers` encoder layers and the head, in fp16, plus a JSON header naming the base model.
Applied to the converted base model they give the reader; its identity (`reader_id`) is the
weights file's digest with the base model id, and the export is stamped with it.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from bot.reader import (DEFAULT_WEIGHTS, EXPORT_INT8_NAME, EXPORT_NAME, ReaderError, export_dir, read_weights_header, reader_id,
                        weights_digest)

#: The header key of the weights file that holds its metadata (JSON, as a uint8 array).
HEADER = "__header__"


def load_base(model_dir: Path) -> torch.nn.Module:
    """The converted e5-small BertModel (no pooler), in fp32, eval mode."""
    from transformers import AutoModel

    if not (Path(model_dir) / "config.json").is_file():
        raise ReaderError(f"the base model is not at {model_dir}; run `bash scripts/setup.sh` (it converts it)")
    return AutoModel.from_pretrained(str(model_dir), local_files_only=True).float().eval()


def additive_mask(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """[batch, tokens] 1/0 → the [batch, 1, 1, tokens] additive mask a BertLayer takes."""
    return (1.0 - mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min


def run_layers(layers, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    ext = additive_mask(mask, hidden.dtype)
    for layer in layers:
        out = layer(hidden, attention_mask=ext)
        hidden = out[0] if isinstance(out, tuple) else out
    return hidden


class Bottom(torch.nn.Module):
    """Embeddings and the frozen lower layers: what training caches once per pair."""

    def __init__(self, base: torch.nn.Module, frozen_layers: int):
        super().__init__()
        self.embeddings = base.embeddings
        self.layers = torch.nn.ModuleList(base.encoder.layer[:frozen_layers])

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return run_layers(self.layers, self.embeddings(input_ids=input_ids), attention_mask)


class Top(torch.nn.Module):
    """The trained upper layers and the head: hidden states → one logit per pair ("this sentence
    answers the question").

    The head reads the first token and, from the top layer, the question's and the sentence's
    tokens mean-pooled and L2-normalised (found from the ids: the question runs to the first
    </s>, the sentence from the second to the third): their product and cosine. The cosine term
    starts the reader at what the bi-encoder knows (how like the question the sentence is), and
    training adds what reading them together tells.
    """

    def __init__(self, base: torch.nn.Module, frozen_layers: int, dropout: float = 0.1):
        super().__init__()
        hidden = base.config.hidden_size
        self.layers = torch.nn.ModuleList(copy.deepcopy(base.encoder.layer[frozen_layers:]))
        self.dropout = torch.nn.Dropout(dropout)
        self.head = torch.nn.Linear(2 * hidden, 1)
        torch.nn.init.zeros_(self.head.weight)
        torch.nn.init.zeros_(self.head.bias)
        self.cos_scale = torch.nn.Parameter(torch.tensor(20.0))
        self.cos_shift = torch.nn.Parameter(torch.tensor(-16.0))

    @staticmethod
    def _mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask.to(hidden.dtype).unsqueeze(-1)
        v = (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
        return v / v.norm(dim=-1, keepdim=True).clamp(min=1e-6)

    def forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
        hidden = run_layers(self.layers, hidden, attention_mask)
        eos = (input_ids == 2).long()
        part = torch.cumsum(eos, dim=1)
        real = attention_mask.bool()
        question = (part == 0) & real
        question[:, 0] = False
        sentence = (part == 2) & (eos == 0) & real
        q, s = self._mean(hidden, question), self._mean(hidden, sentence)
        cos = (q * s).sum(-1)
        feats = torch.cat([self.dropout(hidden[:, 0]), q * s], dim=-1)
        return self.head(feats).squeeze(-1) + self.cos_scale * cos + self.cos_shift


class Reader(torch.nn.Module):
    """The whole reader: token ids → logits (what is exported to ONNX)."""

    def __init__(self, bottom: Bottom, top: Top):
        super().__init__()
        self.bottom, self.top = bottom, top

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.top(self.bottom(input_ids, attention_mask), attention_mask, input_ids)


def save_weights(top: Top, path: Path, header: dict) -> None:
    """The trained layers and head in fp16, with a JSON header (base model, layers, training)."""
    arrays = {f"top.{k}": v.detach().cpu().to(torch.float16).numpy() for k, v in top.state_dict().items()}
    arrays[HEADER] = np.frombuffer(json.dumps(header, ensure_ascii=False).encode("utf-8"), dtype=np.uint8)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def load_top(base: torch.nn.Module, path: Path) -> tuple[Top, dict]:
    header = read_weights_header(path)
    top = Top(base, int(header["frozen_layers"]))
    with np.load(path, allow_pickle=False) as data:
        state = {k.removeprefix("top."): torch.from_numpy(data[k].astype(np.float32))
                 for k in data.files if k != HEADER}
    missing, unexpected = top.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ReaderError(f"{path} does not fit this reader (missing {missing[:3]}, unexpected "
                          f"{unexpected[:3]}); retrain it: python scripts/train_reader.py --xquad ../shared/eval/xquad-dev")
    return top.eval(), header


def build_reader(model_dir: Path, weights: Path) -> tuple[Reader, dict]:
    base = load_base(model_dir)
    top, header = load_top(base, weights)
    return Reader(Bottom(base, int(header["frozen_layers"])), top).eval(), header


def export(model_dir: Path, weights: Path, out_dir: Path | None = None, force: bool = False) -> Path:
    """Export the reader to ONNX (fp32) in `out_dir` (by default a folder named by the reader id
    beside the base model), stamped with the reader id; skipped when current."""
    weights = Path(weights)
    header = read_weights_header(weights)
    rid = reader_id(weights_digest(weights), header.get("base_model", "?"))
    out_dir = Path(out_dir) if out_dir else export_dir(Path(model_dir), weights)
    target, stamp = out_dir / EXPORT_NAME, out_dir / "reader.json"
    if not force and target.is_file() and stamp.is_file():
        try:
            if json.loads(stamp.read_text(encoding="utf-8")).get("reader_id") == rid:
                return target
        except (OSError, json.JSONDecodeError):
            pass
    import warnings

    out_dir.mkdir(parents=True, exist_ok=True)
    reader, _ = build_reader(Path(model_dir), weights)
    ids = torch.tensor([[0, 1000, 2000, 2, 2, 3000, 2], [0, 1500, 2, 2, 2500, 2, 1]])
    mask = (ids != 1).long()
    tmp = target.with_name(target.name + ".tmp")
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(reader, (ids, mask), str(tmp), input_names=["input_ids", "attention_mask"],
                          output_names=["logits"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                        "attention_mask": {0: "batch", 1: "tokens"}, "logits": {0: "batch"}},
                          opset_version=17, dynamo=False)
    os.replace(tmp, target)
    quantise(target, out_dir / EXPORT_INT8_NAME)
    stamp.write_text(json.dumps({"reader_id": rid, "weights": str(weights), "seconds":
                                 round(time.perf_counter() - started, 1)}, indent=1) + "\n", encoding="utf-8")
    return target


def quantise(source: Path, target: Path) -> None:
    """Dynamic int8 of the matrix products only, per output channel (the embeddings, layer norms
    and softmax stay fp32); BENCHMARKS.md §11 has what it costs in accuracy and buys in time."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = target.with_name(target.name + ".tmp")
    quantize_dynamic(str(source), str(tmp), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul"])
    os.replace(tmp, target)


def main(argv: list[str] | None = None) -> int:
    from index.config import IndexSettings
    from index.embed import resolve_model_path

    ap = argparse.ArgumentParser(description="Export the reader (bot/reader_weights.npz over the converted "
                                             "model) to ONNX, once; skipped when current.")
    ap.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    ap.add_argument("--model", type=Path, default=None, help="the base model folder (default: the converted e5)")
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args(argv)
    try:
        model_dir = args.model or Path(resolve_model_path(IndexSettings()))
        path = export(model_dir, args.weights, force=args.force)
    except ReaderError as exc:
        print(f"reader export: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
