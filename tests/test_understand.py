"""Understanding a question before retrieval: is it one, what does it ask about, which script."""
import pytest

from bot.understand import (QuestionError, clean_question, is_greeting, is_help_request, is_question,
                            is_romanised_hindi, salient_terms)


@pytest.mark.parametrize("chat", ["lol", "thanks", "ok", "Okay!", "👍", "🙏🙏", ":+1: ok", ":pray:", "Good catch",
                                  "haan theek hai", "great, thanks a lot", "this is great", "धन्यवाद", "ठीक है",
                                  "hi", "...", "shukriya bhai"])
def test_chat_is_not_a_question(chat):
    assert not is_question(chat)


@pytest.mark.parametrize("question", ["How many accounts were blocked", "Who is Mahima Kaul?", "Mahima Kaul resignation",
                                      "twitter ne kitne accounts block kiye", "महिमा कौल कौन हैं", "1,178 accounts",
                                      "Did Twitter comply with the order", "kya hua?", "Koo"])
def test_questions_and_keyword_searches_are_questions(question):
    assert is_question(question)


def test_help_and_greetings():
    assert is_help_request("help") and is_help_request("मदद") and not is_question("help")
    assert is_greeting("hello") and is_greeting("namaste ji") and not is_greeting("hello, who is Kaul?")


def test_romanised_hindi_is_recognised():
    assert is_romanised_hindi("twitter ne kitne accounts block kiye?")
    assert is_romanised_hindi("mahima kaul ne istifa kyon diya")
    assert not is_romanised_hindi("How many accounts did Twitter block?")
    assert not is_romanised_hindi("महिमा कौल कौन हैं?")


def test_salient_terms_are_names_and_numbers():
    assert salient_terms("What did Sundar Pichai say about the blocking order?") == ["Sundar", "Pichai"]
    assert salient_terms("How many accounts did Twitter block in 2021?") == ["Twitter", "2021"]
    assert salient_terms("how many accounts were blocked?") == []


@pytest.mark.parametrize("text", ["", "   ", "\x00\x01"])
def test_clean_question_refuses_empty(text):
    with pytest.raises(QuestionError, match="empty"):
        clean_question(text, 500)


def test_clean_question_refuses_huge_and_strips_invisible():
    with pytest.raises(QuestionError, match="limit is 500"):
        clean_question("why " * 200, 500)
    assert clean_question("Who\u00ad is\u200b Kaul?\n", 500) == "Who is Kaul?"
