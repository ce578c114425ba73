"""Stage 1 of a question's path: clean it, decide whether it is a question at all, and read it.

Every front end calls this the same way (through the pipeline), so the CLI, the REPL and Slack
agree on what a non-question is: "lol", "thanks", "ok", ":+1:" or an emoji get no archive quote.
A keyword query ("Mahima Kaul resignation") is still a question: reporters search that way.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from bot.when import NOTHING, When
from index.text import STOPWORDS_HI, STOPWORDS_ROMAN, detect_lang, normalize_digits, tokenize


class QuestionError(ValueError):
    """The question cannot be asked as it is; the message says how to fix it."""


def clean_question(text: str, max_chars: int) -> str:
    """Strip control characters and whitespace; refuse empty and over-long questions."""
    # Controls become spaces; invisible format characters (soft hyphen, zero-width space, BOM) are
    # dropped so they do not split a pasted word in two; ZWJ/ZWNJ shape Devanagari and are kept.
    text = "".join(ch if unicodedata.category(ch)[0] != "C" or ch in "\u200c\u200d"
                   else "" if unicodedata.category(ch) == "Cf" else " " for ch in text)
    text = " ".join(text.split())
    if not text:
        raise QuestionError("The question is empty. Ask something like "
                            "\"How many accounts did the government order Twitter to block?\"")
    if len(text) > max_chars:
        raise QuestionError(f"The question is {len(text)} characters long; the limit is {max_chars}. "
                            f"Ask about one thing, in a sentence or two.")
    return text


# --- what kind of thing is asked ---------------------------------------------------------------
# Question words in English, Hindi and romanised Hindi; each maps to an answer type.
_TYPES = {
    "number": re.compile(r"\b(how many|how much|how long|what number|what percentage|kitne|kitni|kitna)\b"
                         r"|कितन", re.IGNORECASE),
    "date": re.compile(r"\b(when|what date|which day|what year|which year|till when|until when|since when|kab)\b"
                       r"|कब|किस साल|किस वर्ष|किस तारीख", re.IGNORECASE),
    "person": re.compile(r"\b(who|whom|whose|kaun|kon|kisne)\b|कौन|किसने|किसको|किसे", re.IGNORECASE),
    "reason": re.compile(r"\b(why|kyon|kyun|kyu|for what reason)\b|क्यों|क्यूं|किस वजह|किस कारण", re.IGNORECASE),
    "place": re.compile(r"\b(where|kahan|kaha)\b|कहां|कहाँ|किस जगह", re.IGNORECASE),
    "definition": re.compile(r"^\s*(who|what)\s+(is|was|are|were)\b|\b(kaun|kya)\s+(hai|hain|tha|thi)\b"
                             r"|कौन (है|हैं|था|थी)|क्या (है|हैं)\s*[?।]?\s*$", re.IGNORECASE),
}
_QUESTION_WORD = re.compile(
    r"\b(what|which|who|whom|whose|when|where|why|how|kya|kyun|kyon|kyu|kab|kahan|kaun|kon|kisne|kitne|"
    r"kitna|kitni|kaise|batao|bataiye|bataye)\b|क्या|क्यों|कब|कहां|कहाँ|कौन|किसने|किस|कितन|कैसे|बताइए|बताओ|बताएं",
    re.IGNORECASE)
#: Auxiliaries and requests open a question only at its start ("Did Twitter comply", not "this is great").
_QUESTION_START = re.compile(r"^\s*(is|are|was|were|did|does|do|can|could|has|have|had|will|would|should|"
                             r"tell|show|find|list|explain|give)\b", re.IGNORECASE)

# --- chat that is not a question ---------------------------------------------------------------
#: Words and phrases of acknowledgement, thanks, greeting and laughter (English, Hindi, romanised).
_CHAT_WORDS = frozenset("""
    lol lmao rofl haha hahaha hehe ok okay okk k kk cool nice great good thanks thank thx ty tysm
    cheers awesome perfect sure yes yeah yep yup no nope nah fine done noted got it gotcha right
    correct agreed wow oh hmm hm ah welcome hi hello hey heya namaste namaskar bye gm gn morning
    night catch lot much very so super sahi theek thik hai haan han ha accha acha achha shukriya
    dhanyavad dhanyawad badhiya bahut bohot ji bilkul chalo thanx tnx plz please pls the a you u
    all again for that this is was it me just and
    धन्यवाद शुक्रिया ठीक है हां हाँ जी अच्छा बढ़िया बहुत नमस्ते नमस्कार ओके सही बिलकुल बिल्कुल
