"""The extractive answerer: pick the sentences that answer, cite them, or abstain.

Nothing here writes prose. Candidate sentences come from the best passages; each is scored
by how close it is to the question (its own embedding), how good its passage was, how many
question terms it shares, and whether it has the kind of thing the question asks for (a
number for "how many / कितने", a date for "when / कब", a name for "who / कौन"). The same fact
reported in two articles (often one Hindi, one English) becomes one answer citing both.
"""
from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass, field

import numpy as np

from bot.config import AnswerSettings
from index.embed import Embedder
from index.passages import embed_text, passage_text
from index.retrieve import Hit
from index.store import Index
from index.text import detect_lang, normalize_digits, tokenize


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

    @property
    def score(self) -> float:
        return self.citation.score

    def to_json(self) -> dict:
        c = self.citation
        return {"text": self.text, "doc_id": c.doc_id, "title": c.title, "date": c.date, "lang": c.lang,
                "sentence": c.sentence, "score": round(c.score, 4), "url": c.url,
                "also_in": [{"text": t, **{k: v for k, v in a.to_json().items() if k != "score"},
                             "score": round(a.score, 4)} for t, a in self.also_in]}


@dataclass
class AnswerResult:
    question: str
    answers: list[Answer]
    passages: list[Hit]
    abstained: bool
    index: Index | None = None
    retrieval_query: str = ""
    followup: bool = False

    def to_json(self) -> dict:
        pid_doc = self.index.passages if self.index is not None else None
        return {
            "question": self.question,
            "answers": [a.to_json() for a in self.answers],
            "passages": [{"doc_id": pid_doc[h.pid].doc_id if pid_doc else None, "passage_id": h.pid,
                          "score": round(h.score, 4)} for h in self.passages],
            "abstained": self.abstained,
        }


# --- answer-type cues -------------------------------------------------------------------------
# Question words in English, Hindi and romanised Hindi; each maps to a detector on the sentence.
_CUES = {
    "number": re.compile(r"\b(how many|how much|how long|what number|kitne|kitni|kitna)\b|कितन|कितने|कितनी|कितना",
                         re.IGNORECASE),
    "date": re.compile(r"\b(when|what date|which day|what year|till when|until when|since when|kab)\b|कब",
                       re.IGNORECASE),
    "person": re.compile(r"\b(who|whom|whose|kaun|kisne)\b|कौन|किसने|किसको|किसे", re.IGNORECASE),
}
_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|december|"
           "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|monday|tuesday|wednesday|thursday|friday|"
           "saturday|sunday|today|yesterday|tomorrow")
_HI_TIME = ("जनवरी|फरवरी|फ़रवरी|मार्च|अप्रैल|मई|जून|जुलाई|अगस्त|सितंबर|सितम्बर|अक्टूबर|अक्तूबर|नवंबर|नवम्बर|"
            "दिसंबर|दिसम्बर|सोमवार|मंगलवार|बुधवार|गुरुवार|शुक्रवार|शनिवार|रविवार")
_DATE = re.compile(rf"\b(?:{_MONTHS})\b|\b(?:1[89]|20)\d\d\b|{_HI_TIME}", re.IGNORECASE)
_NUMBER = re.compile(r"\d")
# A capitalised word not at the sentence start, or a Hindi honorific/role: crude but language-fair.
_PERSON = re.compile(r"(?<=[a-z,;] )[A-Z][a-z]+|श्री|श्रीमती|डॉ|निदेशक|मंत्री|प्रवक्ता|अध्यक्ष")


#: Columns of Answerer.features, in the order of the AnswerSettings weights.
FEATURES = ("similarity", "alignment", "passage", "lexical", "cue")


def answer_types(question: str) -> set[str]:
    return {name for name, rx in _CUES.items() if rx.search(question)}


def cue_matches(kinds: set[str], sentence: str) -> float:
    if not kinds:
        return 0.0
    text = normalize_digits(sentence)
    hits = 0
    for kind in kinds:
        rx = {"number": _NUMBER, "date": _DATE, "person": _PERSON}[kind]
        hits += bool(rx.search(text))
    return hits / len(kinds)


def _key_numbers(text: str) -> set[str]:
    """Numbers of three or more digits (1178, 257, 2021): the facts two reports must agree on."""
    return set(re.findall(r"\d{3,}", normalize_digits(text)))


