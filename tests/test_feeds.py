"""Feeds and pages in the corpus reader (index/feeds.py, index/pages.py): RSS 2.0, Atom in Hindi,
RSS 1.0, a saved page with boilerplate, drafts, half-written files, dates and links."""
from __future__ import annotations

from pathlib import Path

from exports import ATOM_HI, PAGE, PAGE_BOILERPLATE, RSS, write_exports

from index.corpus import read_corpus
from index.document import PENDING, item_id


def docs_of(folder: Path):
    corpus = read_corpus(folder)
    return {d.doc_id: d for d in corpus.documents}, corpus


def test_rss_items_are_articles_with_link_date_and_text(tmp_path):
    (tmp_path / "city.rss").write_text(RSS, encoding="utf-8")
    docs, corpus = docs_of(tmp_path)
    assert set(docs) == {"city-1001", "city-1002"} and not corpus.skipped
    trees = docs["city-1001"]
    assert trees.title == "Pune civic body votes to plant 50,000 trees along the Mula river"
    assert trees.url == "https://news.example/city/pune-trees-1001"
    assert trees.date == "2021-02-10"  # RFC 2822 with a zone, as the desk dated it
    assert "plant 50,000 trees along the Mula river." in trees.text and "<p>" not in trees.text
    assert "Work on the riverfront will begin in March" in trees.text and trees.lang == "en"
    buses = docs["city-1002"]  # content:encoded is the text
    assert "25 electric buses" in buses.text and "180 kilometres" in buses.text and buses.date == "2021-02-11"


def test_hindi_atom_feed_and_its_draft(tmp_path):
    (tmp_path / "pradesh.atom").write_text(ATOM_HI, encoding="utf-8")
    docs, corpus = docs_of(tmp_path)
    assert len(docs) == 1
    doc = next(iter(docs.values()))
    assert doc.doc_id == item_id("tag:news.example,2021:hi-2001") and doc.lang == "hi"
    assert doc.title == "भोपाल में 300 नई बसें चलेंगी" and doc.url == "https://news.example/hindi/bhopal-bus-2001"
    assert doc.date == "2021-02-10"  # 00:30 IST is the 10th, though it was the 9th in UTC
    assert "40 सीटें आरक्षित" in doc.text
    [draft] = corpus.skipped
    assert "draft" in draft.reason and draft.path.endswith("pradesh.atom#2")


def test_rss_1_0_feed(tmp_path):
    (tmp_path / "archive.xml").write_text("""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
 xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="https://news.example/a"><title>A</title><link>https://news.example/a</link><description>a</description></channel>
<item rdf:about="https://news.example/a/konkan"><title>Konkan Railway opens its full line</title>
<link>https://news.example/a/konkan</link><dc:date>1998-01-26T10:00:00+05:30</dc:date>
<description>The Konkan Railway began running trains over its 760-kilometre line on Sunday.</description></item>
</rdf:RDF>""", encoding="utf-8")
    docs, _ = docs_of(tmp_path)
    [doc] = docs.values()
    assert doc.date == "1998-01-26" and doc.url == "https://news.example/a/konkan" and "760-kilometre" in doc.text


def test_a_page_gives_its_story_and_never_its_boilerplate(tmp_path):
    (tmp_path / "dam.html").write_text(PAGE, encoding="utf-8")
    docs, corpus = docs_of(tmp_path)
    [doc] = docs.values()
    assert doc.title == "Kolhapur's Radhanagari dam reaches full capacity"
    assert doc.date == "2021-08-01" and doc.url == "https://news.example/state/radhanagari-dam-full-3003"
    assert doc.doc_id == item_id(doc.url)
    for fact in ("full capacity of 8.36 TMC", "7,112 cusecs", "move cattle to higher ground"):
        assert fact in doc.text
    for junk in PAGE_BOILERPLATE:
        assert junk not in doc.text, junk


