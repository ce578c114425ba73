"""bot/when.py: the time a question names, in English, Hindi and romanised Hindi, read against a
reference day; and no time read where a question's numbers are counts."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from bot.when import NOTHING, dates_in, intent, parse

#: A Sunday. Last week is Mon 2024-02-26 … Sun 2024-03-03.
NOW = date(2024, 3, 10)


@pytest.mark.parametrize("question, start, end", [
    ("What was the death toll on March 4, 2024?", date(2024, 3, 4), date(2024, 3, 4)),
    ("What was the death toll on 4th March 2024?", date(2024, 3, 4), date(2024, 3, 4)),
    ("What was the toll on 2024-03-04?", date(2024, 3, 4), date(2024, 3, 4)),
    ("4 मार्च 2024 को कितने लोग मारे गए थे?", date(2024, 3, 4), date(2024, 3, 4)),
    ("४ मार्च २०२४ को कितने लोग मारे गए?", date(2024, 3, 4), date(2024, 3, 4)),  # Devanagari digits
    ("2021 में उपचुनाव किसने जीता?", date(2021, 1, 1), date(2021, 12, 31)),
    ("साल 2021 में कौन जीता?", date(2021, 1, 1), date(2021, 12, 31)),
    ("Who became vice-chancellor in 2019?", date(2019, 1, 1), date(2019, 12, 31)),
    ("What did onions cost in December 2023?", date(2023, 12, 1), date(2023, 12, 31)),
    ("नवंबर 2023 में प्याज़ का भाव क्या था?", date(2023, 11, 1), date(2023, 11, 30)),
    ("What was the onion price at the end of October 2023?", date(2023, 10, 22), date(2023, 10, 31)),
    ("अक्टूबर 2023 के अंत में प्याज़ का दाम क्या था?", date(2023, 10, 22), date(2023, 10, 31)),
    ("How many cases were there in early 2021?", date(2021, 1, 1), date(2021, 5, 1)),  # its first third
    ("How many dengue cases in mid-September 2023?", date(2023, 9, 11), date(2023, 9, 20)),
])
def test_absolute_dates_and_ranges(question, start, end):
    w = parse(question, NOW)
    assert (w.start, w.end) == (start, end)
    assert w.dated and w.active


def test_a_day_without_a_year_is_the_last_one_not_after_the_reference_day():
    assert parse("What happened on March 4?", NOW).start == date(2024, 3, 4)
    assert parse("What happened on December 4?", NOW).start == date(2023, 12, 4)


def test_since_a_year_runs_to_the_reference_day():
    w = parse("How many cases since 2019?", NOW)
    assert (w.start, w.end) == (date(2019, 1, 1), NOW)


@pytest.mark.parametrize("question, start, end", [
    ("What happened yesterday?", date(2024, 3, 9), date(2024, 3, 9)),
    ("What is the toll today?", NOW, NOW),
    ("कल कितने लोग मरे थे?", date(2024, 3, 9), date(2024, 3, 9)),         # past tense: yesterday
    ("कल मतगणना कब होगी?", date(2024, 3, 11), date(2024, 3, 11)),        # future tense: tomorrow
    ("kal kitne log mare?", date(2024, 3, 9), date(2024, 3, 9)),
    ("kal kya hoga?", date(2024, 3, 11), date(2024, 3, 11)),
    ("परसों क्या हुआ?", date(2024, 3, 8), date(2024, 3, 8)),
    ("What happened last week?", date(2024, 2, 26), date(2024, 3, 3)),
    ("पिछले हफ्ते प्याज़ का दाम क्या था?", date(2024, 2, 26), date(2024, 3, 3)),
    ("pichhle hafte kya hua?", date(2024, 2, 26), date(2024, 3, 3)),
    ("What was the price last month?", date(2024, 2, 1), date(2024, 2, 29)),
    ("पिछले महीने कितने मामले आए?", date(2024, 2, 1), date(2024, 2, 29)),
    ("इस साल कितने मामले आए?", date(2024, 1, 1), NOW),
    ("How many cases 3 days ago?", date(2024, 3, 7), date(2024, 3, 7)),
    ("दो दिन पहले क्या हुआ?", date(2024, 3, 8), date(2024, 3, 8)),
    ("How many cases in the last 7 days?", date(2024, 3, 3), NOW),
    ("पिछले 10 दिनों में कितने मामले आए?", date(2024, 2, 29), NOW),
    ("What happened on Monday?", date(2024, 3, 4), date(2024, 3, 4)),
])
def test_relative_dates_against_the_reference_day(question, start, end):
    w = parse(question, NOW)
    assert (w.start, w.end) == (start, end)


def test_the_reference_time_moves_relative_dates_and_keeps_its_zone():
    # 01:00 in India on the 10th is still the 9th in UTC: the desk's day is the one it wrote.
    as_of = datetime(2024, 3, 10, 1, 0, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    assert parse("What happened yesterday?", as_of).start == date(2024, 3, 9)
    assert parse("What happened yesterday?", date(2023, 1, 1)).start == date(2022, 12, 31)


def test_the_clock_is_the_default_reference():
    today = datetime.now().astimezone().date()
    assert parse("What happened yesterday?").start == today - timedelta(days=1)


@pytest.mark.parametrize("question, kind", [
    ("What is the latest death toll in the bridge collapse?", "latest"),
    ("What is the current price of onions?", "latest"),
    ("How many have died so far?", "latest"),
    ("Is the strike still on?", "latest"),
    ("Who is leading now?", "latest"),
    ("अब तक कितने लोगों की मौत हुई है?", "latest"),
    ("ताज़ा आंकड़ा क्या है?", "latest"),
    ("फ़िलहाल प्याज़ का भाव क्या है?", "latest"),
    ("इस समय गिनती में कौन आगे है?", "latest"),
    ("How many people were first reported dead?", "first"),
    ("How many were initially trapped?", "first"),
    ("पहली बार कुलपति कब नियुक्त हुए?", "first"),
    ("शुरुआत में कितने लोग फंसे थे?", "first"),
    ("How many accounts did the government order Twitter to block?", None),
])
def test_latest_and_first_intents(question, kind):
    assert intent(question) == kind
    assert parse(question, NOW).intent == kind


def test_a_month_part_is_not_a_first_intent():
    w = parse("सितंबर 2023 की शुरुआत में देहरादून में डेंगू के कितने मामले थे?", NOW)
    assert w.intent is None
    assert (w.start, w.end) == (date(2023, 9, 1), date(2023, 9, 10))
    assert parse("What was the toll at the start of March 2024?", NOW).intent is None
    assert parse("How many were first reported dead in early March 2024?", NOW).intent == "first"


@pytest.mark.parametrize("question", [
    "Who won the bypoll?",
    "Who is the CEO of the company?",
    "What is the death toll in the factory fire?",
    "How many dengue cases are there in Dehradun?",
    "सीतापुर उपचुनाव किसने जीता?",
    "हिमगिरि विश्वविद्यालय का कुलपति कौन है?",
])
def test_a_state_that_changes_wants_the_latest_report(question):
    w = parse(question, NOW)
    assert w.changing and w.wants == "latest" and not w.dated


def test_a_dated_question_about_a_changing_state_wants_its_days_not_the_latest():
    w = parse("Who won the bypoll in 2019?", NOW)
    assert w.changing and w.dated and w.wants is None


@pytest.mark.parametrize("question", [
    "How many accounts did the government order Twitter to block?",
    "Which Twitter executive liked tweets supporting the farmers' protest?",
    "Why was the ₹2000 note withdrawn?",
    "Why was the Rs 2000 note withdrawn?",
    "Were 2000 people evacuated from the coast?",
    "2000 के नोट क्यों बंद किए गए?",
    "Did the batsman score 1998 runs?",
    "What is year-on-year growth?",
    "May I ask who led the rescue?",
    "Officials said 12 may have died; who said it?",
    "Why did 300 farmers march 20 km to Delhi?",
    "In what year did the bridge open?",
    "How many of the 1,178 accounts were restored?",
])
def test_no_time_is_read_from_ordinary_numbers(question):
    w = parse(question, NOW)
    assert w.start is None and w.end is None and not w.date_numbers


def test_a_question_with_no_time_is_nothing_to_the_time_stage():
    w = parse("Which Twitter executive liked tweets supporting the farmers' protest?", NOW)
    assert w == NOTHING or (not w.active and w.said == ())


def test_a_dates_numbers_are_date_numbers_not_counts():
    w = parse("How many people had died in the landslide on March 5, 2024?", NOW)
    assert w.date_numbers == {"5", "2024"}
    assert parse("How many died 3 days ago?", NOW).date_numbers == {"3"}
    # A count next to a date stays a count.
    w = parse("Were 19 people dead on March 5, 2024?", NOW)
    assert "19" not in w.date_numbers


def test_json_names_what_was_read():
    w = parse("What was the toll on March 4, 2024?", NOW)
    assert w.to_json() == {"from": "2024-03-04", "to": "2024-03-04", "intent": None, "said": ["March 4, 2024"]}


def test_dates_a_sentence_names_are_read_from_its_articles_date():
    monday = date(2024, 3, 4)
    # A report dated Monday that says "on Monday" means that day, not the Monday before.
    assert dates_in("At least 12 people were killed on Monday morning.", monday) == [(monday, monday)]
    assert dates_in("The toll rose to 19 on Tuesday.", date(2024, 3, 5)) == [(date(2024, 3, 5), date(2024, 3, 5))]
    assert dates_in("The bridge, opened on March 1, 2019, fell.", monday) == [(date(2019, 3, 1), date(2019, 3, 1))]
    assert dates_in("Rescue teams reached the site by afternoon.", monday) == []
