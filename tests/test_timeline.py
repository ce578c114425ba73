"""bot/timeline.py, the time stage's pure functions, on small arrays: which reports are rivals,
how a question's time reorders them, the figures a report gives and the earlier report shown."""
from __future__ import annotations

from datetime import date

import numpy as np

from bot import timeline
from bot.when import parse

NOW = date(2024, 3, 10)
MON, TUE, THU = date(2024, 3, 4), date(2024, 3, 5), date(2024, 3, 7)
TEXTS = ["At least 12 people were killed when a landslide hit Kalsi village on Monday.",
         "The toll in the Kalsi landslide rose to 19 on Tuesday.",
         "The death toll in the Kalsi landslide rose to 23 on Thursday.",
         "The road to the village was reopened for light vehicles."]


def _vectors(*rows):
    v = np.array(rows, dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


# Rows 0-2: one story (cosine ~1 with each other); row 3 another one.
VECTORS = _vectors([1, 0.05, 0], [1, 0, 0.05], [1, 0.02, 0.02], [0, 1, 0])
DOCS = ["day1", "day2", "final", "final"]


def test_rivals_are_each_articles_best_report_of_the_story_near_the_best():
    logits = np.array([5.0, 4.0, 3.0, 4.5])
    rows = timeline.rivals(logits, DOCS, VECTORS, window=6.0, similarity=0.83)
    assert rows[0] == 0  # the best first
    assert sorted(rows) == [0, 1, 2]  # row 3 is another story (and not its article's best)


def test_rivals_leave_out_what_is_far_below_or_not_eligible():
    logits = np.array([9.0, 8.0, 1.0, 0.0])
    assert timeline.rivals(logits, DOCS, VECTORS, window=6.0, similarity=0.83) == [0, 1]
    eligible = np.array([True, False, True, True])
    logits = np.array([5.0, 4.0, 3.0, 0.0])
    assert timeline.rivals(logits, DOCS, VECTORS, 6.0, 0.83, eligible=eligible) == [0, 2]


def test_rivals_take_one_sentence_an_article():
    logits = np.array([5.0, 4.0, 3.0])
    rows = timeline.rivals(logits, ["a", "a", "b"], VECTORS[:3], 6.0, 0.83)
    assert rows == [0, 2]


def _ordered(question, logits, days, texts=TEXTS[:3], weight=12.0):
    when = parse(question, NOW)
    rows = list(range(len(logits)))
    return timeline.order(when, np.array(logits), rows, days, list(texts), weight)


def test_latest_puts_the_most_recent_report_first():
    out = _ordered("What is the latest death toll in the Kalsi landslide?", [5.0, 4.0, 3.0], [MON, TUE, THU])
    assert int(np.argmax(out)) == 2
    assert list(np.argsort(-out)) == [2, 1, 0]


def test_a_changing_state_without_latest_also_wants_the_latest():
    out = _ordered("What is the death toll in the Kalsi landslide?", [5.0, 4.0, 3.0], [MON, TUE, THU])
    assert int(np.argmax(out)) == 2


def test_first_puts_the_earliest_report_first():
    out = _ordered("How many were initially reported killed in Kalsi?", [3.0, 4.0, 5.0], [MON, TUE, THU])
    assert int(np.argmax(out)) == 0


def test_a_dated_question_puts_the_asked_days_report_first():
    out = _ordered("How many had died in Kalsi on March 5, 2024?", [5.0, 3.0, 4.0], [MON, TUE, THU])
    assert int(np.argmax(out)) == 1
    # a relative date, read against the reference day: "last week" of Sunday 2024-03-17 is 4-10 March
    when = parse("What was the toll last week?", date(2024, 3, 17))
    assert (when.start, when.end) == (MON, date(2024, 3, 10))
    out = timeline.order(when, np.array([5.0, 4.0]), [0, 1], [date(2024, 3, 12), TUE], TEXTS[:2], 12.0)
    assert int(np.argmax(out)) == 1


def test_a_sentence_naming_the_asked_day_counts_as_its_report():
    # Undated article, but the sentence names March 5.
    texts = ["At least 12 people were killed on March 4.", "By March 5 the toll had risen to 19."]
    out = _ordered("What was the toll on March 5, 2024?", [5.0, 4.0], [MON, None], texts)
    assert int(np.argmax(out)) == 1


def test_undated_reports_are_neutral_and_an_undated_archive_is_untouched():
    logits = np.array([5.0, 4.0, 3.0])
    for q in ("What is the latest death toll?", "How many had died on March 5, 2024?",
              "How many were initially reported killed?"):
        out = _ordered(q, logits, [None, None, None])
        assert out is not None and np.array_equal(out, logits)
    # A dated report outside the asked days goes below an undated one, which stays where it was.
    out = _ordered("How many had died on March 5, 2024?", [5.0, 4.0, 3.0], [MON, None, TUE])
    assert int(np.argmax(out)) == 2 and out[1] > out[0]


def test_a_question_with_no_time_returns_the_same_array():
    logits = np.array([5.0, 4.0, 3.0])
    out = _ordered("Which Twitter executive liked tweets supporting the farmers' protest?", logits, [MON, TUE, THU])
    assert out is not None
    when = parse("Which Twitter executive liked tweets supporting the farmers' protest?", NOW)
    assert timeline.order(when, logits, [0, 1, 2], [MON, TUE, THU], TEXTS[:3], 12.0) is logits


def test_time_never_lifts_a_sentence_that_is_not_a_rival():
    logits = np.array([5.0, 4.0, 3.0, 4.5])
    when = parse("What is the latest death toll?", NOW)
    out = timeline.order(when, logits, [0, 1], [MON, TUE, None, None], TEXTS, 12.0)
    assert out[2] == logits[2] and out[3] == logits[3]


def test_figures_leave_out_years_and_the_days_of_dates():
    assert timeline.figures("The toll rose to 1,178 on 4 March 2024, up from 41.") == {"1178", "41"}
    assert timeline.figures("मंगलवार को मरने वालों की संख्या बढ़कर १९ हो गई।") == {"19"}
    assert timeline.figures("Rescue teams reached the site by afternoon.") == set()


def test_differs_needs_figures_on_both_sides():
    assert timeline.differs(TEXTS[2], TEXTS[1])          # 23 vs 19
    assert not timeline.differs(TEXTS[2], "The toll rose to 23 on Thursday, officials said.")
    assert not timeline.differs(TEXTS[2], TEXTS[3])      # no figure: nothing to compare


def test_earlier_is_the_latest_report_before_the_answer_with_another_figure():
    days = [MON, TUE, THU]
    assert timeline.earlier(THU, TEXTS[2], [2, 1, 0], days, TEXTS[:3]) == 1
    assert timeline.earlier(MON, TEXTS[0], [0, 1, 2], days, TEXTS[:3]) is None   # nothing before it
    assert timeline.earlier(None, TEXTS[2], [2, 1, 0], days, TEXTS[:3]) is None  # an undated answer
    same = ["The toll rose to 23.", "The toll was 23 by then.", "The toll rose to 23 on Thursday."]
    assert timeline.earlier(THU, same[2], [2, 1, 0], days, same) is None         # the same figure


def test_other_day_and_day_of():
    assert timeline.day_of("2024-03-07T20:15:00+05:30") == THU
    assert timeline.day_of(None) is None and timeline.day_of("garbage") is None
    assert timeline.other_day("2024-03-04", "2024-03-07")
    assert not timeline.other_day("2024-03-07", "2024-03-07")
    assert not timeline.other_day("2024-03-07", None)


def test_a_report_in_another_language_competes_within_its_languages_window():
    # The Hindi report of the story scores 6.6 below the English one (cross-lingual logits run lower),
    # but it is the best Hindi sentence: a rival. Without languages it would be out of the window.
    logits = np.array([8.0, 1.4, 0.1])
    vectors = _vectors([1, 0.05, 0], [1, 0, 0.3], [0, 1, 0])
    docs, langs = ["vc-2020", "vc-2023", "other"], ["en", "hi", "hi"]
    assert timeline.rivals(logits, docs, vectors, 6.0, 0.83) == [0]
    assert timeline.rivals(logits, docs, vectors, 6.0, 0.83, langs=langs) == [0, 1]
    assert list(timeline.floors(logits, 6.0, langs)) == [2.0, -4.6, -4.6]
    when = parse("Who is the vice-chancellor?", NOW)
    out = timeline.order(when, logits, [0, 1], [date(2020, 7, 1), date(2023, 8, 2), None], ["", "", ""], 12.0)
    assert int(np.argmax(out)) == 1
