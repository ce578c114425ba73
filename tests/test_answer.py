"""The extractive answerer on the seeds: citations, both languages, answer types, abstention."""
from bot.answer import answer_types, cue_matches


def _all_citations(result):
    return [(a.text, a.citation) for a in result.answers] + [(t, c) for a in result.answers for t, c in a.also_in]


def test_count_question_cites_hindi_and_english(engine):
    result = engine.ask("How many accounts did the government order Twitter to block?")
    assert not result.abstained
    with_number = [(t, c) for t, c in _all_citations(result) if "1,178" in t]
    assert {c.lang for _, c in with_number} == {"hi", "en"}
    for text, c in _all_citations(result):
        doc = engine.index.documents[c.doc_id]
        assert text in doc.text  # quoted exactly as the article has it
        assert engine.index.sentences[c.sid].position == c.sentence
        assert c.title == doc.title and c.date == doc.date


def test_hindi_question_cites_english_report(engine):
    result = engine.ask("महिमा कौल कौन हैं?")
    cites = _all_citations(result)
    assert any(c.lang == "en" and "Kaul" in t for t, c in cites)
    assert any(c.lang == "hi" and "महिमा कौल" in t for t, c in cites)


def test_romanised_hindi_question(engine):
    result = engine.ask("twitter ne kitne accounts block kiye?")
    assert not result.abstained
    assert any("1,178" in t or "257" in t for t, _ in _all_citations(result))


def test_unrelated_questions_abstain(engine):
    for q in ("What is the capital of France?", "How do I bake sourdough bread?", "कल दिल्ली में मौसम कैसा रहेगा?"):
        result = engine.ask(q)
        assert result.abstained and result.answers == [], q
        assert result.passages  # the retriever still ran; the answerer declined


def test_one_fact_in_two_articles_is_one_answer(engine):
    result = engine.ask("How many accounts did the government order Twitter to block?", top_k=3)
    facts = [a for a in result.answers if "1,178" in a.text or any("1,178" in t for t, _ in a.also_in)]
    assert len(facts) == 1  # not three near-identical answers
    docs = [facts[0].citation.doc_id] + [c.doc_id for _, c in facts[0].also_in]
    assert len(docs) == len(set(docs)) >= 2


def test_follow_up_uses_the_conversation(engine):
    engine.ask("Who is Mahima Kaul?", conversation_id="t")
    follow = engine.ask("Till when will she stay?", conversation_id="t")
    assert follow.followup and "Mahima Kaul" in follow.retrieval_query
    assert "March" in follow.answers[0].text
    fresh = engine.ask("How many accounts did the government order Twitter to block?", conversation_id="t")
    assert not fresh.followup and fresh.retrieval_query == fresh.question


def test_answer_types_and_cues():
    assert answer_types("How many accounts were blocked?") == {"number"}
    assert answer_types("कितने अकाउंट बंद हुए?") == {"number"}
    assert answer_types("kab tak rahengi?") == {"date"}
    assert answer_types("कौन हैं महिमा कौल?") == {"person"}
    assert cue_matches({"number"}, "Twitter blocked १,१७८ accounts") == 1.0
    assert cue_matches({"date"}, "She stays till the end of March.") == 1.0
    assert cue_matches({"date"}, "No time words here.") == 0.0
    assert cue_matches(set(), "anything") == 0.0


def test_json_shape(engine):
    data = engine.ask("Who is Mahima Kaul?").to_json()
    assert set(data) == {"question", "answers", "passages", "abstained"}
    a = data["answers"][0]
    assert {"text", "doc_id", "title", "date", "lang", "sentence", "score", "also_in"} <= set(a)
    assert all({"doc_id", "passage_id", "score"} == set(p) for p in data["passages"])


def test_prewarm_fills_the_token_cache(settings, embedder, seed_index_dir):
    import time

    from bot.engine import Engine

    engine = Engine(settings, seed_index_dir, embedder=embedder, progress=False, prewarm=True)
    answerer = engine._served.answerer
    deadline = time.monotonic() + 120
    while len(answerer._token_cache) < len(engine.index.passages) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(answerer._token_cache) == len(engine.index.passages)
    result = engine.ask("Till when will Mahima Kaul stay in her role?")
    assert "March" in result.answers[0].text
