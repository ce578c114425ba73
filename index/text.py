"""Text handling shared by indexing and querying: script detection, sentence splitting for
display/citation, and the one BM25 analyser used on both sides.

Everything here is a pure function of its input, needs no model and is cheap enough for the
query hot path. Two rules hold throughout:

* Display text is never rewritten. `split_sentences` returns slices of the string it was
  given, so a cited sentence is exactly what the article printed.
* `tokenize` is the only analyser. Index and query must agree token for token, so nothing else
  in Khabar should lower-case, stem or normalise text for BM25 on its own.
"""
from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

import Stemmer  # PyStemmer

from index.romanise import match_key

__all__ = [
    "HINDI_SHARE",
    "MAX_SENTENCE_CHARS",
    "STOPWORDS_EN",
    "STOPWORDS_ROMAN",
    "STOPWORDS_HI",
    "detect_lang",
    "devanagari_share",
    "nfc",
    "normalize_digits",
    "normalize_hindi",
    "split_sentences",
    "search_terms",
    "script_keys",
    "tokenize",
]

#: A text is treated as Hindi once this share of its letters is Devanagari. Low on purpose:
#: Hindi news is full of Latin names and acronyms ("Mahima Kaul ने इस्तीफा दिया"), while English
#: copy almost never contains Devanagari at all.
HINDI_SHARE = 0.3

#: A "sentence" longer than this (characters) is cut further, first at sentence ends inside
#: quotations, then at `;`/`,`, then at a space, so every sentence can be embedded whole and
#: shown as a readable citation. ~400 characters is ~80-100 words, far below 512 model tokens.
MAX_SENTENCE_CHARS = 400


# ---------------------------------------------------------------------------------------------
# Unicode and script
# ---------------------------------------------------------------------------------------------

def nfc(text: str) -> str:
    """Compose text so the same visible word is the same code-point sequence everywhere.

    Hindi sources mix precomposed and decomposed forms (e.g. nukta letters); NFC makes
    comparisons, offsets and caches agree.
    """
    return unicodedata.normalize("NFC", text)


def _is_devanagari(ch: str) -> bool:
    o = ord(ch)
    return 0x0900 <= o <= 0x097F or 0xA8E0 <= o <= 0xA8FF


def devanagari_share(text: str) -> float:
    """Share of letters that are Devanagari: the cheapest signal that survives mixed text.

    Only letters count (`str.isalpha`), so digits, punctuation and Devanagari vowel signs do not
    tilt the ratio; a text without letters has share 0.0.
    """
    letters = 0
    deva = 0
    for ch in text:
        if ch.isalpha():
            letters += 1
            if _is_devanagari(ch):
                deva += 1
    return deva / letters if letters else 0.0


def detect_lang(text: str) -> str:
    """"hi" or "en": Khabar only needs to know which analyser/prompting side a text is on."""
    return "hi" if devanagari_share(text) >= HINDI_SHARE else "en"


# ---------------------------------------------------------------------------------------------
# Sentence splitting
# ---------------------------------------------------------------------------------------------

_LINE_BREAKS = re.compile(r"[\n\r\u2028\u2029\x0b\x0c\x85]+")

#: A run of terminators followed by whatever closes a quotation or bracket; the closers belong
#: to the sentence that ends here (`...priority."`, `...किया है।'`).
_TERMINATOR = re.compile(r"[।॥.?!…]+[\"'”’»)\]}]*")

_CLOSERS = "\"'”’»)]}"
_OPENERS = "\"'“‘«([{"
_DQ_OPEN = "“„«"
_DQ_CLOSE = "”»"