""".split())
#: Laughter and thanks: a message carrying one and no question marker is talk, not a search.
_CHAT_MARKERS = frozenset("lol lmao rofl haha hahaha hehe thanks thank thx ty tysm shukriya dhanyavad dhanyawad "
                          "धन्यवाद शुक्रिया".split())
_GREETINGS = frozenset("hi hello hey heya namaste namaskar gm नमस्ते नमस्कार".split())
_HELP = re.compile(r"^\s*(help|\?|madad|sahayata|मदद|सहायता|what can you do|how does this work)\s*[?!.]*\s*$",
                   re.IGNORECASE)
_SLACK_EMOJI = re.compile(r":[a-z0-9_+\-']+:", re.IGNORECASE)
_WORD = re.compile(r"(?:[^\W_]|[\u0900-\u0963\u0966-\u097f])+")  # Devanagari words keep their vowel signs


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(_SLACK_EMOJI.sub(" ", text))]


def _is_acronym(word: str, text: str) -> bool:
    """An all-caps word of two or more letters ("IT", "US") is a name, not the chat word "it"/"us"."""
    return len(word) >= 2 and word.isascii() and word.isalpha() and \
        bool(re.search(rf"\b{re.escape(word.upper())}\b", text))


def is_greeting(text: str) -> bool:
    words = _words(text)
    return bool(words) and words[0] in _GREETINGS and all(w in _CHAT_WORDS for w in words)


def is_help_request(text: str) -> bool:
    return bool(_HELP.match(text))


def is_question(text: str) -> bool:
    """False for chat: emoji, punctuation, laughter, thanks, greetings, acknowledgements.

    Anything with a question mark, a question word, or a content word outside the chat
    vocabulary is a question (keyword searches included).
    """
    if is_help_request(text):
        return False  # "help" asks about Khabar, not the archive: front ends show their help text
    words = _words(text)
    if not words:
        return False  # only emoji, punctuation or Slack :codes:, with or without a "?"
    plain = _SLACK_EMOJI.sub(" ", text)
    if "?" in text or _QUESTION_WORD.search(plain) or _QUESTION_START.match(plain):
        return True
    if any(w in _CHAT_MARKERS for w in words):
        return False  # "haha nice one", "thanks, she was great"
    if all((w in _CHAT_WORDS or w in STOPWORDS_ROMAN or w in STOPWORDS_HI) and not _is_acronym(w, text)
           for w in words):
        return False
    return True


def asks_something(text: str) -> bool:
    """Reads as a question put to someone: a "?", a question word (English, Hindi, romanised) or a
    question's opening ("Did…", "Tell me…"). Stricter than `is_question`, which also takes keyword
    searches: a reply in a thread Khabar follows must ask, or it is talk between colleagues
    ("I'll call her office tomorrow and confirm")."""
    if not is_question(text):
        return False
    plain = _SLACK_EMOJI.sub(" ", text)
    return "?" in text or bool(_QUESTION_WORD.search(plain) or _QUESTION_START.match(plain))


def answer_types(question: str) -> set[str]:
    return {name for name, rx in _TYPES.items() if rx.search(question)}


# --- the question, read --------------------------------------------------------------------------
_ROMAN_MARKERS = frozenset("""
    ne ko se ka ki ke mein hai hain tha thi kya kyu kyun kyon kab kahan kaun kon kisne kitne kitna
    kitni kaise kiya kiye diya diye hua hui hue gaya gayi gaye karne wala wali wale unka unki unhone
    uska uski usne iska iski batao bataiye
""".split())
_NAME_LIKE = re.compile(r"\b(?:[A-Z][\w'’\-]*|[A-Z]{2,})")


def is_romanised_hindi(text: str) -> bool:
    """Latin-script Hindi ("twitter ne kitne accounts block kiye?"): Hindi function words in Latin."""
    words = [w.lower() for w in re.findall(r"[A-Za-z]+", text)]
    if not words or detect_lang(text) == "hi":
        return False
    marks = sum(w in _ROMAN_MARKERS for w in words)
    return marks >= 2 or (marks >= 1 and len(words) <= 4)


def is_romanised_marker(word: str) -> bool:
    """A Hindi function word in Latin script (ne, ki, kitne, kiya…)."""
    return word.lower() in _ROMAN_MARKERS


def salient_terms(question: str) -> list[str]:
    """The names and numbers the question is about: capitalised words after the first word (the
    first is capitalised anyway: "Prior to Manning…", "Name one way…"), all-caps acronyms anywhere,
    and numbers of two or more digits. Possessives are cut ("Earth's" → "Earth"). The sentence
    features look for all of them; the answerability check for the names."""
    text = normalize_digits(question)
    out = []
    for m in _NAME_LIKE.finditer(text):
        word = re.sub(r"['’]s$", "", m.group(0)).strip("'’-")
        first = not text[: m.start()].strip(" \"'“‘(¿¡")
        if first and not (len(word) >= 2 and word.isupper()):
            continue
        out.append(word)
    out += re.findall(r"\b\d{2,}\b", text)
    return [w for w in dict.fromkeys(out)
            if w and (w.isupper() or w.lower() not in _CHAT_WORDS) and not _QUESTION_WORD.fullmatch(w)
            and tokenize(w)]


@dataclass
class Understood:
    """A cleaned question, as the rest of the pipeline needs it."""
    question: str
    #: What retrieval searches with (the question, or for a follow-up, its anchor + the question).
    query: str
    #: The self-contained question this turn's topic comes from.
    anchor: str
    followup: bool
    is_question: bool
    lang: str
    romanised: bool
    answer_types: set[str] = field(default_factory=set)
    salient: list[str] = field(default_factory=list)
    #: A romanised question's query read in Devanagari (bot/transliterate.py), searched beside it.
    devanagari: str | None = None
    #: What the question says about time (bot/when.py), read against the pipeline's reference time.
    when: When = NOTHING

    @property
    def search_text(self) -> str:
        """What retrieval and the lexical features search with: the query, and its Devanagari reading."""
        return f"{self.query} {self.devanagari}" if self.devanagari else self.query

    @property
    def readings(self) -> list[str]:
        """The question's distinct readings (typed, follow-up query, Devanagari), each embedded once
        for the dense search, the pooled cosines and token alignment."""
        return list(dict.fromkeys(r for r in (self.question, self.query, self.devanagari) if r))


def understand(question: str, query: str, anchor: str, followup: bool) -> Understood:
    return Understood(question=question, query=query, anchor=anchor, followup=followup,
                      is_question=is_question(question), lang=detect_lang(question),
                      romanised=is_romanised_hindi(question), answer_types=answer_types(question),
                      salient=salient_terms(question))
