"""The faiss index of passage embeddings: exact below a size threshold, HNSW above.

Exact inner-product search is both fast and lossless for a newsroom's first hundred thousand
passages; beyond `hnsw_threshold` the graph index keeps query time flat as the archive grows.
"""
from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from index.config import IndexSettings


def build(vectors: np.ndarray, settings: IndexSettings) -> faiss.Index:
    dim = vectors.shape[1]
    if len(vectors) > settings.hnsw_threshold:
        index = faiss.IndexHNSWFlat(dim, settings.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = settings.hnsw_ef_construction
    else:
        index = faiss.IndexFlatIP(dim)
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def kind(index: faiss.Index) -> str:
    return "hnsw" if isinstance(index, faiss.IndexHNSWFlat) else "flat"


def search(index: faiss.Index, query: np.ndarray, k: int, settings: IndexSettings) -> tuple[np.ndarray, np.ndarray]:
    """(ids, cosine scores) of the k nearest passages; missing slots (-1) are dropped."""
    if isinstance(index, faiss.IndexHNSWFlat):
        index.hnsw.efSearch = max(settings.hnsw_ef_search, k)
    scores, ids = index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), min(k, index.ntotal))
    keep = ids[0] >= 0
    return ids[0][keep], scores[0][keep]


def save(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def load(path: Path) -> faiss.Index:
    return faiss.read_index(str(path))
