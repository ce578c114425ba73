"""Cross-script matching keys: a Latin-script name or romanised word meets its Devanagari spelling."""
import pytest

from index.romanise import match_key, romanise
from index.text import script_keys, search_terms, tokenize


@pytest.mark.parametrize("latin, devanagari", [
    ("Koo", "कू"), ("Mahima", "महिमा"), ("Kaul", "कौल"), ("kitne", "कितने"), ("accounts", "अकाउंट्स"),
    ("accounts", "अकॉउंट्स"), ("account", "आकउंट"), ("istifa", "इस्तीफा"), ("Twitter", "ट्विटर"),
    ("Ravi", "रवि"), ("Shankar", "शंकर"), ("Prasad", "प्रसाद"), ("Dorsey", "डोर्सी"), ("Rihanna", "रिहाना"),
    ("Pichai", "पिचाई"), ("Jack", "जैक"), ("blog", "ब्लॉग"), ("Khalistan", "खालिस्तान"),
])
def test_names_meet_across_scripts(latin, devanagari):
    assert match_key(latin) == match_key(devanagari)


@pytest.mark.parametrize("a, b", [("Kaul", "Koo"), ("Twitter", "Pichai"), ("कौल", "कू"), ("Prasad", "Rihanna")])
def test_different_words_stay_apart(a, b):
    assert match_key(a) != match_key(b)


def test_romanise_is_deterministic_and_schwa_aware():
    assert romanise("कौल") == "kaul"          # word-final inherent a dropped
    assert romanise("कितने") == "kitane"      # inside a word it is kept (the key drops vowels anyway)
    assert romanise("फ़िल्म") == "film"        # nukta letters take their own sound
    assert romanise("ख़ान") == romanise("ख़ान")  # precomposed and decomposed nukta agree
    assert romanise("Twitter १२३") == "Twitter 123"  # other text passes through


def test_keys_are_extra_terms_never_display_text():
    text = "केंद्र सरकार ने 1,178 ट्विटर अकाउंट्स को बंद करने का आदेश दिया"
    terms = search_terms(text)
    assert terms[: len(tokenize(text))] == tokenize(text)
    assert "~tvtr" in terms and "~knts" in terms
    assert all(k.startswith("~") for k in script_keys(text))
    assert "1178" not in script_keys(text)  # numbers match as numbers already


def test_romanised_hindi_query_matches_devanagari_passage(seed_index):
    scores = seed_index.bm25.scores("twitter ne kitne accounts block kiye?")
    hindi = [p.pid for p in seed_index.passages if p.lang == "hi"]
    assert max(scores[pid] for pid in hindi) > 0  # the Hindi report is reachable through the keys


def test_romanised_function_words_are_stopwords():
    assert tokenize("twitter ne kitne accounts block kiye?") == ["twitter", "account", "block"]
