"""The faiss index of passage embeddings: exact, then HNSW, then compressed, as the archive grows.

Exact inner-product search is both fast and lossless for a newsroom's first fifty thousand
passages; beyond `hnsw_threshold` the graph index keeps query time flat as the archive grows.
The HNSW graph keeps its vectors as fp16 codes (half the disk and memory of fp32; cosines move
by < 1e-3), and both kinds are read with their codes memory-mapped, so loading is quick and a
hot swap shares the page cache instead of doubling memory. The store reads passage vectors
back from here rather than keeping a second copy. Past `ivfpq_threshold` even fp16 codes are
too big for one machine's memory (30M passages: 23 GB), so the index becomes OPQ + IVF-PQ
(48 bytes a vector) and its candidates are re-scored exactly from fp16 vectors on disk
(`compressed()`: the store then keeps them, memory-mapped, beside the index).
"""
from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from index.config import IndexSettings
from index.progress import bar


#: Training points per IVF list and the sample cap (k-means needs ~40 a centroid).
TRAIN_PER_LIST = 40
TRAIN_MAX = 500_000
#: Vectors a build adds per call, so its bar has a rate and an ETA. The same with or without a bar
#: (an HNSW graph grown in steps is the incremental HNSW of an update: recall measured equal).
ADD_CHUNK = 8192


def kind_for(passages: int, settings: IndexSettings) -> str:
    """The kind a build of this many passages makes: "flat", "hnsw" or "ivfpq"."""
    if passages > settings.ivfpq_threshold:
        return "ivfpq"
    return "hnsw" if passages > settings.hnsw_threshold else "flat"


def build(vectors: np.ndarray, settings: IndexSettings, progress: bool = False) -> faiss.Index:
    """The index a build of these vectors makes; `progress`: a bar for training and adding."""
    dim = vectors.shape[1]
    chosen = kind_for(len(vectors), settings)
    if chosen == "ivfpq":
        return _ivfpq(np.ascontiguousarray(vectors, dtype=np.float32), settings, progress)
    if chosen == "hnsw":
        index = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_fp16, settings.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = settings.hnsw_ef_construction
    else:
        index = faiss.IndexFlatIP(dim)
    _add_in_chunks(index, np.ascontiguousarray(vectors, dtype=np.float32), progress, f"faiss {chosen}")
    return index


def _add_in_chunks(index: faiss.Index, vectors: np.ndarray, progress: bool, desc: str) -> None:
    with bar(progress, desc, total=len(vectors), unit="vector") as b:
        for start in range(0, len(vectors), ADD_CHUNK):
            index.add(vectors[start:start + ADD_CHUNK])
            b.update(min(ADD_CHUNK, len(vectors) - start))


def _ivfpq(vectors: np.ndarray, settings: IndexSettings, progress: bool = False) -> faiss.Index:
    n, dim = vectors.shape
    nlist = max(1, min(int(2 * np.sqrt(n)), TRAIN_MAX // TRAIN_PER_LIST))  # 2·√n: measured, BENCHMARKS.md
    # 8-bit codes need 256 training points a sub-quantiser; a smaller archive gets fewer bits.
    nbits = int(min(8, max(1, np.floor(np.log2(max(2, n // TRAIN_PER_LIST))))))
    opq = f"OPQ{settings.ivfpq_m}," if settings.ivfpq_opq else ""
    index = faiss.index_factory(dim, f"{opq}IVF{nlist},PQ{settings.ivfpq_m}x{nbits}", faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(0)  # a fixed sample: the same vectors train the same index
    size = min(n, max(TRAIN_PER_LIST * nlist, TRAIN_PER_LIST * 2 ** nbits), TRAIN_MAX)
    with bar(progress, f"faiss training (ivfpq, {size:,} vectors)"):  # one call: elapsed time, no ETA
        index.train(vectors[np.sort(rng.choice(n, size=size, replace=False))])
    _add_in_chunks(index, vectors, progress, "faiss ivfpq")
    return index


def _ivf(index: faiss.Index):
    try:
        return faiss.extract_index_ivf(index)
    except RuntimeError:
        return None


def kind(index: faiss.Index) -> str:
    if isinstance(index, faiss.IndexHNSW):
        return "hnsw"
    return "ivfpq" if _ivf(index) is not None else "flat"


def compressed(kind_name: str) -> bool:
    """Whether this kind loses the vectors (so the store must keep them for re-scoring)."""
    return kind_name == "ivfpq"


def only(live: np.ndarray):
    """A faiss selector of the live passages, or None when all are (deleted articles' vectors
    stay in the index until a full rebuild; they must not take the candidates' places)."""
    if live.all():
        return None
    bits = np.packbits(live.astype(np.uint8), bitorder="little")
    selector = faiss.IDSelectorBitmap(len(live), faiss.swig_ptr(bits))
    selector.bits_ref = bits  # the selector reads this buffer: keep it alive with it
    return selector


def search(index: faiss.Index, query: np.ndarray, k: int, settings: IndexSettings,
           selector=None) -> tuple[np.ndarray, np.ndarray]:
    """(ids, scores) of the k nearest passages (among `selector`'s, if given); missing slots (-1)
    are dropped. A compressed index returns `ivfpq_fetch` approximate candidates for the caller
    to re-score exactly."""
    if isinstance(index, faiss.IndexHNSW):
        params = faiss.SearchParametersHNSW(efSearch=max(settings.hnsw_ef_search, k))
    elif (ivf := _ivf(index)) is not None:
        k = max(k, settings.ivfpq_fetch)
        params = faiss.SearchParametersIVF(nprobe=settings.ivf_nprobe)
    else:
        params = faiss.SearchParameters()
    if selector is not None:
        params.sel = selector
    if isinstance(index, faiss.IndexPreTransform):
        params = faiss.SearchParametersPreTransform(index_params=params)
    scores, ids = index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), min(k, index.ntotal),
                               params=params)
    keep = ids[0] >= 0
    return ids[0][keep], scores[0][keep]


def save(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def load(path: Path) -> faiss.Index:
    """Read with the vector codes memory-mapped (the HNSW graph itself is read into memory)."""
    return faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)


def add(index: faiss.Index, vectors: np.ndarray, progress: bool = False) -> None:
    """Append vectors (an update's new passages); ids continue from `index.ntotal`."""
    _add_in_chunks(index, np.ascontiguousarray(vectors, dtype=np.float32), progress, f"faiss {kind(index)}")
