"""Matching across scripts: a deterministic romanisation of Devanagari and one key for both scripts.

A reporter types "Koo", "Mahima Kaul", "kitne accounts" or "istifa"; the archive printed कू,
महिमा कौल, कितने अकाउंट्स, इस्तीफा. `match_key` maps a word of either script to the same short
key, so BM25 and the answerability checks can see that a Latin-script name occurs in Hindi text
and the reverse. Display text is never touched: keys are extra terms, never shown.

How a key is made (all steps pure and documented, so index and query always agree):

1. Devanagari is romanised with the table below (Hunterian-like, as Indian newspapers spell
   names in English): consonants carry the inherent "a" unless a vowel sign or virama follows,
   and a word-final inherent "a" is dropped (कौल → kaul, not kaula). Nukta letters map to their
   Urdu/English sound (फ़ → f, ज़ → z).
2. Both scripts then meet in one spelling: lower case; digraphs fold (ph→f, th→t, dh→d,
   bh→b, kh→k, gh→g, jh→j, sh→s, ch→c, then c/q→k, x→ks, w→v, z→j); repeated letters collapse
   (Twitter→tviter); long vowels fold to short (aa→a, ee/ii→i, oo/uu→u), and ai→a, since
   Hindi writes English a as ै (जैक, बैंक).
3. The key is the consonant skeleton (vowels and a non-initial y dropped: mahima → mhm,
   प्रसाद → prsd, accounts → knts) when it has at least three consonants; shorter words keep
   their folded spelling (koo and कू → ku, kaul and कौल → kaul), since a two-consonant
   skeleton collides with too many words.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_CONSONANTS = {
    "क": "k", "ख": "kh", "ग": "g", "घ": "gh", "ङ": "n", "च": "ch", "छ": "chh", "ज": "j", "झ": "jh",
    "ञ": "n", "ट": "t", "ठ": "th", "ड": "d", "ढ": "dh", "ण": "n", "त": "t", "थ": "th", "द": "d",
    "ध": "dh", "न": "n", "ऩ": "n", "प": "p", "फ": "ph", "ब": "b", "भ": "bh", "म": "m", "य": "y",
    "र": "r", "ऱ": "r", "ल": "l", "ळ": "l", "व": "v", "श": "sh", "ष": "sh", "स": "s", "ह": "h",
}
#: Nukta forms (precomposed, and base + U+093C after NFD).
_NUKTA = {"क": "q", "ख": "kh", "ग": "g", "ज": "z", "ड": "r", "ढ": "rh", "फ": "f", "य": "y"}
_VOWELS = {
    "अ": "a", "आ": "aa", "इ": "i", "ई": "ii", "उ": "u", "ऊ": "uu", "ऋ": "ri", "ए": "e", "ऐ": "ai",
    "ओ": "o", "औ": "au", "ऑ": "o", "ऍ": "e", "ऎ": "e", "ऒ": "o",
}
_SIGNS = {
    "\u093e": "aa", "\u093f": "i", "\u0940": "ii", "\u0941": "u", "\u0942": "uu", "\u0943": "ri",
    "\u0947": "e", "\u0948": "ai", "\u094b": "o", "\u094c": "au", "\u0949": "o", "\u0945": "e",
    "\u0946": "e", "\u094a": "o",
}
_MARKS = {"\u0902": "n", "\u0901": "n", "\u0903": "h"}  # anusvara, candrabindu, visarga
_VIRAMA = "\u094d"
_NUKTA_SIGN = "\u093c"
_DIGITS = str.maketrans("०१२३४५६७८९", "0123456789")


def romanise(text: str) -> str:
    """Devanagari → Latin letters (step 1 above); other characters pass through unchanged."""
    chars = unicodedata.normalize("NFD", text)  # क़ → क + ़, so nukta forms take one path
    out: list[str] = []
    i, n = 0, len(chars)
    while i < n:
        ch = chars[i]
        if "०" <= ch <= "९":
            out.append(ch.translate(_DIGITS))
            i += 1
        elif ch in _CONSONANTS:
            nukta = i + 1 < n and chars[i + 1] == _NUKTA_SIGN
            out.append(_NUKTA.get(ch, _CONSONANTS[ch]) if nukta else _CONSONANTS[ch])
            i += 2 if nukta else 1
            nxt = chars[i] if i < n else ""
            if nxt in _SIGNS:
                out.append(_SIGNS[nxt])
                i += 1
            elif nxt == _VIRAMA:
                i += 1
            elif _is_deva_letter(nxt) or nxt in _MARKS:
                out.append("a")  # inherent vowel inside a word; dropped at the word's end
        elif ch in _VOWELS:
            out.append(_VOWELS[ch])
            i += 1
        elif ch in _MARKS:
            out.append(_MARKS[ch])
            i += 1
        elif ch in _SIGNS:  # a stray vowel sign (broken text): keep its sound
            out.append(_SIGNS[ch])
            i += 1
        elif "\u0900" <= ch <= "\u097f" and ch not in "\u0964\u0965":
            i += 1  # other Devanagari signs (avagraha, stress marks, ZWJ-like) carry no sound
        else:
            out.append(ch.translate(_DIGITS))
            i += 1
    return "".join(out)


def _is_deva_letter(ch: str) -> bool:
    return bool(ch) and (ch in _CONSONANTS or ch in _VOWELS)


_FOLDS = (("chh", "C"), ("ch", "C"), ("sh", "s"), ("ph", "f"), ("th", "t"), ("dh", "d"), ("bh", "b"),
          ("kh", "k"), ("gh", "g"), ("jh", "j"), ("rh", "r"), ("ck", "k"), ("c", "k"), ("q", "k"),
          ("x", "ks"), ("w", "v"), ("z", "j"), ("C", "c"))
_REPEAT = re.compile(r"(.)\1+")
_NOT_LETTER = re.compile(r"[^a-z]")
_SKELETON_VOWELS = re.compile(r"(?<!^)[aeiouy]|^[aeiou]")
#: Below this many consonants a skeleton collides too often; the folded spelling is the key.
MIN_SKELETON = 3


@lru_cache(maxsize=1 << 16)
def match_key(word: str) -> str:
    """One word of either script → its cross-script key ("" for words with no letters)."""
    latin = romanise(word) if any("\u0900" <= ch <= "\u097f" for ch in word) else word
    latin = unicodedata.normalize("NFKD", latin.lower())
    latin = "".join(ch for ch in latin if not unicodedata.combining(ch))
    latin = _NOT_LETTER.sub("", latin)
    if not latin:
        return ""
    for src, dst in _FOLDS:
        latin = latin.replace(src, dst)
    latin = _REPEAT.sub(r"\1", latin.replace("ee", "i").replace("oo", "u")).replace("ai", "a")
    skeleton = _REPEAT.sub(r"\1", _SKELETON_VOWELS.sub("", latin))
    return skeleton if len(skeleton) >= MIN_SKELETON else latin