def test_a_hindi_page(tmp_path):
    html = """<html lang="hi"><head><title>इसरो ने 36 उपग्रह भेजे | समाचार</title>
<meta name="date" content="2023-03-26T10:20:00+05:30"></head><body>
<nav><a href="/">होम</a> <a href="/desh">देश</a></nav>
<div class="content"><h1>इसरो ने 36 उपग्रह भेजे</h1>
<p>भारतीय अंतरिक्ष अनुसंधान संगठन ने रविवार सुबह श्रीहरिकोटा से 36 उपग्रह प्रक्षेपित किए।</p>
<p>ये उपग्रह ब्रिटेन की कंपनी वनवेब के हैं और इनका कुल वजन करीब 5,805 किलोग्राम है।</p>
<div class="newsletter">न्यूज़लेटर की सदस्यता लें</div></div>
<footer>सर्वाधिकार सुरक्षित</footer></body></html>"""
    (tmp_path / "isro.htm").write_text(html, encoding="utf-8")
    docs, _ = docs_of(tmp_path)
    [doc] = docs.values()
    assert doc.lang == "hi" and doc.date == "2023-03-26" and doc.doc_id == "isro" and doc.url is None
    assert "5,805 किलोग्राम" in doc.text and "सर्वाधिकार" not in doc.text and "होम" not in doc.text


def test_half_written_feed_and_page_wait_for_the_next_pass(tmp_path):
    (tmp_path / "city.rss").write_text(RSS[: len(RSS) // 2], encoding="utf-8")
    (tmp_path / "dam.html").write_text(PAGE[: len(PAGE) - 40], encoding="utf-8")
    (tmp_path / "ok.txt").write_text("Title\n\nA complete article about the dam.", encoding="utf-8")
    corpus = read_corpus(tmp_path)
    assert [d.doc_id for d in corpus.documents] == ["ok"]
    pending = {Path(s.path).name: s for s in corpus.skipped}
    assert pending["city.rss"].kind == PENDING and "incomplete feed" in pending["city.rss"].reason
    assert pending["dam.html"].kind == PENDING and "</html>" in pending["dam.html"].reason


def test_not_a_feed_is_skipped_with_its_reason(tmp_path):
    (tmp_path / "config.xml").write_text("<config><a>1</a></config>", encoding="utf-8")
    (tmp_path / "ok.txt").write_text("Title\n\nText.", encoding="utf-8")
    corpus = read_corpus(tmp_path)
    [s] = corpus.skipped
    assert s.path.endswith("config.xml") and ("no items" in s.reason or "not an RSS" in s.reason)


def test_the_same_item_in_two_exports_keeps_the_newer(tmp_path):
    old = RSS.replace("Wed, 10 Feb 2021 04:35:00 +0530", "Wed, 10 Feb 2021 04:35:00 +0530")
    new = RSS.replace("50,000 trees along the Mula river.&lt;", "60,000 trees along the Mula river.&lt;") \
        .replace("Wed, 10 Feb 2021 04:35:00 +0530", "Wed, 10 Feb 2021 09:00:00 +0530")
    (tmp_path / "b-old.rss").write_text(old, encoding="utf-8")
    (tmp_path / "a-new.rss").write_text(new, encoding="utf-8")  # first by name, newer by date
    docs, corpus = docs_of(tmp_path)
    assert "60,000 trees" in docs["city-1001"].text
    assert any("duplicate doc_id 'city-1002'" in s.reason for s in corpus.skipped)


def test_a_whole_export_folder(tmp_path):
    docs, corpus = docs_of(write_exports(tmp_path / "x"))
    assert {"city-1001", "city-1002", "zoo-tigers", "budget-embargoed"} <= set(docs)
    assert "mayor-draft" not in docs
    reasons = [s.reason for s in corpus.skipped]
    assert sum("draft" in r for r in reasons) == 2
    assert docs["budget-embargoed"].embargo_until == "2099-01-01T05:30:00+00:00"
    assert docs["zoo-tigers"].date == "2021-04-01" and "<p>" not in docs["zoo-tigers"].text
