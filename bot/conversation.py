"""Conversations: a conversation id (a Slack thread, a REPL session) → its recent turns.

A follow-up ("Till when will she stay?", "और सरकार ने क्या कहा?") is retrieved with the
earlier question prepended, so "she" finds Mahima Kaul. A self-contained question is left
alone: only questions that lean on context (pronouns, a leading "and", or very short ones)
borrow it, so a new topic in the same thread is not polluted by the old one.
"""
from __future__ import annotations

import re
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from bot.cache import LRU
from bot.config import ConversationSettings
from index.text import tokenize

if TYPE_CHECKING:  # only for the annotation: the state store is optional
    from bot.state import StateStore

# Words that point back at something said before, in English, Hindi and romanised Hindi.
# Only words that almost always point back: "that", "also" or "more" appear in plenty of
# self-contained questions, and reading those as follow-ups would pollute them with old topics.
_ANAPHORA_EN = r"he|she|him|her|his|hers|they|them|their|theirs|it|its|this|these|those"
_LEADING_EN = r"and|but|so|what about|how about|and what|also|then|why|why not"
_ANAPHORA_HI = ("वह|वे|वो|उस|उसे|उसने|उसका|उसकी|उसके|उन|उन्हें|उन्होंने|उनका|उनकी|उनके|इस|इसे|इसका|इसकी|इसके|"
                "इन|इन्हें|इनका|इनके|इनकी|यह|ये|वहां|वहाँ|तब")
_ANAPHORA_ROMAN = r"woh|wo|vah|unka|unki|unke|unhone|usne|uska|uski|iska|iski|inke|inka"
_FOLLOWUP_EN = re.compile(rf"\b(?:{_ANAPHORA_EN}|{_ANAPHORA_ROMAN})\b", re.IGNORECASE)
_LEADING = re.compile(rf"^\s*(?:{_LEADING_EN}|और|तो|फिर|लेकिन|aur|to|phir)\b", re.IGNORECASE)
_FOLLOWUP_HI = re.compile(rf"(?:^|[\s,।?])(?:{_ANAPHORA_HI})(?=$|[\s,।?])")
# A bare question word ("Why?", "कब?", "kyon?") asks about whatever was just discussed.
_BARE = re.compile(r"^\s*(?:why|when|where|how|who|what|which|how much|how many|why not|कब|क्यों|कैसे|कहां|कहाँ|"
                   r"कौन|क्या|किसने|कितने|kab|kyon|kyun|kaise|kahan|kaun|kya|kisne|kitne)\s*[?।!.]*\s*$",
                   re.IGNORECASE)


# "this week", "इस साल": a demonstrative that names a time, not a pointer back (common in dated questions).
_TIME_DEMONSTRATIVE = re.compile(
    r"\b(?:this|these)\s+(?:year|month|week|weekend|morning|afternoon|evening|time|season|session|quarter)s?\b|"
    r"(?<![\u0900-\u097f])(?:इस|इन)\s+(?:साल|वर्ष|महीने|हफ्ते|हफ़्ते|सप्ताह|बार|समय|सत्र)(?![\u0900-\u097f])",
    re.IGNORECASE)
# Pointers at an event or a thing: a question that names a new subject is about that subject, not these.
_EVENT_POINTERS = {"it", "its", "this", "these", "those"}
_CLAUSE_BREAK = re.compile(r",|;|\band\b|\bbut\b|\bafter\b|\bbefore\b|\bwhen\b", re.IGNORECASE)
_NOT_NAMES = {"who", "what", "when", "where", "why", "how", "which", "is", "are", "was", "did", "does", "do",
              "can", "will", "has", "have", "the", "a", "an", "i", "and", "but", "so", "then", "tell", "give",
              "he", "she", "they", "it", "this", "these", "those", "his", "her", "their", "its", "him", "them"}


def _names(question: str) -> list[tuple[int, str]]:
    """(position, name) of each capitalised run that is not a question or function word; the
    question's first word is capitalised anyway ("Till", "Why"), so `_NAME_RUN` never starts there."""
    start = len(question) - len(question.lstrip())
    out = []
    for m in _NAME_RUN.finditer(question[start:]):
        words = [w for w in m.group(0).split() if w.lower().strip("'’.") not in _NOT_NAMES]
        if words:
            out.append((start + m.start() + m.group(0).find(words[0]), " ".join(words)))
    return out


def is_followup(question: str, short_words: int, anchor: str = "") -> bool:
    """Does this question need its conversation (whose topic `anchor` is) to be understood?

    A bare question word or a leading "and"/"what about" always does. A pronoun does, unless the
    question itself names who or what it points at: a name in an earlier clause ("Who is Jack
    Dorsey and what did he like?"; not "What did Twitter say about her?"), or, for "it"/"this", a name the anchor does not have (a new subject: "What did
    the IT ministry say about it?" after a question about Mahima Kaul). Time demonstratives ("this
    week", "इस साल") point at a time, not back."""
    if _BARE.match(question) or _LEADING.search(question):
        return True
    text = _TIME_DEMONSTRATIVE.sub(" ", question)
    names = _names(text)
    new_names = [n for _, n in names if n.lower() not in anchor.lower()] if anchor else []
    for m in _FOLLOWUP_EN.finditer(text):
        word = m.group(0).lower()
        if any(at < m.start() and _CLAUSE_BREAK.search(text, at, m.start()) for at, _ in names):
            continue  # its antecedent is an earlier clause of the question itself
        if word in _EVENT_POINTERS and new_names:
            continue  # about a new subject, not the last one
        return True
    if _FOLLOWUP_HI.search(text):
        return True
    return len(tokenize(question)) <= short_words