#: Titles and particles that are practically never the last word of a sentence.
_ABBREV_NEVER_FINAL = frozenset(
    """mr mrs ms dr prof gen sen rep gov hon rev capt col lt maj sgt brig adm cmdr supt insp
    st mt ft messrs mme mlle e.g i.e cf viz vs v approx fig figs op smt shri sh km""".split()
)
#: Abbreviations that often stand inside a sentence but may also end one: the sentence ends
#: only if the next word is capitalised or in another script ("Twitter Inc. has" stays whole).
_ABBREV_MAYBE_FINAL = frozenset(
    """inc ltd co corp bros pvt plc llc jr sr etc al esq dept univ assn ave blvd rd
    jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu thur thurs fri sat sun
    no nos govt rs re ref vol vols pp ch sec art para cl misc est ed eds mfg intl natl
    a.m p.m u.s u.k u.n u.s.a e.u"""
    .split()
)
_ABBREV_ANY = _ABBREV_NEVER_FINAL | _ABBREV_MAYBE_FINAL
#: Devanagari abbreviations written with a full stop (डॉ. = Dr., प्रो. = Prof.).
_DEVA_NEVER_FINAL = frozenset("डॉ डा प्रो श्री सु कु".split())
#: English letter names as Devanagari initials ("आर. के. सिंह", "आई.ए.एस."). A lone one only
#: counts as an initial next to another initial, because words like आई/के can end a sentence.
_DEVA_INITIALS = frozenset(
    """ए बी सी डी ई एफ जी एच आई जे के एल एम एन ओ पी क्यू आर एस टी यू वी डब्ल्यू एक्स वाई
    जेड ज़ेड""".split()
)
_DEVA_INITIAL_NEXT = re.compile(
    r"\s*(?:" + "|".join(sorted(map(re.escape, _DEVA_INITIALS), key=len, reverse=True)) + r")\."
)


def _prev_word(line: str, pos: int) -> str:
    """The whitespace-delimited word that ends right before `pos`, without opening marks."""
    start = pos
    while start > 0 and not line[start - 1].isspace():
        start -= 1
    return line[start:pos].lstrip(_OPENERS)


def _next_char(line: str, pos: int) -> str:
    """First character of the next word after `pos`, skipping space and opening marks."""
    n = len(line)
    while pos < n and (line[pos].isspace() or line[pos] in _OPENERS):
        pos += 1
    return line[pos] if pos < n else ""


def _deva_initials(word: str) -> bool:
    """Whether `word` is one or more dotted Devanagari initials ("के", "आर.", "आई.ए.एस")."""
    parts = [p for p in word.split(".") if p]
    return bool(parts) and all(p in _DEVA_INITIALS for p in parts)


def _is_lower_latin(ch: str) -> bool:
    return ch.islower() and not _is_devanagari(ch)


def _period_ends(line: str, dot: int, end: int, spaced: bool) -> bool:
    """Whether a full stop at `line[dot]` (terminator run ending at `end`) ends a sentence."""
    word = _prev_word(line, dot)
    nxt = _next_char(line, end)
    if not spaced:
        # Jammed text ("said.The", "है.अगले") is split only for plain words; "1.5", "e.g,",
        # "twitter.com" and "U.S.-based" are not sentence ends.
        after = line[end:end + 2]
        if word and word[-1].islower() and len(word) >= 2 and word.isalpha() and len(after) == 2 \
                and after[0].isupper() and after[1].islower():
            return word.lower() not in _ABBREV_ANY
        if word and _is_devanagari(word[-1]) and after and _is_devanagari(after[0]) \
                and after[0].isalpha():
            if word in _DEVA_NEVER_FINAL or word.split(".")[-1] in _DEVA_INITIALS:
                return False
            return True
        return False
    if not nxt:
        return True
    if _is_lower_latin(nxt):
        return False  # "approx. ten", "Inc. has": English sentences start with a capital.
    key = word.lower()
    if key in _ABBREV_NEVER_FINAL or word in _DEVA_NEVER_FINAL:
        return False
    if len(word) == 1 and word.isupper() and word.isalpha():
        return False  # initials: "J. K. Rowling"
    if _deva_initials(word):
        before = dot - len(word)
        while before > 0 and line[before - 1].isspace():
            before -= 1
        prev = _prev_word(line, before)
        if "." in word or _DEVA_INITIAL_NEXT.match(line, end) \
                or (prev.endswith(".") and _deva_initials(prev)):
            return False  # "आर. के. सिंह", "आई.ए.एस. अधिकारी"
    dotted = "." in word and all(len(p) <= 2 and p.isalpha() for p in key.split("."))
    if key in _ABBREV_MAYBE_FINAL or dotted:
        return not nxt.isdigit()  # "Jan. 31", "Rs. 500", "No. 7" stay together
    return True


