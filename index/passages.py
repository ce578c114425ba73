"""Documents → sentences → overlapping, sentence-aligned passages.

Passages are what we retrieve; sentences are what we quote. Keeping passages aligned to
sentence boundaries means every retrieved passage can be cut back into quotable sentences,
and the overlap keeps an answer that straddles two passages whole in at least one of them.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from index.config import IndexSettings
from index.corpus import Document
from index.text import detect_lang, split_sentences


@dataclass
class Sentence:
    sid: int
    doc_id: str
    position: int  # 1-based position of the sentence within its article
    text: str
    lang: str

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Passage:
    pid: int
    doc_id: str
    first_sid: int
    n_sentences: int
    lang: str

    @property
    def sids(self) -> range:
        return range(self.first_sid, self.first_sid + self.n_sentences)

    def to_json(self) -> dict:
        return asdict(self)


def passage_text(passage: Passage, sentences: list[Sentence]) -> str:
    return " ".join(sentences[s].text for s in passage.sids)


def bm25_text(title: str, body: str) -> str:
    """What BM25 indexes for a passage: its headline, then its text (builds and updates alike)."""
    return f"{title}\n{body}"


def titled(title: str, body: str) -> tuple[str, int]:
    """What the embedder sees of a passage's `body`: the headline first, which gives a paragraph its
    subject ("she" → Mahima Kaul), unless the body already starts with it; and where the body starts."""
    return (body, 0) if body.startswith(title) else (f"{title}\n{body}", len(title) + 1)


def embed_text(passage: Passage, sentences: list[Sentence], title: str) -> str:
    return titled(title, passage_text(passage, sentences))[0]


def segment(documents: list[Document], settings: IndexSettings) -> tuple[list[Sentence], list[Passage]]:
    sentences: list[Sentence] = []
    passages: list[Passage] = []
    size = max(1, settings.passage_sentences)
    step = max(1, size - max(0, settings.passage_overlap))
    for doc in documents:
        first = len(sentences)
        for pos, text in enumerate(split_sentences(doc.text), start=1):
            sentences.append(Sentence(len(sentences), doc.doc_id, pos, text, detect_lang(text)))
        n = len(sentences) - first
        start = 0
        while start < n:
            end, words = start, 0
            while end < n and end - start < size:
                words += len(sentences[first + end].text.split())
                end += 1
                if words >= settings.passage_max_words:
                    break
            lang = detect_lang(" ".join(s.text for s in sentences[first + start:first + end]))
            passages.append(Passage(len(passages), doc.doc_id, first + start, end - start, lang))
            if end >= n:
                break
            start = max(start + 1, min(start + step, end - (settings.passage_overlap if end - start > 1 else 0)))
    return sentences, passages
