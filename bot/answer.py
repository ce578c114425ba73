"""Stage 4: what an answer is, and how it is cited.

Nothing here writes prose. An answer is a sentence exactly as its article printed it, with
its citation; the same fact reported in other articles (often one Hindi, one English) becomes
one answer citing them all (`also_in`). Choosing the sentences is the pipeline's job
(bot/pipeline.py); this module only describes and cites them.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import numpy as np

from index.retrieve import Hit
from index.store import Index
from index.text import normalize_digits


@dataclass
class Citation:
    doc_id: str
    title: str
    date: str | None
    lang: str
    sentence: int  # 1-based position of the sentence in its article
    score: float
    url: str | None = None
    sid: int = -1

    def to_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k not in ("sid",)}


@dataclass
class Answer:
    text: str
    citation: Citation
    also_in: list[tuple[str, Citation]] = field(default_factory=list)  # (sentence text, citation)
    #: An earlier report of the same story that gave a different figure (bot/timeline.py), shown as
    #: one line "earlier: … (date)" so the reporter sees the story move; None: none.
    earlier: tuple[str, Citation] | None = None
    #: The sentence's embedding (groups reports of one fact; not part of the JSON).
    vector: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def score(self) -> float:
        return self.citation.score

    def to_json(self) -> dict:
        c = self.citation
        return {"text": self.text, "doc_id": c.doc_id, "title": c.title, "date": c.date, "lang": c.lang,
                "sentence": c.sentence, "score": round(c.score, 4), "url": c.url,
                "also_in": [{"text": t, **{k: v for k, v in a.to_json().items() if k != "score"},
                             "score": round(a.score, 4)} for t, a in self.also_in],
                "earlier": None if self.earlier is None else
                {"text": self.earlier[0], **{k: v for k, v in self.earlier[1].to_json().items() if k != "score"}}}


@dataclass
class AnswerResult:
    question: str
    answers: list[Answer]
    passages: list[Hit]
    abstained: bool
    index: Index | None = None
    retrieval_query: str = ""
    #: The self-contained question this turn's topic comes from (the conversation remembers it).
    anchor: str = ""
    followup: bool = False
    #: Calibrated probability that the top sentence answers the question (None: not scored).
    confidence: float | None = None
    #: The input was chat ("thanks", "lol", an emoji), not a question: no archive quote.
    not_question: bool = False
    #: Why there is no answer, in words (empty when answered; for not_sure, why the quotes are labelled).
    reason: str = ""
    #: "answer": the quotes answer; "not_sure": the closest quotes, which may not answer (one line
    #: says so before them); "none": nothing found (`abstained`). Left empty, it follows `abstained`.
    tier: str = ""
    #: The rules that refused it (bot.pipeline.refusals), and the sentence ranked first whatever the
    #: tier: evaluation measures each rule and tier with them (not part of the JSON).
    refused_by: list[str] = field(default_factory=list)
    top_sid: int | None = None
    #: Seconds spent in each pipeline stage: retrieve (understand, embed, search) and choose
    #: (features, scoring, citing).
    seconds: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.tier:
            self.tier = "none" if self.abstained else "answer"

    def to_json(self) -> dict:
        pid_doc = self.index.passages if self.index is not None else None
        return {
            "question": self.question,
            "answers": [a.to_json() for a in self.answers],
            "passages": [{"doc_id": pid_doc[h.pid].doc_id if pid_doc else None, "passage_id": h.pid,
                          "score": round(h.score, 4)} for h in self.passages],
            "abstained": self.abstained,
            "tier": self.tier,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "not_question": self.not_question,
            "reason": self.reason,
        }


def _key_numbers(text: str) -> set[str]:
    """Numbers of three or more digits (1178, 257, 2021): the facts two reports must agree on."""
    return set(re.findall(r"\d{3,}", normalize_digits(text)))


def numbers_agree(a_text: str, b_text: str) -> bool:
    """Two reports of one fact carry the same key numbers (1,178 is not 257)."""
    na, nb = _key_numbers(a_text), _key_numbers(b_text)
    return not ((na or nb) and not (na & nb))


def same_fact(a_vec: np.ndarray, b_vec: np.ndarray, a_text: str, b_text: str, threshold: float) -> bool:
    return float(a_vec @ b_vec) >= threshold and numbers_agree(a_text, b_text)


def citation(index: Index, sid: int, score: float) -> Citation:
    sent = index.sentences[sid]
    doc = index.documents[sent.doc_id]
    return Citation(doc_id=doc.doc_id, title=doc.title, date=doc.date, lang=sent.lang, sentence=sent.position,
                    score=score, url=doc.url, sid=sid)


def other_reports(index: Index, answers: list[Answer], vecs: list[np.ndarray], pool: list[int],
                  qvecs: list[np.ndarray], threshold: float) -> None:
    """Cite each chosen fact's reports in other articles (often the other language's), from `pool`."""
    if not answers or not pool:
        return
    pvecs = np.asarray(index.sentence_vectors[pool], dtype=np.float32)
    sims = pvecs @ np.stack(vecs).T  # pool × answers
    qsim = np.mean([pvecs @ q for q in qvecs], axis=0)
    for j in np.argsort(-qsim, kind="stable"):
        sent = index.sentences[pool[j]]
        for a_i, a in enumerate(answers):
            if sims[j, a_i] < threshold or not numbers_agree(a.text, sent.text):
                continue
            cited = {a.citation.doc_id} | {c.doc_id for _, c in a.also_in}
            if sent.doc_id not in cited:
                a.also_in.append((sent.text, citation(index, pool[j], float(qsim[j]))))
            break