def _quote_spans(line: str) -> list[tuple[int, int]]:
    """Double-quotation spans (open, close) that open and close on this line.

    Straight quotes alternate open/close; curly ones have a direction; a span may open with one
    kind and close with the other (archives mix them). Single quotes are ignored because ’ and '
    are also apostrophes ("Twitter's", "farmers’").
    """
    spans: list[tuple[int, int]] = []
    open_at = -1
    for i, ch in enumerate(line):
        if ch == '"':
            if open_at < 0:
                open_at = i
            else:
                spans.append((open_at, i))
                open_at = -1
        elif ch in _DQ_OPEN and open_at < 0:
            open_at = i
        elif ch in _DQ_CLOSE and open_at >= 0:
            spans.append((open_at, i))
            open_at = -1
    return spans


def _line_boundaries(line: str) -> tuple[list[int], list[int]]:
    """Sentence ends in one line: (certain ends, ends inside a quotation).

    Ends inside a quotation keep a quoted statement and its attribution together
    (`"... at Twitter. We continue ...," a Twitter spokesperson said.`) and are only used
    when that would make a sentence longer than MAX_SENTENCE_CHARS.
    """
    ends: list[int] = []
    quoted: list[int] = []
    spans = _quote_spans(line) if ('"' in line or "“" in line or "«" in line) else []
    n = len(line)
    for m in _TERMINATOR.finditer(line):
        start, end = m.start(), m.end()
        run = line[start:end].rstrip(_CLOSERS)
        spaced = end >= n or line[end].isspace()
        if "।" in run or "॥" in run:
            ends.append(end)  # a danda always ends a sentence, spaced or jammed
            continue
        if "?" in run or "!" in run:
            ok = spaced and not _is_lower_latin(_next_char(line, end))
        elif "…" in run or ".." in run:
            nxt = _next_char(line, end)
            ok = spaced and (not nxt or (nxt.isupper() and not _is_devanagari(nxt)))
        else:
            ok = _period_ends(line, start + len(run) - 1, end, spaced)
        if not ok:
            continue
        # An end strictly inside a quotation (its closing mark is further on) is provisional.
        if any(o < start and c >= end for o, c in spans):
            quoted.append(end)
        else:
            ends.append(end)
    return ends, quoted


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _cut_long(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Cut an over-long span at `;`, then `,`, then a space, as close to the limit as possible."""
    out: list[tuple[int, int]] = []
    while end - start > MAX_SENTENCE_CHARS:
        window = text[start:start + MAX_SENTENCE_CHARS]
        floor = MAX_SENTENCE_CHARS // 3
        cut = -1
        for sep in (";", "；", ",", "，", "،"):
            i = window.rfind(sep)
            if i >= floor:
                cut = i + 1
                break
        if cut < 0:
            i = max(window.rfind(" "), window.rfind("\t"))
            cut = i if i >= floor else MAX_SENTENCE_CHARS
        s, e = _strip_span(text, start, start + cut)
        if e > s:
            out.append((s, e))
        start = start + cut
        start, end = _strip_span(text, start, end)
    if end > start:
        out.append((start, end))
    return out


def _pack(text: str, start: int, end: int, cuts: list[int]) -> list[tuple[int, int]]:
    """Join the pieces between `cuts` greedily while they fit in MAX_SENTENCE_CHARS."""
    pieces = []
    prev = start
    for c in cuts + [end]:
        s, e = _strip_span(text, prev, c)
        if e > s:
            pieces.append((s, e))
        prev = c
    out: list[tuple[int, int]] = []
    for s, e in pieces:
        if out and e - out[-1][0] <= MAX_SENTENCE_CHARS:
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def split_sentences(text: str) -> list[str]:
    """Sentences of display text, each an unaltered slice of `text` (whitespace trimmed).

    Ends: danda `।`/`॥` (always, even jammed or after a space), `?`/`!` (unless a lower-case
    word follows: `"Is it over?" he asked`), `.` (not after abbreviations, initials, inside
    numbers or before a lower-case word), an ellipsis only before a capital, and every line
    break (headlines, datelines and paragraphs carry no terminator). Closing quotes/brackets
    stay with the sentence they close, and a quotation with its attribution stays one
    sentence; see MAX_SENTENCE_CHARS for over-long pieces.
    """
    spans: list[tuple[int, int]] = []
    pos = 0
    line_ranges = []
    for m in _LINE_BREAKS.finditer(text):
        line_ranges.append((pos, m.start()))
        pos = m.end()
    line_ranges.append((pos, len(text)))

    for ls, le in line_ranges:
        line = text[ls:le]
        if not line.strip():
            continue
        ends, quoted = _line_boundaries(line)
        prev = 0
        for cut in ends + [len(line)]:
            s, e = _strip_span(text, ls + prev, ls + cut)
            prev = cut
            if e <= s:
                continue
            if e - s <= MAX_SENTENCE_CHARS:
                spans.append((s, e))
                continue
            inner = [ls + q for q in quoted if s < ls + q < e]
            for ps, pe in _pack(text, s, e, inner):
                spans.extend(_cut_long(text, ps, pe) if pe - ps > MAX_SENTENCE_CHARS else [(ps, pe)])
    return [text[s:e] for s, e in spans]


# ---------------------------------------------------------------------------------------------
# Digits
# ---------------------------------------------------------------------------------------------

_DEVA_DIGITS = str.maketrans("०१२३४५६७८९", "0123456789")

#: A number written with valid thousands grouping: Western 1,178 / 13,200 / 1,000,000 or Indian
#: 1,00,000 / 12,34,567. Anything else with commas (`3,4`, `1,2,3`, `10,00`) is a list or a
#: decimal comma and is left alone, because dropping the comma would invent a number.
_GROUPED_NUMBER = re.compile(
    r"(?<!\d)(?<!\d,)(?:\d{1,3}(?:,\d{3})+|\d{1,2}(?:,\d{2})+,\d{3})(?!\d|,\d)"
)


def normalize_digits(text: str) -> str:
    """ASCII digits without grouping commas, so "1,178", "1178" and "१,१७८" are one BM25 term."""
    text = text.translate(_DEVA_DIGITS)
    if "," not in text:
        return text
    return _GROUPED_NUMBER.sub(lambda m: m.group(0).replace(",", ""), text)


# ---------------------------------------------------------------------------------------------
# Hindi normalisation
# ---------------------------------------------------------------------------------------------

_VIRAMA = "\u094d"
_CONSONANTS = "\u0915-\u0939\u0958-\u095f\u0978-\u097f"

#: Lucene's IndicNormalizer (Devanagari rows): vowel written as a base vowel + sign, composed.
_INDIC_COMPOSE = (
    ("\u0905\u093e\u0945", "\u0911"),  # अ + ा + ॅ → ऑ
    ("\u0905\u093e\u0946", "\u0912"),  # अ + ा + ॆ → ऒ
    ("\u0905\u093e\u0947", "\u0913"),  # अ + ा + े → ओ
    ("\u0905\u093e\u0948", "\u0914"),  # अ + ा + ै → औ
    ("\u0905\u093e", "\u0906"),        # अ + ा → आ
    ("\u0905\u0945", "\u0972"),        # अ + ॅ → ॲ
    ("\u0905\u0949", "\u0911"),        # अ + ॉ → ऑ
    ("\u0905\u094a", "\u0912"),        # अ + ॊ → ऒ
    ("\u0905\u094b", "\u0913"),        # अ + ो → ओ
    ("\u0905\u094c", "\u0914"),        # अ + ौ → औ
    ("\u090f\u0945", "\u090d"),        # ए + ॅ → ऍ
    ("\u090f\u0946", "\u090e"),        # ए + ॆ → ऎ
    ("\u090f\u0947", "\u0910"),        # ए + े → ऐ
    ("\u0906\u0945", "\u0911"),        # आ + ॅ → ऑ
    ("\u093e\u0945", "\u0949"),        # ा + ॅ → ॉ
    ("\u093e\u0946", "\u094a"),        # ा + ॆ → ॊ
    ("\u093e\u0947", "\u094b"),        # ा + े → ो
    ("\u093e\u0948", "\u094c"),        # ा + ै → ौ
)

#: Lucene's nukta rules (composed letters and the combining sign), chandrabindu → anusvara,
#: ZWJ/ZWNJ removal, plus Khabar rule K1: ॉ/ऑ, the English "o" of loanwords, alternates with
#: ा/आ in Hindi spelling (डॉक्टर/डाक्टर, कॉंग्रेस/कांग्रेस, अकॉउंट/अकाउंट) far more often than
#: with ो, which is what Lucene maps it to; so it joins the a-class (Lucene then folds आ → अ).
_ORTHO = str.maketrans({
    "\u0901": "\u0902",  # chandrabindu → anusvara
    "\u093c": None,      # nukta
    "\u0929": "\u0928", "\u0931": "\u0930", "\u0934": "\u0933",
    "\u0958": "\u0915", "\u0959": "\u0916", "\u095a": "\u0917", "\u095b": "\u091c",
    "\u095c": "\u0921", "\u095d": "\u0922", "\u095e": "\u092b", "\u095f": "\u092f",
    "\u200d": None, "\u200c": None,  # ZWJ, ZWNJ
    "\u0949": "\u093e", "\u0911": "\u0906",  # K1: ॉ → ा, ऑ → आ
})

#: Khabar rule K3: the English plural "-्स" on a loanword (अकाउंट्स, हैंडल्स, यूजर्स) is
#: dropped. Only when at least _LOAN_PLURAL_MIN code points remain: short words ending in -्स
#: are mostly singular loans whose cut form is another word (टैक्स tax/टेक tech, नर्स nurse/नर,
#: हॉर्स horse/हार, पल्स pulse/पल), while plurals are long (यूजर्स, अकाउंट्स, फॉलोअर्स).
_LOAN_PLURAL_MIN = 4
_LOAN_PLURAL = re.compile(r"(?<=[" + _CONSONANTS + r"\u093e-\u094c\u0902])" + _VIRAMA + "\u0938$")

#: Lucene's dead-n rule (न् → ं) plus Khabar rule K2: the other nasal consonants ङ ञ ण म with
#: a virama before a consonant are the same nasal written out (सम्पर्क/संपर्क, पण्डित/पंडित,
#: गङ्गा/गंगा, चञ्चल/चंचल).
_DEAD_NASAL = re.compile("\u0928" + _VIRAMA + "|[\u0919\u091e\u0923\u092e]" + _VIRAMA
                         + "(?=[" + _CONSONANTS + "])")

#: The rest of Lucene's HindiNormalizer as one translate table, Khabar additions marked.
_FOLD = str.maketrans({
    _VIRAMA: None,
    "\u0945": "\u0947", "\u0946": "\u0947",  # chandra/short e → e
    "\u0949": "\u094b", "\u094a": "\u094b",  # chandra/short o → o (ॉ never gets here: K1)
    "\u090d": "\u090f", "\u090e": "\u090f",
    "\u0911": "\u0913", "\u0912": "\u0913",
    "\u0972": "\u0905",
    # long → short independent vowels
    "\u0906": "\u0905", "\u0908": "\u0907", "\u090a": "\u0909", "\u0960": "\u090b",
    "\u0961": "\u090c", "\u0910": "\u090f", "\u0914": "\u0913",
    # long → short dependent vowels
    "\u0940": "\u093f", "\u0942": "\u0941", "\u0944": "\u0943", "\u0963": "\u0962",
    "\u0948": "\u0947", "\u094c": "\u094b",
    # Khabar K4: visarga dropped (दुःख/दुख, अतः/अत), and the rare avagraha with it.
    "\u0903": None, "\u093d": None,
})

#: Khabar rule K5: the English diphthong "au/ow" is spelt ाउ, ॉउ or a bare उ after a consonant
#: (अकाउंट / अकॉउंट / आकउंट); ा directly before an independent उ (ऊ is already folded to उ) is
#: dropped. Native words hardly ever have that hiatus except the subjunctive -ाऊँ (जाऊँ),
#: which then collides with nothing.
_AU_GLIDE = re.compile("\u093e(?=\u0909)")


def _orthographic(word: str) -> str:
    """Stage 1: variants that are pure spelling (nukta, nasal marks, ZWJ, ॉ, loan plural).

    The Snowball stemmer is run between the two stages: its suffix list is written in standard
    orthography (long ी, ै ...), so it must see the word before vowel length is folded.
    """
    w = unicodedata.normalize("NFC", word)
    for seq, rep in _INDIC_COMPOSE:
        if seq in w:
            w = w.replace(seq, rep)
    w = w.translate(_ORTHO)
    if len(w) >= _LOAN_PLURAL_MIN + 2 and w.endswith(_VIRAMA + "\u0938"):
        w = _LOAN_PLURAL.sub("", w)
    return w


def _fold(word: str) -> str:
    """Stage 2: dead nasals, virama deletion, vowel length and the au glide (lossy folding)."""
    w = word
    if _VIRAMA in w:
        w = _DEAD_NASAL.sub("\u0902", w)
    w = w.translate(_FOLD)
    if "\u093e\u0909" in w:
        w = _AU_GLIDE.sub("", w)
    return w


@lru_cache(maxsize=1 << 17)
def normalize_hindi(word: str) -> str:
    """Fold the spelling variation of Hindi news into one form for BM25 (never for display).

    Lucene's HindiNormalizer (after its IndicNormalizer compositions), ported rule for rule —
    nukta, chandrabindu, ZWJ/ZWNJ, dead n, virama deletion, chandra/short vowels, long → short
    vowels — with Khabar rules K1-K5 for the variation Lucene leaves: ॉ ~ ा (K1), nasal
    clusters (K2), the loanword plural -्स (K3), visarga (K4) and the "au" glide (K5), so that
    अकाउंट्स, अकॉउंट्स and आकउंट all become अकउंट. Idempotent.
    """
    return _fold(_orthographic(word))


# ---------------------------------------------------------------------------------------------
# Stopwords
# ---------------------------------------------------------------------------------------------

#: Function words of Hindi news, in the spirit of Lucene's Hindi list (J. Savoy), without its
#: content words (घर, वर्ग) and with the auxiliaries and postpositions news copy is made of.
#: Matched before and after normalisation, so spelling variants (नहिं, हैँ) are stopwords too.
STOPWORDS_HI: frozenset[str] = frozenset(
    """
    अंदर अत अतः अदि अप अपना अपनी अपने अभी आदि आप इत्यादि इन इनका इनकी इनके इनको इन्हीं इन्हें
    इन्हों इन्होंने इस इसका इसकी इसके इसको इसमें इसी इसे इसलिए उन उनका उनकी उनके उनको उन्हीं
    उन्हें उन्हों उन्होंने उस उसका उसकी उसके उसको उसमें उसी उसे उसने एक एवं ऐसे ऐसा ऐसी ओर और कई
    कर करता करती करते करना करने करें करेगा करेगी करेंगे कहते कहा कहना कि किंतु किन्तु कितना किन्हें
    किन्होंने किया किए किये किसी किसे की कुछ के को कोई कौन कौनसा गया गई गए गये जब जहाँ जहां जा
    जाता जाती जाते जाना जाने जाए जाएगा जाएगी जाएंगे जिन जिन्हें जिन्होंने जिस जिसे जितना जिधर जैसा
    जैसे जो तक तथा तब तरह तो था थी थे थीं दिया दी दिए दिये दूसरे दो द्वारा न नहीं ना ने पर परंतु
    परन्तु पहले पूरा पे फिर बाद बहुत भी भीतर मगर मानो में मैं यदि यह यहाँ यहां यही या ये रहा रही
    रहे रहीं लिए लिये लिया लेकिन व वह वहाँ वहां वहीं वाले वाला वाली वे वो सकता सकती सकते सबसे
    सभी साथ से सो ही हुआ हुई हुए है हैं हो होता होती होते होना होने होगा होगी होंगे हम हमारा
    हमारी हमारे तुम का आपका आपकी आपके मेरा मेरी मेरे क्या क्यों कैसे कहाँ कहां अब जबकि यानी
    """.split()
)

#: The usual English function words (Lucene's set plus NLTK's list), contractions included.
STOPWORDS_EN: frozenset[str] = frozenset(
    """
    a about above after again against all am an and any are aren't as at be because been before
    being below between both but by can can't cannot could couldn't did didn't do does doesn't
    doing don't down during each few for from further had hadn't has hasn't have haven't having he
    he'd he'll he's her here here's hers herself him himself his how how's i i'd i'll i'm i've if
    in into is isn't it it's its itself let's me more most mustn't my myself no nor not of off on
    once only or other ought our ours ourselves out over own same shan't she she'd she'll she's
    should shouldn't so some such than that that's the their theirs them themselves then there
    there's these they they'd they'll they're they've this those through to too under until up
    very was wasn't we we'd we'll we're we've were weren't what what's when when's where where's
    which while who who's whom why why's will with won't would wouldn't you you'd you'll you're
    you've your yours yourself yourselves also just s t d ll m o re ve y
    """.split()
)

#: Hindi function words as people type them in Latin script ("twitter ne kitne accounts block
#: kiye?"): postpositions, auxiliaries, pronouns and question words carry no retrieval signal.
STOPWORDS_ROMAN: frozenset[str] = frozenset(
    """
    ne ko se ka ki ke me mein mai hai hain hei tha thi the ho hona hua hui hue kya kyu kyun kyon
    kaise kaisa kab kahan kaha kaun kon kisne kis kisko kise kitne kitna kitni aur bhi ya yeh ye
    woh wo vo vah liye lie diya diye di kiya kiye kar kari karne karta karti raha rahi rahe gaya
    gayi gaye gai wala wali wale apne apna apni unka unki unke unhone uska uski uske usne iska iski
    iske jab tab nahi nahin sabse kuch koi par pe tak bhai ji
    """.split()
)

_STOP_HI_NORM = frozenset(normalize_hindi(w) for w in STOPWORDS_HI)


# ---------------------------------------------------------------------------------------------
# The BM25 analyser
# ---------------------------------------------------------------------------------------------

_LATIN = "0-9A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff\u0300-\u036f"
#: Devanagari words keep their vowel signs, viramas and nasal marks (\w would cut "किसान" at
#: the ा); danda/double danda (U+0964/5) and the abbreviation sign (U+0970) are punctuation.
_DEVA = "\u0900-\u0963\u0971-\u097f\ua8e0-\ua8ff\u200c\u200d"
_TOKEN = re.compile(
    r"\d+(?:\.\d+)+"                              # decimals stay one term: 2.5
    rf"|[{_LATIN}]+(?:['’][{_LATIN}]+)*"           # Latin words, inner apostrophes kept
    rf"|[{_DEVA}]+"                                # Devanagari words
    r"|[^\W\d_]+"                                  # any other script, unstemmed
)
_DEVA_RE = re.compile(rf"[{_DEVA}]")

_local = threading.local()


def _stemmers() -> tuple[Stemmer.Stemmer, Stemmer.Stemmer]:
    """Per-thread Snowball stemmers: PyStemmer objects are cheap but not thread-safe."""
    pair = getattr(_local, "stemmers", None)
    if pair is None:
        pair = (Stemmer.Stemmer("english"), Stemmer.Stemmer("hindi"))
        _local.stemmers = pair
    return pair


@lru_cache(maxsize=1 << 17)
def _analyse(token: str) -> str | None:
    """One surface token → its BM25 term, or None when it carries no retrieval signal."""
    if _DEVA_RE.match(token):
        if token in STOPWORDS_HI:
            return None
        ortho = _orthographic(token)
        norm = _fold(ortho)
        if not norm or norm in _STOP_HI_NORM:
            return None
        stem = _stemmers()[1].stemWord(ortho)
        # A one-letter stem (कू → क, दे → द) says nothing and collides; keep the word.
        return _fold(stem) if len(stem) > 1 else norm
    if token[0].isdigit() and token.replace(".", "").isdigit():
        return token
    low = token.lower().replace("’", "'")
    if low in STOPWORDS_EN or low in STOPWORDS_ROMAN:
        # All-caps acronyms that spell a stopword are names: IT (ministry), US, UP, WHO.
        if 2 <= len(token) <= 4 and token.isupper() and token.isascii():
            return low
        return None
    if low.endswith("'s"):
        low = low[:-2]
    if "'" in low:
        low = low.replace("'", "")
    if len(low) < 2 and not low.isdigit():
        return None  # stray initials and the "s" of "U.S." carry nothing
    if low in STOPWORDS_EN:
        return None
    if _LATIN_WORD.fullmatch(low):
        return _stemmers()[0].stemWord(low)
    return low  # other scripts: lower-cased, unstemmed


_LATIN_WORD = re.compile(rf"[{_LATIN}]+")
_KEY_PREFIX = "~"


def tokenize(text: str) -> list[str]:
    """THE BM25 analyser, identical at index and query time.

    NFC → digit normalisation → words (Devanagari words whole, matras included) → stopwords
    dropped → Hindi: normalize_hindi + Snowball Hindi stem; English: Snowball English stem;
    numbers as they are. Returns new strings; the input is never modified.
    """
    if not text:
        return []
    text = normalize_digits(nfc(text))
    out: list[str] = []
    append = out.append
    analyse = _analyse
    for tok in _TOKEN.findall(text):
        term = analyse(tok)
        if term is not None:
            append(term)
    return out


def script_keys(text: str) -> list[str]:
    """Cross-script keys ("~kaul") of the words `tokenize` keeps, one per kept word.

    A Latin-script name and its Devanagari spelling share a key (index.romanise), so a query
    in one script can match text in the other; the keys are extra BM25 terms, never shown.
    """
    if not text:
        return []
    text = normalize_digits(nfc(text))
    out = []
    for tok in _TOKEN.findall(text):
        if tok[0].isdigit() or _analyse(tok) is None:
            continue
        key = match_key(tok)
        if key:
            out.append(_KEY_PREFIX + key)
    return out


def search_terms(text: str) -> list[str]:
    """What BM25 indexes and queries: the analysed terms plus their cross-script keys."""
    return tokenize(text) + script_keys(text)
