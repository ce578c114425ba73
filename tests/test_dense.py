"""index/dense.py: exact, HNSW over fp16 codes, and OPQ + IVF-PQ re-scored exactly, on real vectors."""
from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bot.engine import Engine
from index import dense
from index.store import PASSAGE_VECTORS, load_index

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


@pytest.fixture(scope="module")
def vectors(seed_index) -> np.ndarray:
    """4,000 unit vectors around the seed index's real sentence vectors (a small archive's spread)."""
    base = np.asarray(seed_index.sentence_vectors, dtype=np.float32)
    rng = np.random.default_rng(3)
    out = base[rng.integers(0, len(base), 4000)] + rng.normal(0, 0.03, (4000, base.shape[1])).astype(np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def top10(vecs: np.ndarray, q: np.ndarray) -> set[int]:
    return set(np.argsort(-(vecs @ q))[:10].tolist())


def test_kinds_by_size(vectors, settings):
    s = replace(settings.index, hnsw_threshold=1000, ivfpq_threshold=3000, ivfpq_m=16, ivfpq_opq=False)
    assert dense.kind(dense.build(vectors[:500], s)) == "flat"
    assert dense.kind(dense.build(vectors[:2000], s)) == "hnsw"
    ivf = dense.build(vectors, s)
    assert dense.kind(ivf) == "ivfpq" and dense.compressed("ivfpq") and not dense.compressed("hnsw")


def test_ivfpq_candidates_rescored_exactly_find_the_exact_top10(vectors, settings):
    s = replace(settings.index, ivfpq_threshold=3000, ivfpq_m=16, ivfpq_opq=False, ivf_nprobe=16, ivfpq_fetch=100)
    index = dense.build(vectors, s)
    queries = vectors[:: 97][:40]
    recalls = []
    for q in queries:
        ids, _ = dense.search(index, q, 10, s)
        assert len(ids) == 100  # the fetch size, for the caller to re-score
        exact = ids[np.argsort(-(vectors[ids] @ q))[:10]]
        recalls.append(len(set(exact.tolist()) & top10(vectors, q)) / 10)
    assert np.mean(recalls) >= 0.9


def test_compressed_index_keeps_fp16_vectors_and_serves(tmp_path, seed_index_dir, settings, embedder):
    """An index past the threshold (lowered here) is written with passage_vectors.npy and answers."""
    from index.build import build_index

    small = replace(settings.index, ivfpq_threshold=10, ivfpq_m=8, ivfpq_opq=False, ivf_nprobe=4, ivfpq_fetch=28)
    out = tmp_path / "compressed"
    build_index([SEEDS], out, small, embedder=embedder, progress=False, reuse_from=[seed_index_dir])
    index = load_index(out)
    assert index.manifest["faiss"] == "ivfpq" and (out / PASSAGE_VECTORS).exists()
    assert isinstance(index.passage_vectors, np.memmap) and index.passage_vectors.dtype == np.float16
    settings_small = replace(settings, index=small)
    result = Engine(settings_small, out, embedder=embedder).ask(
        "How many accounts did the government order Twitter to block?")
    assert not result.abstained and any("1,178" in a.text or "257" in a.text for a in result.answers)
    (out / PASSAGE_VECTORS).unlink()
    with pytest.raises(Exception, match="missing passage_vectors.npy"):
        load_index(out)
    shutil.rmtree(out)
