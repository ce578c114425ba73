"""Time in questions end to end (issue 21): the real model and engine over a small archive of stories
that move, dated as exports write dates (RFC 2822, ISO 8601 with a zone, a printed date line), and
the same archive with every date taken out (an undated archive the time stage must leave alone)."""
from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta, timezone

import pytest

pytestmark = pytest.mark.slow

IST = timezone(timedelta(hours=5, minutes=30))
AS_OF = datetime(2024, 3, 10, 12, 0, tzinfo=IST)

#: (id, title, text, date as the export writes it, lang)
STORIES = [
    ("bridge-mon", "Bridge collapse in Rampur: toll rises to 41",
     "The death toll in the Rampur bridge collapse rose to 41 on Monday as divers recovered more bodies from the "
     "river. Rescue teams worked through the night near the broken span.",
     "Mon, 04 Mar 2024 21:10:00 +0530", "en"),
    ("bridge-final", "Rampur bridge collapse: search ends, final toll 43",
     "The death toll in the Rampur bridge collapse rose to 43 on Thursday after the last two bodies were found. "
     "Officials said the search operation has been called off.",
     "2024-03-07T20:15:00+05:30", "en"),
    ("bypoll-count", "Nagar bypoll: early rounds favour Sharma",
     "Ramesh Sharma of the BJP was leading by 2,100 votes after the first four rounds of counting in the Nagar "
     "bypoll on Saturday.",
     "2024-02-10T14:00:00+05:30", "en"),
    ("bypoll-result", "नगर उपचुनाव: अंजलि वर्मा जीतीं",
     "नगर उपचुनाव में सपा की अंजलि वर्मा ने भाजपा के रमेश शर्मा को 4,800 वोटों से हराकर जीत हासिल की। "
     "रविवार को घोषित नतीजों में अंजलि वर्मा विजेता रहीं।",
     "Sun, 11 Feb 2024 18:30:00 +0530", "hi"),
    ("ceo-2021", "Vikram Rao appointed CEO of Suryoday Motors",
     "Suryoday Motors on Tuesday appointed Vikram Rao as the CEO of the company with immediate effect. "
     "Rao joined the carmaker in 2009 as an engineer.",
     "2021-06-08T10:00:00+05:30", "en"),
    ("ceo-2023", "सूर्योदय मोटर्स की नई सीईओ बनीं नेहा कपूर",
     "नेहा कपूर को सूर्योदय मोटर्स का नया सीईओ नियुक्त किया गया है। वह विक्रम राव की जगह लेंगी, जिन्होंने "
     "कंपनी छोड़ दी है।",
     "2023-09-14T09:00:00Z", "hi"),
    ("strike-day1", "Bank employees begin indefinite strike",
     "Employees of the Kaveri Gramin Bank began an indefinite strike on Monday demanding the revision of their "
     "pay scales. Branches across the district stayed shut.",
     "2024-01-08T19:00:00+05:30", "en"),
    ("strike-end", "Kaveri Gramin Bank strike called off",
     "The strike by Kaveri Gramin Bank employees was called off on Thursday after the management agreed to revise "
     "the pay scales. Branches reopened on Friday.",
     "2024-01-11T21:00:00+05:30", "en"),
]