@dataclass
class Turn:
    question: str
    retrieval_query: str
    #: The self-contained question this turn's topic comes from (itself, if it is not a follow-up).
    anchor: str
    answer_sids: list[int]
    #: Wall-clock seconds (time.time()): turns outlive a restart when a state store keeps them.
    at: float = field(default_factory=time.time)


class Conversations:
    """Bounded, expiring memory of turns (thread-safe: Slack answers on worker threads).

    A conversation is forgotten `idle_seconds` after its last turn; beyond `max_conversations`
    the least recently used goes first. With a `store` (bot.state.StateStore) every turn is also
    written through to disk, and a conversation not in memory (after a restart) is read back.
    """

    def __init__(self, settings: ConversationSettings, clock=time.monotonic, store: "StateStore | None" = None):
        self.settings = settings
        self.store = store
        self._items: LRU[str, tuple[Turn, ...]] = LRU(max(1, settings.max_conversations),
                                                      ttl_seconds=settings.idle_seconds, clock=clock)
        self._lock = threading.Lock()  # makes read-append-write of one conversation atomic

    def _turns(self, conversation_id: str) -> tuple[Turn, ...]:
        turns = self._items.get(conversation_id)
        if turns is None and self.store is not None:
            turns = tuple(Turn(**t) for t in self.store.load_turns(conversation_id, self.settings.idle_seconds))
            if turns:
                self._items.put(conversation_id, turns)
        return turns or ()

    def history(self, conversation_id: str | None) -> list[Turn]:
        if conversation_id is None:
            return []
        return list(self._turns(conversation_id))

    def add(self, conversation_id: str | None, turn: Turn) -> None:
        if conversation_id is None:
            return
        keep = max(1, self.settings.max_turns)
        with self._lock:
            turns = (self._turns(conversation_id) + (turn,))[-keep:]
            self._items.put(conversation_id, turns)
            if self.store is not None:
                self.store.save_turns(conversation_id, [asdict(t) for t in turns])

    def reset(self, conversation_id: str | None) -> None:
        if conversation_id is not None:
            with self._lock:
                self._items.pop(conversation_id)
                if self.store is not None:
                    self.store.forget_turns(conversation_id)

    def __len__(self) -> int:
        return len(self._items)


def contextualize(question: str, history: list[Turn], settings: ConversationSettings) -> tuple[str, str, bool]:
    """(query to retrieve with, the topic anchor, whether it was read as a follow-up).

    The last self-contained question anchors the topic; a chain of follow-ups keeps that
    anchor, so the retrieval query stays two questions long however long the thread gets.
    """
    if not history or not is_followup(question, settings.short_question_words, history[-1].anchor):
        return question, question, False
    anchor = history[-1].anchor
    return f"{anchor} {question}", anchor, True


# What a pronoun of a follow-up becomes once its antecedent is known: "she" → "Mahima Kaul",
# "her" → "Mahima Kaul's" is left to the reader; Hindi pronouns keep their postposition.
# "it"/"this" usually point at an event ("Who announced it?"), not at the anchor's subject: those
# follow-ups are read after their anchor instead.
_PRONOUN_EN = re.compile(r"\b(he|she|they|him|them|his|her|their)\b", re.IGNORECASE)
_POSSESSIVE_EN = {"his", "their"}
_PRONOUN_HI = {"वह": "", "वे": "", "वो": "", "उन्होंने": " ने", "उसने": " ने", "उनके": " के", "उसके": " के",
               "उनका": " का", "उसका": " का", "उनकी": " की", "उसकी": " की", "उन्हें": " को", "उसे": " को"}
_PRONOUN_HI_RE = re.compile(r"(?<![\u0900-\u097f])(" + "|".join(sorted(_PRONOUN_HI, key=len, reverse=True))
                            + r")(?![\u0900-\u097f])")
_NAME_RUN = re.compile(r"(?<!^)\b[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*)*")
_HI_QUESTION_WORD = re.compile(r"(?<![\u0900-\u097f])(?:कौन|क्या|कब|कहां|कहाँ|कितने|कितनी|कितना|किस|किसने|क्यों|कैसे)"
                               r"(?![\u0900-\u097f])")


def anchor_subject(anchor: str) -> str | None:
    """Who or what a self-contained question is about: its longest run of capitalised words
    ("Who is Mahima Kaul?" → "Mahima Kaul"), or for Hindi the words before its question word
    ("महिमा कौल कौन हैं?" → "महिमा कौल"); None when neither is found."""
    names = [m.group(0).strip(" '’.") for m in _NAME_RUN.finditer(anchor.strip())]
    if names:
        return max(names, key=len)
    m = _HI_QUESTION_WORD.search(anchor)
    if m:
        before = anchor[: m.start()].strip(" ,?।")
        words = before.split()
        if 1 <= len(words) <= 4 and not any(w in ("ने", "को", "से", "में", "पर") for w in words[-1:]):
            return before
    return None


def reader_question(question: str, anchor: str, followup: bool) -> str:
    """The question as the reader reads it: a follow-up's first pronoun replaced by what its anchor
    is about ("Till when will she stay?" → "Till when will Mahima Kaul stay?"); a follow-up with no
    pronoun to resolve ("Why?", "and the government?") is read after its anchor."""
    if not followup or not anchor or anchor == question:
        return question
    subject = anchor_subject(anchor)
    if subject:
        m = _PRONOUN_EN.search(question)
        if m:
            word = m.group(1).lower()
            said = f"{subject}'s" if word in _POSSESSIVE_EN else subject
            return question[: m.start()] + said + question[m.end():]
        m = _PRONOUN_HI_RE.search(question)
        if m:
            return question[: m.start()] + subject + _PRONOUN_HI[m.group(1)] + question[m.end():]
    return f"{anchor} {question}"
