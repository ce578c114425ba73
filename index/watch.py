"""A watched drop folder: `khabar watch DIR --out INDEX [--every 5m]`.

Each pass finds the files in DIR that are new or changed since they were last read (by size and
modification time), reads them, and runs the update path on them (`index.update`: a changed
article replaces the old one, an unchanged one is a no-op), or the first full build when INDEX
does not exist yet. A CMS export job writing into DIR is then all a newsroom needs.

It survives what a drop folder does to it:
- a half-written file: one modified less than `watch_settle_seconds` ago, or one that looks cut
  off (a feed without its closing tag, a page without `</html>`, a JSONL whose last line is
  unfinished) is left for the next pass, which comes after the settle time, not the full period;
- a killed process: an update is atomic (the old generation keeps serving), and which files were
  read is saved (atomically) only after their update is in place, so the next start reads again
  whatever was not finished, and reading an unchanged article again changes nothing;
- a bad file: skipped with its reason, once, until it changes.
Files that disappear from DIR leave their articles indexed (a drop folder is often emptied after
an import); `khabar build --delete` takes one out.
"""
from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from index.build import build_index
from index.config import IndexSettings
from index.corpus import CorpusError, corpus_files, read_corpus
from index.document import PENDING, skipped_lines
from index.embed import Embedder
from index.store import IndexLoadError, MANIFEST
from index.update import IndexUpdateError, update_index

log = logging.getLogger(__name__)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr)?\s*$", re.IGNORECASE)
_UNIT = {None: 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600}


def parse_every(text: str) -> float:
    """Seconds in `30s`, `5m`, `1h` or a plain number of seconds (ValueError saying how to write it)."""
    m = _DURATION.match(str(text))
    if not m or float(m.group(1)) <= 0:
        raise ValueError(f"--every {text!r}: give a period such as 30s, 5m or 1h")
    return float(m.group(1)) * _UNIT[(m.group(2) or "").lower() or None]


def state_path(out: Path) -> Path:
    """Where the watcher remembers what it read: beside the index (`.INDEX.watch.json`)."""
    out = Path(out).resolve()
    return out.parent / f".{out.name}.watch.json"


@dataclass
class PassResult:
    read: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    error: str | None = None


class Watcher:
    def __init__(self, folder: Path, out: Path, settings: IndexSettings, embedder: Embedder):
        self.folder, self.out = Path(folder), Path(out)
        if not self.folder.is_dir():
            raise CorpusError(f"watched folder not found: {self.folder}")
        self.settings, self.embedder = settings, embedder
        self.state_file = state_path(self.out)
        self.seen: dict[str, list[int]] = self._load_state()

    def _load_state(self) -> dict[str, list[int]]:
        try:
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
            return {str(k): [int(v[0]), int(v[1])] for k, v in data.get("files", {}).items()}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            log.warning("watch state %s unreadable (%s); every file is read again (unchanged articles "
                        "are not changed)", self.state_file, exc)
            return {}

    def _save_state(self) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=self.state_file.name + ".", dir=self.state_file.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"folder": str(self.folder.resolve()), "files": self.seen}, fh, indent=0)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.state_file)

    def run_pass(self) -> PassResult:
        """One look at the folder: read what is new or changed and settled, update the index."""
        result = PassResult()
        now = time.time()
        ready: list[tuple[Path, list[int]]] = []
        for path, _ in corpus_files([self.folder]):
            try:
                st = path.stat()
            except OSError:
                continue  # gone between listing and looking
            stamp = [st.st_size, st.st_mtime_ns]
            key = str(path.resolve())
            if self.seen.get(key) == stamp:
                continue
            if now - st.st_mtime < self.settings.watch_settle_seconds:
                result.waiting.append(str(path))
                continue
            ready.append((path, stamp))
        if not ready:
            return result
        files = [p for p, _ in ready]
        try:
            corpus = read_corpus(files, self.settings, require_documents=False)
            pending = {_file_of(s.path) for s in corpus.skipped if s.kind == PENDING}
            if corpus.documents:
                if (self.out / MANIFEST).exists():
                    summary = update_index(self.out, self.settings, self.embedder, corpus=corpus, progress=False)
                else:
                    summary = build_index(files, self.out, self.settings, embedder=self.embedder, progress=False)
                result.lines = summary.lines()
            else:
                result.lines = ["no article in the new or changed files", *skipped_lines(corpus.skipped)]
        except (CorpusError, IndexLoadError, IndexUpdateError, OSError) as exc:
            result.error = str(exc)
            return result
        for path, stamp in ready:
            if str(path) in pending:
                result.waiting.append(str(path))
            else:
                self.seen[str(path.resolve())] = stamp
                result.read.append(str(path))
        self._save_state()
        return result

    def run(self, every: float, stop: threading.Event | None = None, once: bool = False, echo=print) -> int:
        """Passes every `every` seconds (sooner while a file is settling) until `stop` is set."""
        stop = stop or threading.Event()
        while True:
            result = self.run_pass()
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            if result.error:
                echo(f"[{stamp}] pass failed, the index is unchanged and the files are read again next "
                     f"pass: {result.error}")
            elif result.read:
                echo(f"[{stamp}] read {len(result.read)} new or changed file(s)")
                for line in result.lines:
                    echo(line)
            if result.waiting:
                echo(f"[{stamp}] waiting for {len(result.waiting)} file(s) still being written: "
                     f"{', '.join(result.waiting[:5])}")
            if once:
                return 1 if result.error else 0
            wait = min(every, max(1.0, self.settings.watch_settle_seconds)) if result.waiting else every
            if stop.wait(wait):
                return 0


def _file_of(source: str) -> str:
    """The file an article's source names (`file.jsonl:LINE`, `feed.xml#ITEM`)."""
    head, sep, tail = source.rpartition(":")
    if sep and tail.isdigit():
        return head
    head, sep, tail = source.rpartition("#")
    return head if sep and tail.isdigit() else source
