"""Time in a question, English, Hindi and romanised Hindi: which days it asks about, and whether it
asks for the latest or the first report. Pure functions of (the text, a reference time); no model.

    parse("What was the death toll on March 4, 2024?", now)  → days 2024-03-04..2024-03-04
    parse("पिछले हफ्ते क्या हुआ?", now)                       → the calendar week before `now`'s
    parse("What is the latest death toll?", now)             → intent "latest"
    parse("Who is the CEO of the company?", now)             → changing (a post holder: the latest report)

`dateparser` reads the absolute forms (month names in both languages, with the period it saw:
day, month or year); it does not read "पिछले हफ्ते", "end of October 2023", tense-dependent "कल"
or intents, and it takes "May I…" for a month, so finding the expressions is done by the rules
here and dateparser only parses what they found (BENCHMARKS.md §13 measures it).
A question with no time expression and no intent never reaches dateparser.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache

from index.text import normalize_digits

_MONTHS_EN = ("january|february|march|april|may|june|july|august|september|october|november|december|"
              "jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec")
_MONTHS_HI = ("जनवरी|फरवरी|फ़रवरी|मार्च|अप्रैल|अप्रेल|मई|जून|जुलाई|अगस्त|सितंबर|सितम्बर|अक्टूबर|अक्तूबर|"
              "नवंबर|नवम्बर|दिसंबर|दिसम्बर")
_MONTH = rf"(?:(?:{_MONTHS_EN})\.?|{_MONTHS_HI})"
_YEAR = r"(?:19|20)\d\d"
_B = r"(?<![\w\u0900-\u097f])"   # word boundaries that also hold next to Devanagari
_E = r"(?![\w\u0900-\u097f])"
#: "March 4, 2024", "March 4", "4 March 2024", "4 मार्च 2024", "4 मार्च", "March 2024", "अक्टूबर 2023".
_DAY_MONTH = re.compile(
    rf"{_B}(?:(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<m1>{_MONTH})(?:,?\s+(?P<y1>{_YEAR}))?"
    rf"|(?P<m2>{_MONTH})\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?{_E}(?:,?\s+(?P<y2>{_YEAR}))?"
    rf"|(?P<m3>{_MONTH})(?:,?\s+(?:of\s+)?(?P<y3>{_YEAR}))){_E}", re.IGNORECASE)
_ISO = re.compile(rf"{_B}(?P<y>{_YEAR})-(?P<m>\d\d)-(?P<d>\d\d){_E}")
#: A bare year: "in 2019", "2021 में", "साल 2021", "the 2024 bypoll".
_BARE_YEAR = re.compile(rf"{_B}(?<![\d,.])(?P<y>{_YEAR})(?![\d,.]\d){_E}")
#: A number of year's shape used as a figure: after a currency ("₹2000", "Rs 2000") or before what
#: it counts ("2000 people", "2000 के नोट", "1998 metres"). Not a time; the numbers rule keeps it.
_MONEY_BEFORE = re.compile(r"(?:₹|\$|\brs\.?|\binr|\brupees?|\bdollars?|रुपये|रुपए|रु\.?)\s*$", re.IGNORECASE)
_COUNTED_AFTER = re.compile(
    r"^\s*(?:के|का|की)?\s*(?:people|persons?|men|women|children|workers|employees|staff|units|votes|voters|cases|"
    r"patients|deaths|crores?|lakhs?|rupees|rs\b|km|kms|kilometres?|kilometers?|metres?|meters?|feet|kg|kilos?|"
    r"tonnes?|tons?|notes?|students|homes|houses|villages|families|jobs|posts|seats|buses|vehicles|cars|accounts|"
    r"beds|acres|hectares|mw|runs|wickets|goals|points|marks|troops|soldiers|police(?:men)?|officers|farmers|"
    r"schools|trees|animals|%|percent|per cent|"
    r"लोग|लोगों|व्यक्ति|रुपये|रुपए|करोड़|लाख|मामले|मामलों|वोट|वोटों|नोट|मजदूर|मजदूरों|कर्मचारी|छात्र|छात्रों|घर|घरों|"
    r"गांव|गांवों|परिवार|परिवारों|किलो|किलोमीटर|मीटर|टन|सीट|सीटें|सीटों|बस|बसें|बसों|पद|पदों|मरीज|मरीजों|प्रतिशत)"
    r"(?![\w\u0900-\u097f])", re.IGNORECASE)
#: Parts of a month or year: "end of October 2023", "अक्टूबर 2023 के अंत में", "early 2021".
_PART_BEFORE = re.compile(r"(?:\b(?:the\s+)?(?P<p>end|beginning|start|middle)\s+of\s+|\b(?P<q>early|late|mid)[\s-]+)$",
                          re.IGNORECASE)
_PART_AFTER = re.compile(r"^\s*(?:के|की)?\s*(?P<p>अंत|आखिर|आख़िर|आखिरी|शुरुआत|शुरू|मध्य|बीच)", re.IGNORECASE)
_PARTS = {"end": "end", "late": "end", "अंत": "end", "आखिर": "end", "आख़िर": "end", "आखिरी": "end",
          "beginning": "start", "start": "start", "early": "start", "शुरुआत": "start", "शुरू": "start",
          "middle": "middle", "mid": "middle", "मध्य": "middle", "बीच": "middle"}
_SINCE = re.compile(r"\b(?:since|from)\s*$|^\s*(?:से|के बाद से)(?![\u0900-\u097f])", re.IGNORECASE)

_WEEKDAYS = {"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6,
             "सोमवार": 0, "मंगलवार": 1, "बुधवार": 2, "गुरुवार": 3, "बृहस्पतिवार": 3, "शुक्रवार": 4,
             "शनिवार": 5, "रविवार": 6}
_WEEKDAY = re.compile(_B + "(" + "|".join(_WEEKDAYS) + ")" + _E, re.IGNORECASE)
_NUM_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "ten": 10,
              "a": 1, "an": 1, "एक": 1, "दो": 2, "तीन": 3, "चार": 4, "पांच": 5, "पाँच": 5, "छह": 6, "सात": 7, "दस": 10}
_UNIT_DAYS = {"day": 1, "days": 1, "दिन": 1, "दिनों": 1, "week": 7, "weeks": 7, "हफ्ते": 7, "हफ़्ते": 7, "हफ्ता": 7,
              "हफ्तों": 7, "हफ़्तों": 7, "सप्ताह": 7, "month": 30, "months": 30, "महीने": 30, "महीना": 30, "महीनों": 30,
              "माह": 30}
_AGO = re.compile(_B + r"(\d+|" + "|".join(_NUM_WORDS) + r")\s+(" + "|".join(_UNIT_DAYS) + r")\s+(?:ago|पहले|pehle|pahle)"
                  + _E, re.IGNORECASE)
#: "last week", "पिछले हफ्ते", "this month", "इस साल", "pichhle hafte".
_RELATIVE = re.compile(
    _B + r"(?P<which>last|previous|past|this|current|पिछले|पिछली|पिछला|गत|बीते|इस|pichhle|pichle|is)\s+"
    r"(?P<unit>week|month|year|हफ्ते|हफ़्ते|हफ्ता|सप्ताह|महीने|महीना|माह|साल|वर्ष|बरस|hafte|mahine|saal)" + _E,
    re.IGNORECASE)
#: "the last 7 days", "past three weeks", "पिछले 10 दिनों में": the span up to the reference day.
_LAST_N = re.compile(_B + r"(?:last|past|previous|पिछले|बीते|गत)\s+(?P<n>\d+|" + "|".join(_NUM_WORDS) + r")\s+"
                     r"(?P<unit>days|weeks|months|दिन|दिनों|हफ्ते|हफ़्ते|हफ्तों|हफ़्तों|सप्ताह|महीने|महीनों)" + _E,
                     re.IGNORECASE)
_ROMAN_UNITS = ("hafte", "mahine", "saal")
_UNIT = {"week": "week", "हफ्ते": "week", "हफ़्ते": "week", "हफ्ता": "week", "सप्ताह": "week", "hafte": "week",
         "month": "month", "महीने": "month", "महीना": "month", "माह": "month", "mahine": "month",
         "year": "year", "साल": "year", "वर्ष": "year", "बरस": "year", "saal": "year"}
_DAY_WORDS = re.compile(_B + r"(yesterday|today|tonight|tomorrow|day before yesterday|आज|परसों|कल|aaj|kal|parson)" + _E,
                        re.IGNORECASE)
#: कल / kal is yesterday or tomorrow by the verb: future endings (होगा, करेंगे, hoga) → tomorrow.
_FUTURE = re.compile(r"(?:गा|गी|गे|will|hoga|hogi|honge|karega|karegi|karenge)(?![\u0900-\u097f\w])"
                     r"|वाला|वाली|वाले|wala|wali|wale", re.IGNORECASE)

_LATEST = re.compile(
    r"\b(?:latest|current|currently|now|right now|still|so far|as of now|as of today|to date|till now|until now|"
    r"up to now|at present|presently|at the moment|most recent|recent|newest|updated|final|ab tak|abhi|filhaal|"
    r"filhal|taaza|taza)\b|(?<![\u0900-\u097f])(?:अब तक|अभी तक|ताज़ा|ताजा|फ़िलहाल|फिलहाल|इस समय|इस वक्त|"
    r"इस वक़्त|अभी|अब भी|मौजूदा|वर्तमान|नवीनतम|आखिरी|अंतिम)", re.IGNORECASE)
_FIRST = re.compile(
    r"\b(?:first|initially|initial|originally|at first|earliest|at the start|in the beginning|to begin with|"
    r"early (?:rounds?|trends?|counting|reports?|figures?)|pehli baar|pahli baar|shuru mein|shuruati)\b"
    r"|पहली बार|शुरुआत में|शुरू में|सबसे पहले|प्रारंभ में|आरंभ में|शुरुआती",
    re.IGNORECASE)
#: A state that changes as a story moves: a present count, a price, a result, who holds a post,
#: whether something still goes on. Asked without a time, the latest report answers it.
_PRESENT = re.compile(r"\b(?:is|are|has|have|does|do|hai|hain)\b|(?<![\u0900-\u097f])(?:है|हैं|हुई है|हुए हैं)"
                      r"(?![\u0900-\u097f])", re.IGNORECASE)
_COUNT = re.compile(r"\b(?:how many|how much|what number|kitne|kitni|kitna)\b|कितन", re.IGNORECASE)
_STATE_ALWAYS = re.compile(
    r"\b(?:death toll|toll|tally|who won|won the|winner|result|results|outcome|leading|who leads|called off|"
    r"still|ongoing|continue|continues|jeeta|jeeti|natija)\b|(?<![\u0900-\u097f])(?:मृतकों की संख्या|मरने वालों|"
    r"नतीजा|नतीजे|परिणाम|जीत|विजेता|जारी (?:है|हैं|रहेगी|रहेगा|रहेंगे)|खत्म|ख़त्म|समाप्त)", re.IGNORECASE)
_STATE_PRESENT = re.compile(
    r"\b(?:price|prices|cost|rate|rates|fare|fares|ceo|chief|head|chairman|chairperson|president|minister|"
    r"captain|coach|director|governor|mayor|leader|in charge|holds|status|vice-chancellor|chancellor|"
    r"commissioner|secretary|spokesperson|principal|manager)\b|(?<![\u0900-\u097f])(?:कीमत|दाम|भाव|किराया|सीईओ|"
    r"प्रमुख|अध्यक्ष|मंत्री|मुख्यमंत्री|कप्तान|निदेशक|राज्यपाल|नेता|स्थिति|कुलपति|आयुक्त|सचिव|प्रवक्ता|प्राचार्य)",
    re.IGNORECASE)


@dataclass(frozen=True)
class When:
    """What a question says about time. `start`/`end`: the days asked about (inclusive; None: no
    date); `intent`: "latest", "first" or None; `changing`: it asks about a state that changes."""
    start: date | None = None
    end: date | None = None
    intent: str | None = None
    changing: bool = False
    #: The question's text that named the time ("March 4, 2024", "पिछले हफ्ते").
    said: tuple[str, ...] = ()
    #: Numbers of the question that are parts of its dates ("4", "2024" in "March 4, 2024"): a date,
    #: not a count, so the numbers rule does not look for them in a dated archive's text.
    date_numbers: frozenset[str] = field(default_factory=frozenset)

    @property
    def dated(self) -> bool:
        return self.start is not None

    @property
    def wants(self) -> str | None:
        """Which report comes first: "latest", "first", or None (only the dates matter, or none)."""
        if self.intent:
            return self.intent
        return "latest" if self.changing and not self.dated else None

    @property
    def active(self) -> bool:
        """Anything for the time stage to do; False leaves a question exactly as it was."""
        return self.dated or self.wants is not None

    def contains(self, day: date) -> bool:
        return self.start is not None and self.start <= day <= (self.end or self.start)

    def distance(self, day: date) -> int:
        """Days from `day` to the asked range (0 inside it)."""
        if self.start is None:
            return 0
        if day < self.start:
            return (self.start - day).days
        return max(0, (day - (self.end or self.start)).days)

    def to_json(self) -> dict:
        return {"from": self.start.isoformat() if self.start else None,
                "to": self.end.isoformat() if self.end else None, "intent": self.wants, "said": list(self.said)}


NOTHING = When()


def _day(now: datetime | date | None) -> date:
    if now is None:
        return datetime.now().astimezone().date()
    return now.date() if isinstance(now, datetime) else now


@lru_cache(maxsize=1)
def _dateparser():
    from dateparser.date import DateDataParser

    return DateDataParser(languages=["en", "hi"], settings={"PREFER_DAY_OF_MONTH": "first",
                                                             "REQUIRE_PARTS": ["month"]})


def _month_number(name: str) -> int | None:
    """A month name (English or Hindi) → 1..12, read by dateparser."""
    data = _dateparser().get_date_data(f"1 {name.rstrip('.')} 2000")
    return data.date_obj.month if data and data.date_obj else None


def _month_range(year: int, month: int) -> tuple[date, date]:
    first = date(year, month, 1)
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return first, nxt - timedelta(days=1)


def _part(start: date, end: date, part: str | None) -> tuple[date, date]:
    """The first, middle or last third of a range ("end of October" → Oct 21–31)."""
    if part is None:
        return start, end
    third = max(1, ((end - start).days + 1) // 3)
    if part == "start":
        return start, start + timedelta(days=third - 1)
    if part == "end":
        return end - timedelta(days=third - 1), end
    return start + timedelta(days=third), end - timedelta(days=third)


def _past_year(month: int, day: int, today: date) -> int:
    """The year of "March 4" with no year: the latest one not after the reference day."""
    year = today.year
    try:
        return year if date(year, month, day) <= today else year - 1
    except ValueError:
        return year


def absolute(text: str, today: date) -> list[tuple[date, date, str, tuple[str, ...], int, int]]:
    """Absolute dates in `text`: (start, end, what was said, its numbers, span start, span end)."""
    text = normalize_digits(text)
    found = []
    taken: list[tuple[int, int]] = []
    for m in _ISO.finditer(text):
        try:
            d = date(int(m["y"]), int(m["m"]), int(m["d"]))
        except ValueError:
            continue
        found.append((d, d, m.group(0), (m["y"], m["m"], m["d"]), m.start(), m.end()))
        taken.append(m.span())
    for m in _DAY_MONTH.finditer(text):
        if any(a < m.end() and m.start() < b for a, b in taken):
            continue
        month_name = m["m1"] or m["m2"] or m["m3"]
        day_s, year_s = m["d1"] or m["d2"], m["y1"] or m["y2"] or m["y3"]
        if month_name.lower().rstrip(".") == "may" and not (day_s or year_s):
            continue  # "May I…"
        if month_name.lower() in ("may", "march") and month_name[0].islower() and not year_s:
            continue  # "12 may have died", "march 20 km": a verb, not a month
        month = _month_number(month_name)
        if month is None:
            continue
        if day_s:
            day = int(day_s)
            year = int(year_s) if year_s else _past_year(month, day, today)
            try:
                start = end = date(year, month, day)
            except ValueError:
                continue
        else:
            start, end = _month_range(int(year_s), month)
            before = _PART_BEFORE.search(text[: m.start()])
            after = _PART_AFTER.match(text[m.end():])
            part = (before and (before["p"] or before["q"]).lower()) or (after and after["p"])
            start, end = _part(start, end, _PARTS.get(part) if part else None)
        found.append((start, end, m.group(0), tuple(n for n in (day_s, year_s) if n), m.start(), m.end()))
        taken.append(m.span())
    for m in _BARE_YEAR.finditer(text):
        if any(a <= m.start() < b for a, b in taken):
            continue
        if _MONEY_BEFORE.search(text[: m.start()]) or _COUNTED_AFTER.match(text[m.end():]):
            continue  # "₹2000", "2000 people": a figure of a year's shape, not a time
        year = int(m["y"])
        start, end = date(year, 1, 1), date(year, 12, 31)
        before = _PART_BEFORE.search(text[: m.start()])
        after = _PART_AFTER.match(text[m.end():])
        part = (before and (before["p"] or before["q"]).lower()) or (after and after["p"])
        start, end = _part(start, end, _PARTS.get(part) if part else None)
        if _SINCE.search(text[: m.start()]) or _SINCE.match(text[m.end():]):
            end = max(end, today)
        found.append((start, end, m.group(0), (m["y"],), m.start(), m.end()))
        taken.append(m.span())
    return found


def relative(text: str, today: date, same_day_weekday: bool = False
             ) -> list[tuple[date, date, str, tuple[str, ...]]]:
    """Dates named relative to `today`: yesterday, कल (by tense), last week, पिछले महीने, on Monday,
    3 days ago, the last 7 days: (start, end, what was said, its numbers). "On Monday" is the last
    Monday before `today`; with `same_day_weekday` (an article's own sentence, read from its date)
    it may be `today` itself, as a report dated Monday says "on Monday" of that day."""
    text = normalize_digits(text)
    out = []
    for m in _DAY_WORDS.finditer(text):
        w = m.group(1).lower()
        if w in ("today", "tonight", "आज", "aaj"):
            d = today
        elif w in ("yesterday",):
            d = today - timedelta(days=1)
        elif w in ("tomorrow",):
            d = today + timedelta(days=1)
        elif w in ("day before yesterday", "परसों", "parson"):
            d = today - timedelta(days=2)  # परसों is two days either way; an archive asks about the past
            if _FUTURE.search(text):
                d = today + timedelta(days=2)
        else:  # कल / kal
            d = today + timedelta(days=1) if _FUTURE.search(text) else today - timedelta(days=1)
        out.append((d, d, m.group(0), ()))
    for m in _AGO.finditer(text):
        n = int(m.group(1)) if m.group(1).isdigit() else _NUM_WORDS[m.group(1).lower()]
        d = today - timedelta(days=n * _UNIT_DAYS[m.group(2).lower()])
        out.append((d, d, m.group(0), (m.group(1),) if m.group(1).isdigit() else ()))
    for m in _LAST_N.finditer(text):
        n = int(m["n"]) if m["n"].isdigit() else _NUM_WORDS[m["n"].lower()]
        out.append((today - timedelta(days=n * _UNIT_DAYS[m["unit"].lower()]), today, m.group(0),
                    (m["n"],) if m["n"].isdigit() else ()))
    for m in _RELATIVE.finditer(text):
        which, unit = m["which"].lower(), _UNIT[m["unit"].lower()]
        if which == "is" and m["unit"].lower() not in _ROMAN_UNITS:
            continue  # "What is year-on-year growth?": English "is", not romanised इस
        last = which not in ("this", "current", "इस", "is")
        if which == "past":  # "the past week": the days up to today
            start = today - timedelta(days={"week": 7, "month": 30, "year": 365}[unit])
            out.append((start, today, m.group(0), ()))
            continue
        if unit == "week":
            monday = today - timedelta(days=today.weekday()) - timedelta(days=7 * last)
            start, end = monday, monday + timedelta(days=6)
        elif unit == "month":
            y, mo = (today.year, today.month) if not last else \
                (today.year - (today.month == 1), (today.month - 2) % 12 + 1)
            start, end = _month_range(y, mo)
        else:
            y = today.year - last
            start, end = date(y, 1, 1), date(y, 12, 31)
        out.append((start, min(end, today) if not last else end, m.group(0), ()))
    for m in _WEEKDAY.finditer(text):
        wd = _WEEKDAYS[m.group(1).lower()]
        back = (today.weekday() - wd) % 7
        if not back and not same_day_weekday:
            back = 7  # asked on a Monday, "on Monday" is the one before: today would be "today"
        d = today - timedelta(days=back)
        out.append((d, d, m.group(0), ()))
    return out


def intent(text: str) -> str | None:
    """"first" (first, initially, पहली बार, शुरुआत में) or "latest" (latest, now, still, अब तक…)."""
    if _FIRST.search(text):
        return "first"
    if _LATEST.search(text):
        return "latest"
    return None


def changing(text: str) -> bool:
    """It asks about a state that changes: a present count, a price, a result, a post, "still"."""
    if _STATE_ALWAYS.search(text):
        return True
    present = bool(_PRESENT.search(text))
    return present and bool(_COUNT.search(text) or _STATE_PRESENT.search(text))


def parse(question: str, now: datetime | date | None = None) -> When:
    """What `question` says about time, against the reference time `now` (None: the clock)."""
    today = _day(now)
    spans = absolute(question, today)
    near = relative(question, today)
    dates = [(s, e, said) for s, e, said, _, _, _ in spans] + [(s, e, said) for s, e, said, _ in near]
    # "शुरुआत में" after a month is a part of it ("अक्टूबर की शुरुआत में"), not "at first".
    # "at the start of March 2024" likewise. The parts go first: the dates they belong to are taken out after.
    rest = re.sub(rf"(?:{_MONTH}|{_YEAR})\s*(?:के|की)?\s*(?:अंत|आखिर|आख़िर|आखिरी|शुरुआत|शुरू|मध्य|बीच)\s*(?:में)?"
                  rf"|\b(?:at\s+|in\s+)?(?:the\s+)?(?:end|beginning|start|middle)\s+of\s+(?:{_MONTH}|{_YEAR})", " ",
                  normalize_digits(question), flags=re.IGNORECASE)
    for _, _, said, _, a, b in spans:
        rest = rest.replace(said, " ")
    kind = intent(rest)
    start = min((s for s, _, _ in dates), default=None)
    end = max((e for _, e, _ in dates), default=None)
    numbers = frozenset(n for span in spans for n in span[3]) | frozenset(n for r in near for n in r[3])
    return When(start=start, end=end, intent=kind, changing=changing(question),
                said=tuple(said for _, _, said in dates), date_numbers=numbers)


def dates_in(text: str, reference: date) -> list[tuple[date, date]]:
    """Days a sentence names (absolute forms, and weekdays/yesterday read from its article's date)."""
    return [(s, e) for s, e, *_ in absolute(text, reference)] + \
        [(s, e) for s, e, _, _ in relative(text, reference, same_day_weekday=True) if s <= reference]