class Answerer:
    def __init__(self, index: Index, settings: AnswerSettings, embedder: Embedder | None = None):
        self.index = index
        self.settings = settings
        self.embedder = embedder
        self._token_cache: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._cache_lock = threading.Lock()

    def answer(self, question: str, hits: list[Hit], qvecs: list[np.ndarray], top_k: int | None = None,
               retrieval_query: str | None = None) -> AnswerResult:
        """Best sentences of the top passages, grouped by fact, or an abstention.

        `qvecs` are query embeddings whose cosines are averaged (the question itself, and for a
        follow-up the question in its conversation's context).
        """
        s = self.settings
        top_k = top_k or s.top_k
        result = AnswerResult(question=question, answers=[], passages=hits, abstained=True, index=self.index,
                              retrieval_query=retrieval_query or question)
        if self.should_abstain(question, hits):
            return result
        sids, feats, svecs = self.features(question, hits, qvecs, retrieval_query)
        scores = feats @ self.weights()
        order = np.argsort(-scores, kind="stable")
        answers: list[Answer] = []
        used_vecs: list[np.ndarray] = []
        best = float(scores[order[0]])
        for i in order:
            sid = int(sids[i])
            score = float(scores[i])
            sent = self.index.sentences[sid]
            if len(sent.text.split()) < 3 and not _NUMBER.search(sent.text):
                continue  # a bare headline fragment or dateline answers nothing
            if any(self._same_fact(v, svecs[i], a.text, sent.text) for a, v in zip(answers, used_vecs)):
                continue  # a weaker report of a fact already chosen: cited below, not repeated
            if len(answers) >= top_k or best - score > s.max_score_gap:
                break
            answers.append(Answer(text=sent.text, citation=self._citation(sid, score)))
            used_vecs.append(svecs[i])
        self._add_other_reports(answers, used_vecs, hits[: s.also_in_passages], qvecs)
        result.answers = answers
        result.abstained = not answers
        return result

    def best_dense(self, question: str, hits: list[Hit]) -> tuple[float, float]:
        """Best dense cosine among passages in the question's language, and among the others."""
        qlang = detect_lang(question)
        same = [h.dense for h in hits if self.index.passages[h.pid].lang == qlang]
        cross = [h.dense for h in hits if self.index.passages[h.pid].lang != qlang]
        return max(same, default=-1.0), max(cross, default=-1.0)

    def should_abstain(self, question: str, hits: list[Hit]) -> bool:
        """No passage is close enough to have the answer.

        Cross-lingual cosines run lower than same-language ones for the same relevance, so each
        has its own threshold (calibrated on XQuAD by scripts/tune_answerer.py).
        """
        if not hits:
            return True
        same, cross = self.best_dense(question, hits)
        return same < self.settings.abstain_below_same and cross < self.settings.abstain_below_cross

    def weights(self) -> np.ndarray:
        s = self.settings
        return np.array([s.w_similarity, s.w_alignment, s.w_passage, s.w_lexical, s.w_cue], dtype=np.float32)

    def _passage_tokens(self, pid: int) -> tuple[np.ndarray, np.ndarray]:
        """Token vectors of a passage as the index embedded it, kept in a small LRU cache."""
        with self._cache_lock:
            if pid in self._token_cache:
                self._token_cache.move_to_end(pid)
                return self._token_cache[pid]
        p = self.index.passages[pid]
        text = embed_text(p, self.index.sentences, self.index.documents[p.doc_id].title)
        value = self.embedder.token_vectors(text, self.embedder.passage_prompt)
        with self._cache_lock:
            self._token_cache[pid] = value
            while len(self._token_cache) > self.settings.token_cache_passages:
                self._token_cache.popitem(last=False)
        return value

    def prewarm(self, stop: threading.Event | None = None) -> int:
        """Encode the tokens of every passage that fits the cache, so long-running front ends
        (REPL, Slack) answer small archives at warm-cache speed from the first question.
        Checks `stop` between passages so a shutdown never waits for the whole archive."""
        if self.embedder is None or not self.settings.align_passages:
            return 0
        n = min(len(self.index.passages), self.settings.token_cache_passages)
        for pid in range(n):
            if stop is not None and stop.is_set():
                return pid
            self._passage_tokens(pid)
        return n

    def alignment(self, queries: list[str], pids: list[int]) -> dict[int, float]:
        """Late-interaction score per sentence of the given passages.

        Each question token is matched to its most similar token of the sentence (contextual
        token embeddings of the passage, so pronouns carry their antecedents) and the matches
        are averaged. On XQuAD this picks the answer sentence within a passage far better than
        the pooled sentence vector, most of all across languages (BENCHMARKS.md).
        """
        if self.embedder is None or not pids:
            return {}
        qtoks = []
        for q in queries:
            vecs, offs = self.embedder.token_vectors(q, self.embedder.query_prompt)
            qtoks.append(vecs[offs[:, 0] >= 0] if (offs[:, 0] >= 0).any() else vecs)
        out: dict[int, float] = {}
        for pid in pids:
            p = self.index.passages[pid]
            tvecs, offs = self._passage_tokens(pid)
            title = self.index.documents[p.doc_id].title
            body = passage_text(p, self.index.sentences)
            pos = 0 if body.startswith(title) else len(title) + 1
            starts = np.maximum(offs[:, 0], 0)
            valid = offs[:, 1] > 0
            for sid in p.sids:
                n = len(self.index.sentences[sid].text)
                mask = valid & (starts >= pos) & (starts < pos + n)
                pos += n + 1
                if not mask.any():
                    continue
                sent = tvecs[mask]
                score = float(np.mean([(q @ sent.T).max(axis=1).mean() for q in qtoks]))
                out[sid] = max(out.get(sid, -1.0), score)
        return out

    def features(self, question: str, hits: list[Hit], qvecs: list[np.ndarray],
                 retrieval_query: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Candidate sentence ids, their feature rows (FEATURES order) and their embeddings.

        Kept separate from the scoring so scripts/tune_answerer.py tunes exactly this code.
        """
        considered = hits[: self.settings.passages_considered]
        # The passage term uses the dense cosine, not the fused score: BM25's bonus only exists in
        # the question's language and would push the other language's report out of the answer.
        best_passage = max(h.dense for h in considered)
        sid_passage: dict[int, float] = {}
        for h in considered:
            for sid in self.index.passages[h.pid].sids:
                sid_passage[sid] = max(sid_passage.get(sid, -1e9), h.dense)
        sids = np.fromiter(sid_passage, dtype=np.int64)
        svecs = np.asarray(self.index.sentence_vectors[sids], dtype=np.float32)
        sim = np.mean([svecs @ q for q in qvecs], axis=0)
        q_terms = set(tokenize(retrieval_query or question)) | set(tokenize(question))
        idf = self.index.bm25.idf(sorted(q_terms))
        q_weight = sum(idf.values())
        kinds = answer_types(question)
        queries = list(dict.fromkeys([question, retrieval_query or question]))
        aligned = self.alignment(queries, [h.pid for h in considered[: self.settings.align_passages]])
        # Sentences outside the aligned passages stand in with their pooled cosine, shifted by the
        # mean gap between the two scores on the aligned sentences so both are on one scale.
        pos = {int(sid): i for i, sid in enumerate(sids)}
        gaps = [score - sim[pos[sid]] for sid, score in aligned.items() if sid in pos]
        offset = float(np.mean(gaps)) if gaps else 0.0
        feats = np.zeros((len(sids), len(FEATURES)), dtype=np.float32)
        for i, sid in enumerate(sids):
            text = self.index.sentences[sid].text
            matched = q_terms.intersection(tokenize(text))
            feats[i] = (sim[i], aligned.get(int(sid), sim[i] + offset), sid_passage[int(sid)] - best_passage,
                        sum(idf[t] for t in matched) / q_weight if q_weight else 0.0, cue_matches(kinds, text))
        return sids, feats, svecs

    def _add_other_reports(self, answers: list[Answer], vecs: list[np.ndarray], hits: list[Hit],
                           qvecs: list[np.ndarray]) -> None:
        """Cite each chosen fact's other reports (often the other language's) from a wider pool.

        The pool is wider than the answer candidates because the question's language wins
        the top passages; the Hindi report of a fact asked about in English sits lower.
        """
        if not answers:
            return
        pool = list(dict.fromkeys(sid for h in hits for sid in self.index.passages[h.pid].sids))
        pvecs = np.asarray(self.index.sentence_vectors[pool], dtype=np.float32)
        sims = pvecs @ np.stack(vecs).T  # pool × answers
        qsim = np.mean([pvecs @ q for q in qvecs], axis=0)
        for j in np.argsort(-qsim, kind="stable"):
            sent = self.index.sentences[pool[j]]
            for a_i, a in enumerate(answers):
                if sims[j, a_i] < self.settings.same_fact_similarity or not self._numbers_agree(a.text, sent.text):
                    continue
                cited = {a.citation.doc_id} | {c.doc_id for _, c in a.also_in}
                if sent.doc_id not in cited:
                    a.also_in.append((sent.text, self._citation(pool[j], float(qsim[j]))))
                break

    def _same_fact(self, a_vec: np.ndarray, b_vec: np.ndarray, a_text: str, b_text: str) -> bool:
        return float(a_vec @ b_vec) >= self.settings.same_fact_similarity and self._numbers_agree(a_text, b_text)

    @staticmethod
    def _numbers_agree(a_text: str, b_text: str) -> bool:
        """Two reports of one fact carry the same key numbers (1,178 is not 257)."""
        na, nb = _key_numbers(a_text), _key_numbers(b_text)
        return not ((na or nb) and not (na & nb))

    def _citation(self, sid: int, score: float) -> Citation:
        sent = self.index.sentences[sid]
        doc = self.index.documents[sent.doc_id]
        return Citation(doc_id=doc.doc_id, title=doc.title, date=doc.date, lang=sent.lang, sentence=sent.position,
                        score=score, url=doc.url, sid=sid)
