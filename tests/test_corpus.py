"""Reading articles: the seeds' title/date conventions, JSONL, and every kind of bad file."""
import json
from pathlib import Path

import pytest

from index.corpus import CorpusError, parse_txt, read_corpus

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def test_seed_titles_dates_and_languages():
    corpus = read_corpus(SEEDS)
    docs = {d.doc_id: d for d in corpus.documents}
    assert len(docs) == 5 and not corpus.skipped
    hi = docs["000_d8dae42a146f05ed"]
    assert hi.lang == "hi" and hi.date == "2021-02-10"
    assert hi.title.startswith("सरकार से बात करना चाहती है ट्विटर कंपनी")
    assert "Updated:" not in hi.text  # the date line is metadata, never an answer
    en = docs["003_650a5a8d15b4475b"]
    assert en.lang == "en" and en.date == "2021-02-09"
    assert en.title == "Twitter Reaches Out To IT Ministry Of India, Says Employees Security Top Priority"
    assert "date 2021" not in en.text
    lede = docs["004_2607bfde9224eb31"]  # no headline: the lede's first sentence is the title
    assert lede.title.startswith("Micro-blogging platform Twitter on Monday") and len(lede.title) <= 161
    assert lede.text.startswith("Micro-blogging platform Twitter on Monday")
    assert [docs[k].lang for k in sorted(docs)] == ["hi", "hi", "en", "en", "en"]


def test_parse_txt_updated_line_variants():
    doc = parse_txt("Headline here\n\nPublished: Mar 3, 2022\n\nBody text. More text.", "x")
    assert doc.date == "2022-03-03" and doc.title == "Headline here" and "Body text." in doc.text
    assert parse_txt("Only line", "y").text == "Only line"
    with pytest.raises(ValueError):
        parse_txt("\n \n", "z")


def test_bad_files_are_skipped_with_reasons(tmp_path):
    (tmp_path / "good.txt").write_text("Title\n\nTwitter blocked 1,178 accounts.", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02PNG\x00")
    (tmp_path / "latin1.txt").write_bytes("Caf\xe9 news".encode("latin-1"))
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "blank.txt").write_text("  \n\n ")
    (tmp_path / "report.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / ".hidden.txt").write_text("ignored")
    corpus = read_corpus(tmp_path)
    assert [d.doc_id for d in corpus.documents] == ["good"]
    reasons = {Path(s.path).name: s.reason for s in corpus.skipped}
    assert "binary" in reasons["binary.txt"]
    assert "UTF-8" in reasons["latin1.txt"]
    assert "empty" in reasons["empty.txt"] and "empty" in reasons["blank.txt"]
    assert "unsupported" in reasons["report.pdf"]
    assert ".hidden.txt" not in reasons


def test_jsonl_articles_and_bad_lines(tmp_path):
    rows = [
        {"id": "a1", "title": "T1", "text": "सरकार ने आदेश दिया।", "date": "2021-02-04", "url": "https://x/a1"},
        {"id": "a2", "title": "T2", "text": "English text here.", "lang": "en"},
        {"id": "a3", "title": "", "text": "no title"},
    ]
    lines = [json.dumps(r, ensure_ascii=False) for r in rows] + ["{not json", "[1, 2]", ""]
    lines.append(json.dumps({"id": "a1", "title": "dup", "text": "dup"}))
    (tmp_path / "feed.jsonl").write_text("\n".join(lines), encoding="utf-8")
    corpus = read_corpus(tmp_path)
    docs = {d.doc_id: d for d in corpus.documents}
    assert set(docs) == {"a1", "a2"}
    assert docs["a1"].lang == "hi" and docs["a1"].date == "2021-02-04" and docs["a1"].url == "https://x/a1"
    reasons = " | ".join(s.reason for s in corpus.skipped)
    assert "missing field(s): title" in reasons and "invalid JSON" in reasons
    assert "not a JSON object" in reasons and "duplicate doc_id 'a1'" in reasons


def test_no_usable_document_is_an_error(tmp_path):
    (tmp_path / "x.bin").write_bytes(b"\x00")
    (tmp_path / "e.txt").write_text("")
    with pytest.raises(CorpusError, match="no usable article"):
        read_corpus(tmp_path)
    with pytest.raises(CorpusError, match="not found"):
        read_corpus(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CorpusError, match="no article files"):
        read_corpus(empty)


def test_html_bodies_are_parsed_and_slack_like_text_is_kept(tmp_path):
    """A CMS's HTML body is read as text; a body that only looks like markup (Slack's <!here>,
    <@U123>, 'a < b') is prose and keeps every character."""
    rows = [
        {"id": "html", "title": "HTML body", "date": "2021-03-14",
         "text": "<p>The show drew <b>4,500</b> visitors.</p><p>Dogs &amp; owners came.</p>"},
        {"id": "slack", "title": "A banner", "date": "2021-03-14",
         "text": "A banner reading <!channel> <!here> <@U123> greeted them. Entry cost < 50 rupees."},
    ]
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    docs = {d.doc_id: d for d in read_corpus(tmp_path).documents}
    assert "<p>" not in docs["html"].text and "4,500 visitors." in docs["html"].text
    assert "Dogs & owners came." in docs["html"].text
    assert "<!channel> <!here> <@U123> greeted them" in docs["slack"].text
    assert "< 50 rupees" in docs["slack"].text


@pytest.mark.parametrize("line, day", [
    ("Wed, 10 Feb 2021 04:35:00 +0530", "2021-02-10"),           # RFC 2822, as an RSS export writes it
    ("Published: Wed, 10 Feb 2021 23:35:00 GMT", "2021-02-10"),
    ("2021-02-10T00:30:00+05:30", "2021-02-10"),                 # ISO 8601 with a zone: the date as written
    ("Updated: 2021-02-10T04:35:00Z", "2021-02-10"),
    ("2021-02-10 04:35:00+05:30", "2021-02-10"),
    ("Wednesday, February 10, 2021", "2021-02-10"),              # printed, with the weekday
    ("10 February 2021", "2021-02-10"),                          # printed, day first
])
def test_a_txt_date_line_in_the_forms_exports_write(line, day):
    doc = parse_txt(f"Bridge toll rises\n{line}\n\nThe toll rose to 41 on Monday.", "bridge")
    assert doc.date == day
    assert line not in doc.text  # the date line is metadata, never a sentence to quote


@pytest.mark.parametrize("field, value, day", [
    ("date", "Wed, 10 Feb 2021 04:35:00 +0530", "2021-02-10"),
    ("pubDate", "Wed, 10 Feb 2021 23:35:00 GMT", "2021-02-10"),
    ("published", "2021-02-10T00:30:00+05:30", "2021-02-10"),
    ("date", "2021-02-09T20:00:00Z", "2021-02-09"),
])
def test_a_jsonl_date_in_the_forms_exports_write(tmp_path, field, value, day):
    (tmp_path / "a.jsonl").write_text(json.dumps({"id": "a", "title": "T", "text": "The toll rose to 41.",
                                                  field: value}), encoding="utf-8")
    assert read_corpus(tmp_path).documents[0].date == day


def test_an_undated_article_stays_undated(tmp_path):
    (tmp_path / "a.jsonl").write_text(json.dumps({"id": "a", "title": "T", "text": "The toll rose to 41."}),
                                      encoding="utf-8")
    (tmp_path / "b.txt").write_text("A headline\n\nThe toll rose to 41 on Monday.", encoding="utf-8")
    assert [d.date for d in read_corpus(tmp_path).documents] == [None, None]
