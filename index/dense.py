"""The faiss index of passage embeddings: exact below a size threshold, HNSW above.

Exact inner-product search is both fast and lossless for a newsroom's first fifty thousand
passages; beyond `hnsw_threshold` the graph index keeps query time flat as the archive grows.
The HNSW graph keeps its vectors as fp16 codes (half the disk and memory of fp32; cosines move
by < 1e-3), and both kinds are read with their codes memory-mapped, so loading is quick and a
hot swap shares the page cache instead of doubling memory. The store reads passage vectors
back from here rather than keeping a second copy.
"""
from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from index.config import IndexSettings


def build(vectors: np.ndarray, settings: IndexSettings) -> faiss.Index:
    dim = vectors.shape[1]
    if len(vectors) > settings.hnsw_threshold:
        index = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_fp16, settings.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = settings.hnsw_ef_construction
    else:
        index = faiss.IndexFlatIP(dim)
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def kind(index: faiss.Index) -> str:
    return "hnsw" if isinstance(index, faiss.IndexHNSW) else "flat"


def search(index: faiss.Index, query: np.ndarray, k: int, settings: IndexSettings) -> tuple[np.ndarray, np.ndarray]:
    """(ids, cosine scores) of the k nearest passages; missing slots (-1) are dropped."""
    if isinstance(index, faiss.IndexHNSW):
        index.hnsw.efSearch = max(settings.hnsw_ef_search, k)
    scores, ids = index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), min(k, index.ntotal))
    keep = ids[0] >= 0
    return ids[0][keep], scores[0][keep]


def save(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def load(path: Path) -> faiss.Index:
    """Read with the vector codes memory-mapped (the HNSW graph itself is read into memory)."""
    return faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)


def add(index: faiss.Index, vectors: np.ndarray) -> None:
    """Append vectors (an update's new passages); ids continue from `index.ntotal`."""
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
