"""Stage 3a: what the scorer sees of each candidate sentence, and of the candidate set as a whole.

Pure functions of (the question as understood, the candidate passages, the index), plus token
alignment, which needs the embedder and is cached per passage. `sentence_features` and
`question_features` are the only places features are computed: serving, evaluation and the
scorer's training all call them through `Pipeline.prepare`, so a figure measured is a figure served.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from bot.cache import LRU
from bot.projection import TokenProjection
from bot.understand import Understood
from index.embed import Embedder
from index.passages import embed_text, passage_text, titled
from index.retrieve import Hit
from index.store import Index
from index.text import normalize_digits, script_keys, search_terms, tokenize

#: Columns of the sentence feature matrix, in order (the scorer's weights file names them).
SENTENCE_FEATURES = (
    "similarity", "similarity_rel", "alignment", "alignment_rel", "aligned", "passage", "passage_rel",
    "passage_rank", "bm25", "lexical", "lexical_keys", "salient", "same_lang", "number", "number_bound",
    "date", "person", "reason", "role", "heading", "unterminated", "log_words", "fragment",
    "similarity_rel_lang", "alignment_rel_lang", "passage_rel_lang", "alignment_rel_passage", "coverage",
)
#: Columns of the question-level features the confidence calibration reads.
QUESTION_FEATURES = (
    "top_logit", "margin", "top_prob", "best_same", "best_cross", "absent_terms", "unmatched_idf",
    "top_lexical_keys", "top_same_lang", "romanised", "names_missing", "top_coverage", "best_coverage",
)

_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|december|"
           "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|monday|tuesday|wednesday|thursday|friday|"
           "saturday|sunday|today|yesterday|tomorrow|century|decade")
_HI_TIME = ("जनवरी|फरवरी|फ़रवरी|मार्च|अप्रैल|मई|जून|जुलाई|अगस्त|सितंबर|सितम्बर|अक्टूबर|अक्तूबर|नवंबर|नवम्बर|"
            "दिसंबर|दिसम्बर|सोमवार|मंगलवार|बुधवार|गुरुवार|शुक्रवार|शनिवार|रविवार|सदी|शताब्दी|वर्ष|साल")
_DATE = re.compile(rf"\b(?:{_MONTHS})\b|\b(?:1[0-9]|20)\d\d\b|{_HI_TIME}", re.IGNORECASE)
_NUMBER = re.compile(r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|million|"
                     r"billion|crore|lakh)\b|एक|दो|तीन|चार|पांच|पाँच|छह|सात|आठ|नौ|दस|सौ|हजार|हज़ार|लाख|करोड़",
                     re.IGNORECASE)
_NUMBER_TOKEN = re.compile(r"\d[\d.,]*")
_DEVANAGARI = re.compile(r"[\u0900-\u097f]")
# A capitalised word not at the sentence start, or a Hindi honorific/role: crude but language-fair.
_PERSON = re.compile(r"(?<=[a-z,;] )[A-Z][a-z]+|श्री|श्रीमती|डॉ|निदेशक|मंत्री|प्रवक्ता|अध्यक्ष")
_REASON = re.compile(r"\b(because|since|due to|owing to|as a result|in order to|so that|reason|caused|led to|"
                     r"after|amid|following)\b|क्योंकि|कारण|वजह|चलते|इसलिए|ताकि|के लिए|की वजह|के बाद|बाद",
                     re.IGNORECASE)
_ROLE = re.compile(r"\b(minister|director|president|chief|ceo|founder|head|spokesperson|secretary|chairman|"
                   r"officer|leader|member|king|queen|emperor|actor|author|writer|scientist|player|coach|"
                   r"professor|governor|mayor|judge|editor|manager|commander|general|duke|bishop|pope)\b"
                   r"|मंत्री|निदेशक|अध्यक्ष|प्रमुख|प्रवक्ता|सचिव|संस्थापक|राष्ट्रपति|प्रधानमंत्री|नेता|सदस्य|राजा|रानी|"
                   r"सम्राट|अभिनेता|लेखक|वैज्ञानिक|खिलाड़ी|कोच|प्रोफेसर|राज्यपाल|न्यायाधीश|संपादक|प्रबंधक",
                   re.IGNORECASE)


class Alignment(NamedTuple):
    score: float     # weighted mean of the question tokens' best matches
    coverage: float  # the worst-matched question token's best match


class TokenAligner:
    """Late interaction between the question's and a passage's contextual token embeddings.

    Each question token is matched to its most similar token of the sentence (token embeddings
    of the whole passage, so pronouns carry their antecedents) under the learned projection
    (`bot.projection`), and the matches are averaged with the projection's token weights.
    Passage token vectors are kept projected in an LRU cache (keyed by projection, so held-out
    evaluation's per-fold projections never mix); `prewarm` fills it in the background.
    """

    def __init__(self, index: Index, embedder: Embedder | None, cache_passages: int):
        self.index = index
        self.embedder = embedder
        self._cache: LRU[tuple[str, int], tuple[np.ndarray, np.ndarray]] = LRU(max(1, cache_passages))
        self.cache_passages = cache_passages

    def passage_tokens(self, pid: int, projection: TokenProjection) -> tuple[np.ndarray, np.ndarray]:
        """The passage's token vectors under `projection`, and their character spans."""
        def encode():
            p = self.index.passages[pid]
            text = embed_text(p, self.index.sentences, self.index.documents[p.doc_id].title)
            vecs, offs = self.embedder.token_vectors(text, self.embedder.passage_prompt)
            return projection.tokens(vecs), offs
        return self._cache.get_or_compute((projection.digest(), pid), encode)

    def clear_cache(self) -> None:
        """Forget every cached passage (benchmarks time the cold path with it)."""
        self._cache = LRU(max(1, self.cache_passages))

    def prewarm(self, projection: TokenProjection, stop: threading.Event | None = None) -> int:
        """Encode the tokens of every passage that fits the cache; checks `stop` between passages."""
        if self.embedder is None:
            return 0
        live = np.flatnonzero(self.index.passages.live)[: self.cache_passages]  # deleted articles are never asked
        for done, pid in enumerate(live):
            if stop is not None and stop.is_set():
                return done
            self.passage_tokens(int(pid), projection)
        return len(live)

    def scores(self, question_tokens: list[np.ndarray], pids: list[int], projection: TokenProjection
               ) -> dict[int, Alignment]:
        """Alignment per sentence id of the given passages, for the question's readings' token
        vectors (`question_tokens`): each question token's best match in the sentence under the
        learned projection, weighted by the projection's token weights (`score`), and the
        worst-matched question token's best match (`coverage`: low when a word of the question, a
        name or the asked attribute, has nothing like it in the sentence)."""
        if self.embedder is None or not pids or not question_tokens:
            return {}
        qtoks = [(projection.tokens(q), projection.weights(q)) for q in question_tokens]
        out: dict[int, Alignment] = {}
        for pid in pids:
            p = self.index.passages[pid]
            tvecs, offs = self.passage_tokens(pid, projection)
            _, start = titled(self.index.documents[p.doc_id].title, passage_text(p, self.index.sentences))
            masks = sentence_token_masks(offs, start, [len(self.index.sentences[sid].text) for sid in p.sids])
            for sid, mask in zip(p.sids, masks):
                if not mask.any():
                    continue
                sent = tvecs[mask]
                best = [(q @ sent.T).max(axis=1) for q, _ in qtoks]
                found = Alignment(float(np.mean([b @ w for b, (_, w) in zip(best, qtoks)])),
                                  float(np.mean([b.min() for b in best])))
                if sid not in out or found.score > out[sid].score:
                    out[sid] = found
        return out


def sentence_token_masks(offsets: np.ndarray, start: int, lengths: list[int]) -> list[np.ndarray]:
    """Which tokens fall in each sentence of a text whose body starts at character `start` and is
    its sentences (of these lengths) joined by single spaces (`index.passages.titled`)."""
    starts, real = np.maximum(offsets[:, 0], 0), offsets[:, 1] > 0
    masks = []
    for n in lengths:
        masks.append(real & (starts >= start) & (starts < start + n))
        start += n + 1
    return masks


def question_tokens(vectors: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The token vectors of the question's own words (the prompt and special tokens left out)."""
    words = offsets[:, 0] >= 0
    return vectors[words] if words.any() else vectors


@dataclass
class Candidates:
    """Everything the choosing stage needs: one row per candidate sentence, best passages first."""
    sids: np.ndarray
    features: np.ndarray          # len(sids) × len(SENTENCE_FEATURES)
    vectors: np.ndarray           # sentence embeddings (for grouping reports of one fact)
    hits: list[Hit]               # the passages the sentences came from
    pool: list[Hit]               # the wider retrieved pool (other reports of a fact are cited from it)
    salient_missing: int          # names of the question found in no candidate passage, any script
    salient_missing_share: float  # ... as a share of the question's names (0 when it names none)
    numbers_missing: int          # numbers of the question (two digits or more) in no candidate passage
    absent_terms: int             # question words found nowhere in the archive, in any script
    unmatched_idf: float          # share of the question's idf mass found in no candidate passage
    best_same: float              # best dense cosine among passages in the question's language
    best_cross: float             # … and among the other languages'

    def __len__(self) -> int:
        return len(self.sids)

    def has_number(self, row: int) -> bool:
        """Candidate `row` gives a number (the feature is set only for count questions)."""
        return bool(self.features[row, SENTENCE_FEATURES.index("number")])


def _present(term_text: str, pool: set[str]) -> bool:
    """A word of the question occurs in `pool` (terms and keys of candidate text), in any script."""
    terms = search_terms(term_text)
    return bool(terms) and any(t in pool for t in terms)


def _number_bound(sentence: str, q_terms: set[str]) -> float:
    """A number stands within three words of a question term ("1,178 accounts", "257 handles")."""
    words = normalize_digits(sentence).split()
    for i, w in enumerate(words):
        if _NUMBER_TOKEN.match(w):
            near = " ".join(words[max(0, i - 3): i + 4])
            if q_terms.intersection(search_terms(near)):
                return 1.0
    return 0.0


_TERMINATED = re.compile(r"[.?!।॥…][\"'”’)\]]*\s*$")


#: An unterminated line of at most this many words is a heading (a subheading inside an article).
HEADING_WORDS = 12


def _is_heading(sentence: str, title: str) -> float:
    """The sentence is a heading: the article's headline, or a short line with no sentence-final
    punctuation ("Twitter reaches out to Ravi Shankar Prasad"). A heading names what follows, it
    does not state it. A title that ends like a sentence is the lede's first sentence (a .txt with
    no headline line, index.corpus): a full statement, not a heading."""
    if _TERMINATED.search(sentence):
        return 0.0
    return float(sentence.strip() == title.strip() or len(sentence.split()) <= HEADING_WORDS)


def _role_near_name(sentence: str, salient_keys: list[set[str]]) -> float:
    """A role word within four words of a name the question asks about ("IT Minister Ravi Shankar
    Prasad", "निदेशक महिमा कौल"): what a "who is X" answer says, and a headline naming X does not."""
    words = sentence.split()
    for i, w in enumerate(words):
        keys = set(search_terms(w))
        if keys and any(keys & k for k in salient_keys):
            if _ROLE.search(" ".join(words[max(0, i - 4): i + 5])):
                return 1.0
    return 0.0


def sentence_features(u: Understood, index: Index, hits: list[Hit], pool_hits: list[Hit], qvecs: list[np.ndarray],
                      aligned: dict[int, Alignment], lang_of_passage: "np.ndarray | dict[int, str]") -> Candidates:
    """Feature rows (SENTENCE_FEATURES order) for every sentence of the candidate passages."""
    best_passage = max(h.dense for h in hits)
    rank_in_lang: dict[int, int] = {}
    seen: dict[str, int] = {}
    for h in sorted(hits, key=lambda h: -h.score):
        lang = lang_of_passage[h.pid]
        rank_in_lang[h.pid] = seen.get(lang, 0)
        seen[lang] = seen.get(lang, 0) + 1
    sid_hit: dict[int, Hit] = {}
    for h in hits:
        for sid in index.passages[h.pid].sids:
            if sid not in sid_hit or h.dense > sid_hit[sid].dense:
                sid_hit[sid] = h
    sids = np.fromiter(sid_hit, dtype=np.int64)
    svecs = np.asarray(index.sentence_vectors[sids], dtype=np.float32)
    sim = np.mean([svecs @ q for q in qvecs], axis=0)
    q_text = f"{u.question} {u.search_text}"
    q_direct = set(tokenize(q_text))
    q_keys = set(script_keys(q_text))
    idf = index.bm25.idf(sorted(q_direct | q_keys))
    w_direct = sum(idf[t] for t in q_direct) or 1.0
    w_keys = sum(idf[t] for t in q_keys) or 1.0
    # Sentences outside the aligned passages stand in with their pooled cosine, shifted by the
    # mean gap between the two scores on the aligned sentences so both are on one scale.
    pos = {int(sid): i for i, sid in enumerate(sids)}
    def stand_in(values: dict[int, float]) -> np.ndarray:
        gaps = [v - sim[pos[sid]] for sid, v in values.items() if sid in pos]
        offset = float(np.mean(gaps)) if gaps else 0.0
        return np.array([values.get(int(s), sim[i] + offset) for i, s in enumerate(sids)], dtype=np.float32)

    align = stand_in({sid: a.score for sid, a in aligned.items()})
    coverage = stand_in({sid: a.coverage for sid, a in aligned.items()})
    kinds = u.answer_types
    salient_keys = [set(search_terms(w)) for w in u.salient]
    feats = np.zeros((len(sids), len(SENTENCE_FEATURES)), dtype=np.float32)
    sim_best, align_best = sim.max(), align.max()  # hoisted out of the per-sentence loop
    pool: set[str] = set()
    for i, sid in enumerate(sids):
        sent = index.sentences[int(sid)]
        h = sid_hit[int(sid)]
        text = sent.text
        terms = set(search_terms(text))
        pool |= terms
        digits = normalize_digits(text)
        n_words = len(text.split())
        feats[i, : len(SENTENCE_FEATURES) - 5] = (
            sim[i], sim[i] - sim_best, align[i], align[i] - align_best, float(int(sid) in aligned),
            h.dense, h.dense - best_passage, 1.0 / (1 + rank_in_lang[h.pid]), h.bm25,
            sum(idf[t] for t in q_direct & terms) / w_direct,
            sum(idf[t] for t in q_keys & terms) / w_keys,
            (sum(bool(k & terms) for k in salient_keys) / len(salient_keys)) if salient_keys else 1.0,
            float(sent.lang == u.lang),
            float("number" in kinds and bool(_NUMBER.search(digits))),
            _number_bound(text, q_direct | q_keys) if "number" in kinds else 0.0,
            float("date" in kinds and bool(_DATE.search(digits))),
            float("person" in kinds and bool(_PERSON.search(text))),
            float("reason" in kinds and bool(_REASON.search(text))),
            _role_near_name(text, salient_keys) if "definition" in kinds and salient_keys else 0.0,
            _is_heading(text, index.documents[sent.doc_id].title),
            float(not _TERMINATED.search(text)),
            float(np.log1p(n_words)),
            float(n_words < 4 and not _NUMBER.search(digits)),
        )
    # The same comparisons within each language and within each passage: cross-lingual cosines run
    # lower for the same relevance, so "best of its language" carries what "best overall" cannot.
    langs = np.array([index.sentences[int(sid)].lang for sid in sids])
    pids = np.array([sid_hit[int(sid)].pid for sid in sids])
    dense = np.array([sid_hit[int(sid)].dense for sid in sids], dtype=np.float32)
    rel = np.zeros((len(sids), 4), dtype=np.float32)
    for lang in set(langs.tolist()):
        m = langs == lang
        rel[m, 0] = sim[m] - sim[m].max()
        rel[m, 1] = align[m] - align[m].max()
        rel[m, 2] = dense[m] - dense[m].max()
    for pid in set(pids.tolist()):
        m = pids == pid
        rel[m, 3] = align[m] - align[m].max()
    feats[:, -5:-1] = rel
    feats[:, -1] = coverage
    # Answerability: is what the question is about anywhere in the candidates, in any script?
    for h in hits:
        pool |= set(search_terms(index.documents[index.passages[h.pid].doc_id].title))
    langs_seen = {lang_of_passage[h.pid] for h in hits}
    # A name can only be missed where text of its script was searched: a Hindi-only archive may
    # translate "French" or spell "Bowl" as बाउल. Numbers are script-free (digits are normalised),
    # so a number is missed wherever it is not printed.
    # A month or weekday of the question's date ("on March 5") is the time stage's, not a name.
    said = set(" ".join(u.when.said).lower().split())
    names = [w for w in u.salient if not w.isdigit() and w.lower() not in said] if "en" in langs_seen else []
    missing = sum(not _present(w, pool) for w in names)
    # The numbers of the question's date ("on March 4, 2024": 4, 2024) need not be printed where a
    # candidate article is dated in the years asked about: its date answers for them (the time stage
    # prefers the reports of those days). "In 2019" over an archive with nothing of 2019 still refuses.
    dated = u.when.date_numbers
    if dated:
        years = {str(index.documents[index.passages[h.pid].doc_id].date or "")[:4] for h in hits}
        if not any(str(y) in years for y in range(u.when.start.year, u.when.end.year + 1)):
            dated = frozenset()
    numbers_missing = sum(not _present(w, pool) for w in u.salient if w.isdigit() and w not in dated)
    # Words of the question that the whole archive never printed, in any script (counted where text
    # of the word's script was searched): a signal for the calibration, not a rule, since a question
    # may paraphrase where the article did not ("surrender" for "gave up").
    absent = sum(1 for t in dict.fromkeys(tokenize(u.question))
                 if ("hi" if _DEVANAGARI.match(t) else "en") in langs_seen and not t.isdigit()
                 and not index.bm25.knows(t) and not any(index.bm25.knows(k) for k in script_keys(t)))
    unmatched = sum(idf[t] for t in q_direct if t not in pool and not _present(t, pool))
    same = [h.dense for h in hits if lang_of_passage[h.pid] == u.lang]
    cross = [h.dense for h in hits if lang_of_passage[h.pid] != u.lang]
    return Candidates(sids=sids, features=feats, vectors=svecs, hits=hits, pool=pool_hits, salient_missing=missing,
                      salient_missing_share=missing / len(names) if names else 0.0,
                      numbers_missing=numbers_missing,
                      absent_terms=absent,
                      unmatched_idf=unmatched / w_direct, best_same=max(same, default=0.0),
                      best_cross=max(cross, default=0.0))


def question_features(c: Candidates, logits: np.ndarray, romanised: bool) -> np.ndarray:
    """One row (QUESTION_FEATURES order) describing how sure the choice over `c` can be."""
    order = np.argsort(-logits)
    top = float(logits[order[0]])
    second = float(logits[order[1]]) if len(order) > 1 else top - 5.0
    probs = np.exp(logits - top)
    probs /= probs.sum()
    col = {name: i for i, name in enumerate(SENTENCE_FEATURES)}
    row = c.features[order[0]]
    return np.array([top, top - second, float(probs[order[0]]), c.best_same, c.best_cross,
                     float(c.absent_terms), c.unmatched_idf, row[col["lexical_keys"]],
                     row[col["same_lang"]], float(romanised), c.salient_missing_share,
                     row[col["coverage"]], float(c.features[:, col["coverage"]].max())], dtype=np.float32)
