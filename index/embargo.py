"""Embargoes checked at question time: which passages may not be quoted yet, at a given moment.

An article exported with `embargo_until` is indexed like any other (so nothing needs rebuilding
when its time comes) but retrieval leaves its passages out until that moment: an embargo lifts
by itself. The moments are read from the store once per index generation; the mask of blocked
passages only changes when a lift time passes, so it is computed once per such step.
"""
from __future__ import annotations

import bisect
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from index.store import FILES, P_DOC, Index, IndexLoadError, has_embargoes_column, read_manifest, sqlite_uri


@dataclass
class EmbargoStatus:
    """Embargoed articles not yet lifted at `at`, and when the next one lifts (None: none pending)."""
    at: datetime
    pending: int
    next_lift: datetime | None

    def line(self) -> str:
        if not self.pending:
            return "no embargoed article pending"
        return (f"{self.pending} embargoed article(s) not quotable yet, the next lifts at "
                f"{self.next_lift.isoformat(timespec='minutes')}")

    def to_json(self) -> dict:
        return {"pending": self.pending,
                "next_lift": self.next_lift.isoformat(timespec="seconds") if self.next_lift else None}


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def moment(at: datetime | None) -> datetime:
    """`at` (zone-aware; None: now), in UTC. A naive datetime is refused: its moment is unknown."""
    if at is None:
        return now_utc()
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"as_of {at.isoformat()} has no time zone; give one (e.g. +05:30)")
    return at.astimezone(timezone.utc)


class Embargoes:
    def __init__(self, index: Index):
        rows = index.db.all("SELECT row, embargo_until FROM documents WHERE deleted = 0 AND embargo_until IS NOT NULL") \
            if has_embargoes_column(index.db) else []
        lifts = {int(row): datetime.fromisoformat(until).timestamp() for row, until in rows}
        doc_rows = index.passages.table[:, P_DOC] if len(index.passages) else np.zeros(0, np.int32)
        #: Each passage's lift time (POSIX seconds; 0: never embargoed).
        self.lift_at = np.zeros(len(doc_rows), np.float64)
        if lifts:
            keys = np.fromiter(lifts, np.int64, len(lifts))
            values = np.fromiter(lifts.values(), np.float64, len(lifts))
            order = np.argsort(keys)
            pos = np.searchsorted(keys[order], doc_rows)
            found = (pos < len(keys)) & (keys[order][np.minimum(pos, len(keys) - 1)] == doc_rows)
            self.lift_at[found] = values[order][pos[found]]
        self._doc_lifts = sorted(lifts.values())
        self._times = sorted(set(lifts.values()))
        self._cached: tuple[int, np.ndarray | None] | None = None
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self._times)

    def step(self, at: datetime | None = None) -> int:
        """How many distinct lift times have passed at `at`: the mask changes only when this does."""
        return bisect.bisect_right(self._times, moment(at).timestamp())

    def blocked(self, at: datetime | None = None) -> np.ndarray | None:
        """Passages under embargo at `at` (a boolean array), or None when none is."""
        if not self._times:
            return None
        k = self.step(at)
        if k == len(self._times):
            return None
        with self._lock:
            if self._cached is None or self._cached[0] != k:
                self._cached = (k, self.lift_at > self._times[k - 1] if k else self.lift_at > 0)
            return self._cached[1]

    def status(self, at: datetime | None = None) -> EmbargoStatus:
        at = moment(at)
        ts = at.timestamp()
        pending = len(self._doc_lifts) - bisect.bisect_right(self._doc_lifts, ts)
        later = [t for t in self._times if t > ts]
        return EmbargoStatus(at, pending, datetime.fromtimestamp(later[0], timezone.utc) if later else None)


def status_of(folder: Path, at: datetime | None = None) -> EmbargoStatus:
    """The embargo status of an index folder, read from its store alone (no vectors loaded), for
    `khabar doctor` and `khabar stats`. Raises IndexLoadError when the folder is not an index."""
    folder = Path(folder)
    read_manifest(folder)
    try:
        conn = sqlite3.connect(sqlite_uri(folder / FILES["store"], "mode=ro"), uri=True)
        try:
            if not has_embargoes_column(conn):
                rows = []
            else:
                rows = conn.execute("SELECT embargo_until FROM documents WHERE deleted = 0 AND "
                                    "embargo_until IS NOT NULL").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise IndexLoadError(f"index {folder} is damaged ({exc}); rebuild it.") from None
    at = moment(at)
    lifts = sorted(datetime.fromisoformat(u) for (u,) in rows)
    later = [t for t in lifts if t > at]
    return EmbargoStatus(at, len(later), later[0] if later else None)
