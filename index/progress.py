"""The progress of a build's and an update's long steps, on stderr (stdout stays the summary).

Each step is one tqdm bar named for it, with its rate and ETA where the step counts its items
(texts embedded, passages analysed for BM25, vectors added to faiss) and its elapsed time where
one call does the work (faiss training, writing the files). Nothing at all when `enabled` is
false: `khabar build --quiet`, the watcher, the tests. Below index/build.py and index/update.py;
imports nothing of the project.
"""
from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")


def bar(enabled: bool, desc: str, total: int | None = None, unit: str = "it") -> tqdm:
    """A bar for one step of `total` items; without a total, a step done in one call (its name
    and elapsed time)."""
    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, leave=False, file=sys.stderr,
                unit_scale=total is not None and total >= 10_000,
                bar_format=None if total is not None else "{desc}: {elapsed}")


def ticking(items: Iterable[T], progress: tqdm | None) -> Iterator[T]:
    """`items`, one `progress` tick each (none when `progress` is None)."""
    if progress is None:
        yield from items
        return
    for item in items:
        yield item
        progress.update(1)
