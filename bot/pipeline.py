"""The one answering pipeline: understand → retrieve → choose sentences → cite. (The engine remembers.)

    question ─▶ understand ─▶ retrieve ─▶ features ─▶ score & decide ─▶ time ─▶ cite & group
                (clean, is it a question?, language, follow-up → retrieval query, its time)
                              (the best passages overall and of each language)
                                          (learned scorer, calibrated confidence, answer or abstain)
                                                             (dated / latest / first: bot/timeline.py)

Every stage takes the previous stage's output and nothing else reaches back: serving
(`Engine.ask`), `scripts/evaluate.py`, `scripts/train_scorer.py` and `scripts/bench.py` all
call `Pipeline.prepare` / `Pipeline.run`, so the figures measured are the figures served.
Heavy resources (index, embedder) are handed in; nothing is loaded here.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from bot.answer import Answer, AnswerResult, citation, other_reports, same_fact
from bot.config import AnswerSettings, ConversationSettings
from bot.conversation import Turn, contextualize, reader_question
from bot.decision import Decision, decision_row
from bot.features import (SENTENCE_FEATURES, Candidates, TokenAligner, question_features, question_tokens,
                          sentence_features)
from bot.projection import TokenProjection
from bot.reader import Candidate, Reader
from bot.scorer import Scorer
from bot import timeline
from bot.when import parse as parse_time
from bot.transliterate import Transliterator
from bot.understand import Understood, is_question, is_romanised_marker, understand
from index.embed import Embedder
from index.retrieve import Hit, Retriever
from index.store import Index
from index.text import tokenize


@dataclass
class Prepared:
    """A question after understanding, retrieval and feature extraction: what the scorer sees."""
    understood: Understood
    qvecs: list[np.ndarray]
    candidates: Candidates | None  # None: not a question, or nothing retrieved
    #: Seconds so far: retrieve (understand, embed, search), choose (features so far).
    seconds: dict[str, float] = field(default_factory=dict)
    #: What the reader reads as the question (a follow-up's pronoun resolved from its anchor).
    reader_question: str = ""
    #: Sentences quoted first in the previous turn (a follow-up does not get them first again).
    quoted_before: frozenset[int] = frozenset()


def refusals(u: Understood, c: Candidates, logits: np.ndarray, settings: AnswerSettings) -> dict[str, str]:
    """Every rule that refuses, by name → why the archive cannot answer, whatever the confidence.
    Evaluation measures each rule by what it refuses alone (BENCHMARKS.md §11)."""
    out = {}
    if c.salient_missing_share > settings.abstain_names_missing:
        out["names_missing"] = "the names the question is about are in none of the candidate articles"
    if settings.abstain_numbers_missing and c.numbers_missing:
        out["numbers_missing"] = "a number the question is about (a year, a count) is in none of the candidate articles"
    if settings.abstain_absent_terms and c.absent_terms >= settings.abstain_absent_terms:
        out["absent_terms"] = f"{c.absent_terms} words of the question occur nowhere in the archive"
    if settings.counts_need_a_number and "number" in u.answer_types and not c.has_number(int(np.argmax(logits))):
        out["count_without_number"] = "a count was asked and the best candidate sentence gives no number"
    return out


def refusal(u: Understood, c: Candidates, logits: np.ndarray, settings: AnswerSettings) -> str | None:
    """Why the archive cannot answer, whatever the confidence (None: no rule refuses). Training
    calls this too, so the threshold is chosen on the questions these rules let through."""
    return next(iter(refusals(u, c, logits, settings).values()), None)


class Pipeline:
    def __init__(self, index: Index, embedder: Embedder, retriever: Retriever, answer: AnswerSettings,
                 conversation: ConversationSettings, scorer: Scorer | None, projection: TokenProjection,
                 transliterator: Transliterator | None = None, reader: Reader | None = None,
                 decision: Decision | None = None, clock=None):
        """`clock`: returns the reference time relative dates are read against ("last week"; a
        zone-aware datetime, `--as-of`), or None for the real time."""
        self.index = index
        self.clock = clock
        self.embedder = embedder
        self.retriever = retriever
        self.settings = answer
        self.conversation = conversation
        self.scorer = scorer
        self.projection = projection
        self.transliterator = transliterator
        #: The cross-encoder reader and the decision over its logits (None: the scorer decides alone).
        self.reader = reader
        self.decision = decision
        self.aligner = TokenAligner(index, embedder, answer.token_cache_passages)
        self._lang_of_passage = index.passages.langs  # pid → language

    # --- stages -----------------------------------------------------------------------------
    def understand(self, question: str, history: list[Turn]) -> Understood:
        # Chat is recognised first, so "thanks for this" or "😀" in a thread never passes as a
        # follow-up just because it has a pronoun or no content words.
        if not is_question(question):
            return understand(question, question, question, False)
        query, anchor, followup = contextualize(question, history, self.conversation)
        u = understand(question, query, anchor, followup)
        if self.settings.time_aware:
            u.when = parse_time(question, self.clock() if self.clock else None)
        if u.romanised and self.transliterator is not None:
            u.devanagari = self.transliterator.render(u.query, keep=self._english_word)
        return u

    def _english_word(self, word: str) -> bool:
        """Kept as typed in a romanised question: not a Hindi function word, and an English stopword
        or a word the archive's own text has (twitter, accounts, names)."""
        if is_romanised_marker(word):
            return False
        terms = tokenize(word)
        return not terms or any(self.index.bm25.knows(t) for t in terms)

    def retrieve(self, u: Understood, qvec: np.ndarray, exclude_docs: frozenset[str] = frozenset()) -> list[Hit]:
        """One search: the wide pool cited reports come from, with each language's best kept in it."""
        s = self.settings
        return self.retriever.search(u.search_text, k=max(s.also_in_passages, s.passages_considered), qvec=qvec,
                                     per_language=s.passages_per_language, exclude_docs=exclude_docs)

    def considered(self, hits: list[Hit]) -> list[Hit]:
        """The passages whose sentences compete: the best overall and the best of each language."""
        s = self.settings
        chosen = {h.pid for h in hits[: s.passages_considered]}
        by_lang: dict[str, list[int]] = {}
        for h in hits:
            by_lang.setdefault(self._lang_of_passage[h.pid], []).append(h.pid)
        for pids in by_lang.values():
            chosen.update(pids[: s.passages_per_language])
        return [h for h in hits if h.pid in chosen]

    def features(self, u: Understood, pool: list[Hit], qvecs: list[np.ndarray], qtokens: list[np.ndarray],
                 projection: TokenProjection) -> Candidates:
        s = self.settings
        hits = self.considered(pool)
        align_pids = [h.pid for h in hits[: s.align_passages]]
        for lang in sorted({self._lang_of_passage[h.pid] for h in hits}):  # the best of each language too
            align_pids += [h.pid for h in hits if self._lang_of_passage[h.pid] == lang][: s.align_per_language]
        aligned = self.aligner.scores(qtokens, list(dict.fromkeys(align_pids)), projection) if s.align_passages else {}
        return sentence_features(u, self.index, hits, pool, qvecs, aligned, self._lang_of_passage)

    def prepare(self, question: str, history: list[Turn] | None = None,
                exclude_docs: frozenset[str] = frozenset(), projection: TokenProjection | None = None) -> Prepared:
        """Understand, retrieve and compute features. `exclude_docs`: articles retrieval must not return;
        `projection`: a per-call override of the token projection (held-out evaluation prepares
        each question with the projection of the fold that never saw its article)."""
        start = time.perf_counter()
        history = history or []
        u = self.understand(question, history)
        if not u.is_question:
            return Prepared(u, [], None, {"retrieve": time.perf_counter() - start})
        # One pass of the model per reading (typed question, follow-up query, Devanagari reading)
        # gives both its pooled vector and its token vectors.
        encoded = [self.embedder.query_and_tokens(r) for r in u.readings]
        qvecs = [vec for vec, _, _ in encoded]
        qtokens = [question_tokens(toks, offs) for _, toks, offs in encoded]
        search_vec = qvecs[-1]  # the follow-up's query when there is one
        if u.devanagari:  # the dense search goes halfway between the typed and the Devanagari reading
            search_vec = qvecs[-2] + qvecs[-1]
            search_vec = search_vec / max(float(np.linalg.norm(search_vec)), 1e-12)
        hits = self.retrieve(u, search_vec, exclude_docs)
        retrieved = time.perf_counter()
        candidates = self.features(u, hits, qvecs, qtokens, projection or self.projection) if hits else None
        quoted = frozenset(history[-1].answer_sids[:1]) if u.followup and history else frozenset()
        return Prepared(u, qvecs, candidates, {"retrieve": retrieved - start,
                                               "choose": time.perf_counter() - retrieved},
                        reader_question=reader_question(u.question, u.anchor, u.followup), quoted_before=quoted)

    def decide(self, prepared: Prepared, top_k: int | None = None, scorer: Scorer | None = None,
               reader: Reader | None = None, decision: Decision | None = None) -> AnswerResult:
        """Score the candidates, let the reader read the best of them, decide the tier, and cite.
        `scorer`, `reader`, `decision`: per-call overrides (held-out evaluation decides each
        question with the models of the fold that never saw its article)."""
        start = time.perf_counter()
        result = self._decide(prepared, top_k, scorer or self.scorer, reader or self.reader,
                              decision or self.decision)
        result.seconds = dict(prepared.seconds)
        result.seconds["choose"] = result.seconds.get("choose", 0.0) + time.perf_counter() - start
        return result

    def _decide(self, prepared: Prepared, top_k: int | None, scorer: Scorer | None, reader: Reader | None,
                decision: Decision | None) -> AnswerResult:
        if scorer is None:
            raise RuntimeError("this pipeline was built without a scorer (training mode); it can only prepare()")
        u, c = prepared.understood, prepared.candidates
        result = AnswerResult(question=u.question, answers=[], passages=c.pool if c else [], abstained=True,
                              index=self.index, retrieval_query=u.query, anchor=u.anchor, followup=u.followup,
                              not_question=not u.is_question)
        if c is None or not len(c):
            result.reason = "not a question" if not u.is_question else "nothing retrieved"
            return result
        logits = scorer.logits(c.features)
        scorer_confidence = scorer.probability(question_features(c, logits, u.romanised))
        if reader is not None and decision is not None:
            logits, result.confidence, tier = self._read(prepared, logits, scorer_confidence, reader, decision)
        else:  # no reader: the scorer's confidence and threshold decide, in two tiers
            result.confidence = scorer_confidence
            tier = "answer" if scorer_confidence >= scorer.threshold else "none"  # a NaN never passes
        scored, logits = logits, self.in_time(u, c, logits)
        result.top_sid = int(c.sids[int(np.argmax(logits))])
        refused = refusals(u, c, scored, self.settings)  # the rules judge the candidates, not their order in time
        result.refused_by = list(refused)
        if refused:
            result.reason = next(iter(refused.values()))
            return result
        result.tier = tier
        if tier == "none":
            result.reason = "no candidate sentence is likely enough to answer"
            return result
        k = top_k or self.settings.top_k
        if tier == "not_sure":
            k = min(k, self.settings.not_sure_quotes)
            result.reason = "not sure: the closest quotes may not answer the question"
        result.answers = self.choose(c, logits, result.confidence, k)
        other_reports(self.index, result.answers, [c.vectors[i] for i in self._chosen_rows(c, result.answers)],
                      self._report_pool(c), prepared.qvecs, self.settings.same_fact_similarity)
        self.story_so_far(u, c, scored, result.answers)
        result.abstained = not result.answers
        if result.abstained:
            result.tier = "none"
        return result

    def _read(self, prepared: Prepared, logits: np.ndarray, scorer_confidence: float, reader: Reader,
              decision: Decision) -> tuple[np.ndarray, float, str]:
        """The reader reads the scorer's best candidates in one batch; the decision turns its logits
        into the final ranking (the others rank below every read one), a confidence and a tier."""
        u, c = prepared.understood, prepared.candidates
        rows = np.argsort(-logits, kind="stable")[: decision.candidates]
        read = reader.run(prepared.reader_question or u.question, [self.candidate(int(c.sids[i])) for i in rows])
        final_rows = decision.final_logits(read, logits[rows])
        if prepared.quoted_before:  # a follow-up gets something new first, unless the old quote still wins
            again = np.array([int(c.sids[i]) in prepared.quoted_before for i in rows])
            final_rows = final_rows - self.settings.requoted_penalty * again
        final = np.full(len(c), float(final_rows.min()) - 10.0, dtype=np.float64)
        final[rows] = final_rows
        best = int(rows[int(np.argmax(final_rows))])
        same_lang = bool(c.features[best, SENTENCE_FEATURES.index("same_lang")])
        row = decision_row(final_rows, scorer_confidence, same_lang, u.romanised, c.salient_missing_share,
                           c.numbers_missing > 0, c.unmatched_idf)
        confidence = decision.probability(row)
        return final, confidence, decision.tier(confidence)

    # --- time ----------------------------------------------------------------------------------
    def _rivals(self, u: Understood, c: Candidates, logits: np.ndarray) -> tuple[list[int], list, list[str]]:
        """The rival reports of the answer (bot/timeline.py), and every row's date and text where known."""
        s = self.settings
        langs = [self.index.sentences[int(sid)].lang for sid in c.sids]
        near = np.flatnonzero(logits >= timeline.floors(logits, s.time_window, langs))
        sents = {int(i): self.index.sentences[int(c.sids[i])] for i in near}
        docs = [sents[i].doc_id if i in sents else "" for i in range(len(c))]
        eligible = np.array([c.has_number(i) for i in range(len(c))]) if "number" in u.answer_types else None
        rows = timeline.rivals(logits, docs, c.vectors, s.time_window, s.story_similarity, eligible, langs)
        dates: dict[str, object] = {}
        for i in rows:
            if docs[i] not in dates:
                dates[docs[i]] = timeline.day_of(self.index.documents[docs[i]].date)
        days = [dates.get(docs[i]) if i in rows else None for i in range(len(c))]
        texts = [sents[i].text if i in sents else "" for i in range(len(c))]
        return rows, days, texts

    def in_time(self, u: Understood, c: Candidates, logits: np.ndarray) -> np.ndarray:
        """The time stage: among the rival reports of the answer, a dated question's days first, or
        the latest / the first report (bot/timeline.py). A question with no time and no changing
        state gets `logits` back untouched."""
        if not u.when.active:
            return logits
        rows, days, texts = self._rivals(u, c, logits)
        return timeline.order(u.when, logits, rows, days, texts, self.settings.time_weight)

    def story_so_far(self, u: Understood, c: Candidates, logits: np.ndarray, answers: list[Answer]) -> None:
        """For a question about time (`logits`: before the time stage): the other reports a chosen
        fact cites from another day must give its figures (an older count is not the same fact;
        a same-day or undated report is kept, "1.2 million" and "12 लाख" being one figure), and
        the latest earlier rival report with a different figure is shown as "earlier: … (date)"."""
        if not u.when.active or not answers:
            return
        for a in answers:
            a.also_in = [(t, cit) for t, cit in a.also_in
                         if not (timeline.other_day(a.citation.date, cit.date) and timeline.differs(a.text, t))]
        rows, days, texts = self._rivals(u, c, logits)
        for a in answers:
            row = timeline.earlier(timeline.day_of(a.citation.date), a.text, rows, days, texts)
            if row is not None:
                a.earlier = (texts[row], citation(self.index, int(c.sids[row]), float(np.exp(logits[row] - logits.max()))))

    def candidate(self, sid: int) -> Candidate:
        """What the reader sees of a sentence: it, its headline and the sentence before it."""
        sent = self.index.sentences[sid]
        prev = self.index.sentences[sid - 1] if sid > 0 else None
        previous = prev.text if prev is not None and prev.doc_id == sent.doc_id and prev.position == sent.position - 1 else ""
        return Candidate(sent.text, self.index.documents[sent.doc_id].title or "", previous)

    def run(self, question: str, history: list[Turn] | None = None, top_k: int | None = None,
            exclude_docs: frozenset[str] = frozenset()) -> AnswerResult:
        return self.decide(self.prepare(question, history, exclude_docs=exclude_docs), top_k)

    # --- choosing and citing --------------------------------------------------------------------
    def choose(self, c: Candidates, logits: np.ndarray, confidence: float, top_k: int) -> list[Answer]:
        """The best sentences, one per fact; weaker ones only while close to the best."""
        order = np.argsort(-logits, kind="stable")
        best = float(logits[order[0]])
        answers: list[Answer] = []
        for i in order:
            if len(answers) >= top_k or best - float(logits[i]) > self.settings.max_logit_gap:
                break
            sid = int(c.sids[i])
            text = self.index.sentences[sid].text
            if any(same_fact(a.vector, c.vectors[i], a.text, text, self.settings.same_fact_similarity)
                   for a in answers):
                continue  # a weaker report of a fact already chosen: cited as also_in, not repeated
            score = confidence if not answers else confidence * float(np.exp(logits[i] - best))
            answers.append(Answer(text=text, citation=citation(self.index, sid, score), vector=c.vectors[i]))
        return answers

    @staticmethod
    def _chosen_rows(c: Candidates, answers: list[Answer]) -> list[int]:
        row = {int(s): i for i, s in enumerate(c.sids)}
        return [row[a.citation.sid] for a in answers]

    def _report_pool(self, c: Candidates) -> list[int]:
        """Sentence ids searched for other reports of a chosen fact: the whole retrieved pool,
        since the other language's report of a fact sits lower than the question's language."""
        return list(dict.fromkeys(sid for h in c.pool for sid in self.index.passages[h.pid].sids))

