"""Sentence-aligned, overlapping passages."""
from index.config import IndexSettings
from index.corpus import Document, read_corpus
from index.passages import embed_text, passage_text, segment

from conftest import SEEDS


def test_passages_are_sentence_aligned_with_overlap():
    settings = IndexSettings(passage_sentences=4, passage_overlap=1, passage_max_words=1000)
    docs = read_corpus(SEEDS).documents
    sentences, passages = segment(docs, settings)
    assert sentences and passages
    for doc in docs:
        ps = [p for p in passages if p.doc_id == doc.doc_id]
        covered = sorted({sid for p in ps for sid in p.sids})
        own = [s.sid for s in sentences if s.doc_id == doc.doc_id]
        assert covered == own  # every sentence is in some passage, none from another article
        for a, b in zip(ps, ps[1:]):
            assert b.first_sid == a.first_sid + a.n_sentences - 1  # one sentence of overlap
        assert all(p.n_sentences <= 4 for p in ps)
    positions = [s.position for s in sentences if s.doc_id == docs[0].doc_id]
    assert positions == list(range(1, len(positions) + 1))


def test_word_cap_and_title_in_embed_text():
    long = " ".join(f"Sentence number {i} has exactly seven words here." for i in range(10))
    doc = Document("d", "A headline", "A headline\n\n" + long, "en")
    sentences, passages = segment([doc], IndexSettings(passage_sentences=8, passage_overlap=1, passage_max_words=20))
    assert all(len(passage_text(p, sentences).split()) <= 20 + 8 for p in passages)
    assert len(passages) > 2
    second = passages[1]
    assert embed_text(second, sentences, "A headline").startswith("A headline\n")
    assert embed_text(passages[0], sentences, "A headline").count("A headline") == 1


def test_sentence_language_is_per_sentence():
    doc = Document("m", "Mixed", "Mixed\n\nTwitter blocked accounts. सरकार ने आदेश दिया।", "en")
    sentences, _ = segment([doc], IndexSettings())
    assert [s.lang for s in sentences] == ["en", "en", "hi"]