def _write(folder, dated: bool):
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for doc_id, title, text, when, lang in STORIES:
        if doc_id == "bridge-mon":  # a .txt with an RFC 2822 date line, as an RSS export saves it
            body = f"{title}\n{when}\n\n{text}\n" if dated else f"{title}\n\n{text}\n"
            (folder / f"{doc_id}.txt").write_text(body, encoding="utf-8")
            continue
        row = {"id": doc_id, "title": title, "text": text, "lang": lang}
        if dated:
            row["pubDate" if "," in when else "published"] = when
        rows.append(row)
    (folder / "stories.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                          encoding="utf-8")


@pytest.fixture(scope="module")
def archives(tmp_path_factory, settings, embedder):
    from index.build import build_index

    root = tmp_path_factory.mktemp("time-archive")
    out = {}
    for name, dated in (("dated", True), ("undated", False)):
        _write(root / f"{name}-corpus", dated)
        out[name] = root / name
        build_index([root / f"{name}-corpus"], out[name], settings.index, embedder=embedder, progress=False)
    return out


def _engine(settings, embedder, folder, time_aware=True):
    from bot.engine import Engine

    answer = dataclasses.replace(settings.answer, time_aware=time_aware)
    engine = Engine(dataclasses.replace(settings, answer=answer), folder, embedder=embedder)
    engine.as_of = AS_OF
    return engine


@pytest.fixture(scope="module")
def dated_engine(archives, settings, embedder):
    engine = _engine(settings, embedder, archives["dated"])
    yield engine
    engine.close()


def _first(result):
    assert result.answers, f"refused: {result.reason}"
    return result.answers[0]


def test_the_archive_dates_are_read_from_rfc_2822_and_iso_with_zones(archives):
    from index.store import load_index

    index = load_index(archives["dated"])
    assert index.documents["bridge-mon"].date == "2024-03-04"   # RFC 2822 line in a .txt
    assert index.documents["bridge-final"].date == "2024-03-07"  # ISO 8601 with +05:30 in .jsonl
    assert index.documents["bypoll-result"].date == "2024-02-11"  # RFC 2822 pubDate in .jsonl
    assert index.documents["ceo-2023"].date == "2023-09-14"       # ISO 8601 Z
    manifest = json.loads((archives["dated"] / "manifest.json").read_text())
    assert manifest["dates"] == {"first": "2021-06-08", "last": "2024-03-07", "dated": 8, "undated": 0}
    manifest = json.loads((archives["undated"] / "manifest.json").read_text())
    assert manifest["dates"] == {"first": None, "last": None, "dated": 0, "undated": 8}


@pytest.mark.parametrize("question, doc, says", [
    ("What is the latest death toll in the Rampur bridge collapse?", "bridge-final", "43"),
    ("रामपुर पुल हादसे में अब तक कितने लोगों की मौत हुई है?", "bridge-final", "43"),
    ("Who won the Nagar bypoll?", "bypoll-result", "अंजलि वर्मा"),
    ("Who is the CEO of Suryoday Motors?", "ceo-2023", "नेहा कपूर"),
    ("Is the Kaveri Gramin Bank strike still on?", "strike-end", "called off"),
])
def test_latest_questions_quote_the_latest_report(dated_engine, question, doc, says):
    first = _first(dated_engine.ask(question))
    assert first.citation.doc_id == doc and says in first.text
    assert first.citation.date  # the report's date is shown


def test_the_latest_answer_shows_the_earlier_figure(dated_engine):
    result = dated_engine.ask("What is the latest death toll in the Rampur bridge collapse?")
    first = _first(result)
    assert first.earlier is not None
    text, cited = first.earlier
    assert cited.doc_id == "bridge-mon" and "41" in text and cited.date == "2024-03-04"
    shown = result.to_json()["answers"][0]["earlier"]
    assert shown["doc_id"] == "bridge-mon" and shown["date"] == "2024-03-04" and "41" in shown["text"]
    from bot.format import render

    assert "earlier: \u201c" in render(result) and "(2024-03-04, " in render(result)
    # An older count is not "the same fact": it is never cited as another report of the answer.
    assert all("41" not in t for t, _ in first.also_in)


def test_a_dated_question_quotes_that_days_report_and_is_not_refused_for_its_date(dated_engine):
    # Neither "4" nor "2024" is printed in Monday's report: its date answers for them.
    first = _first(dated_engine.ask("What was the death toll in the Rampur bridge collapse on March 4, 2024?"))
    assert first.citation.doc_id == "bridge-mon" and "41" in first.text
    first = _first(dated_engine.ask("Who was leading the Nagar bypoll on February 10, 2024?"))
    assert first.citation.doc_id == "bypoll-count"


def test_relative_dates_are_read_from_as_of(dated_engine):
    # Asked as of Tuesday 5 March, "yesterday" is Monday the 4th.
    dated_engine.as_of = datetime(2024, 3, 5, 9, 0, tzinfo=IST)
    try:
        first = _first(dated_engine.ask("What was the death toll in the Rampur bridge collapse yesterday?"))
        assert first.citation.doc_id == "bridge-mon"
    finally:
        dated_engine.as_of = AS_OF


def test_first_questions_quote_the_first_report(dated_engine):
    first = _first(dated_engine.ask("How many people were initially reported dead in the Rampur bridge collapse?"))
    assert first.citation.doc_id == "bridge-mon" and "41" in first.text
    assert first.earlier is None  # nothing came before the first report


def test_an_undated_archive_is_untouched(archives, settings, embedder):
    on = _engine(settings, embedder, archives["undated"], time_aware=True)
    off = _engine(settings, embedder, archives["undated"], time_aware=False)
    try:
        for q in ("What is the latest death toll in the Rampur bridge collapse?", "Who won the Nagar bypoll?",
                  "How many people were initially reported dead in the Rampur bridge collapse?",
                  "Is the Kaveri Gramin Bank strike still on?"):
            a, b = on.ask(q), off.ask(q)
            assert [x.citation.sid for x in a.answers] == [x.citation.sid for x in b.answers]
            assert [x.text for x in a.answers] == [x.text for x in b.answers]
            assert all(x.earlier is None and x.citation.date is None for x in a.answers)
            assert a.confidence == b.confidence and a.tier == b.tier
    finally:
        on.close()
        off.close()


def test_an_update_keeps_the_archive_date_range(archives, settings, embedder, tmp_path):
    import shutil

    from index.update import update_index

    folder = tmp_path / "index"
    shutil.copytree(archives["undated"], folder)
    new = tmp_path / "new"
    new.mkdir()
    (new / "late.jsonl").write_text(json.dumps({"id": "late", "title": "Bridge reopens", "text": "The Rampur bridge "
                                               "reopened on Friday.", "pubDate": "Fri, 05 Jul 2024 10:00:00 +0530"}),
                                    encoding="utf-8")
    update_index(folder, settings.index, embedder, add=[new], progress=False)
    dates = json.loads((folder / "manifest.json").read_text())["dates"]
    assert dates == {"first": "2024-07-05", "last": "2024-07-05", "dated": 1, "undated": 8}


def test_the_repl_reads_relative_dates_as_of_its_as_of(archives, settings, tmp_path):
    import os

    from test_repl import PROMPT, ROOT, Terminal

    model_dir = settings.index.resolved_model_dir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KHABAR_")}
    env.update(KHABAR_HOME=str(tmp_path / "home"), KHABAR_INDEX_MODEL_DIR=str(model_dir), TERM="xterm",
               LANG="C.UTF-8", LC_ALL="C.UTF-8", PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT))
    term = Terminal(["repl", "--index", str(archives["dated"]), "--as-of", "2024-03-05T09:00+05:30"], env, ROOT)
    try:
        start = term.expect(PROMPT, 0, timeout=300)
        banner = term.text[:start]
        assert "As of 2024-03-05T09:00+05:30" in banner
        out = term.command("What was the death toll in the Rampur bridge collapse yesterday?")
        assert "41" in out and "bridge-mon" in out and "2024-03-04" in out, out
        out = term.command("What is the latest death toll in the Rampur bridge collapse?")
        assert "43" in out and "bridge-final" in out and "earlier: \u201c" in out and "41" in out, out
        term.send(":quit\r")
    finally:
        term.close()
