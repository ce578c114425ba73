"""Small real exports written by the tests: an RSS 2.0 feed, a Hindi Atom feed, a saved page with
boilerplate, a CMS JSONL export with an embargoed and a draft article."""
from __future__ import annotations

import json
from pathlib import Path

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>City desk</title><link>https://news.example/city</link><language>en-in</language>
<item><title>Pune civic body votes to plant 50,000 trees along the Mula river</title>
<link>https://news.example/city/pune-trees-1001</link><guid isPermaLink="false">city-1001</guid>
<pubDate>Wed, 10 Feb 2021 04:35:00 +0530</pubDate>
<description>&lt;p&gt;The Pune Municipal Corporation voted on Tuesday to plant 50,000 trees along the Mula river.&lt;/p&gt;&lt;p&gt;Work on the riverfront will begin in March, the mayor said.&lt;/p&gt;</description>
</item>
<item><title>Nashik gets its first electric buses</title>
<link>https://news.example/city/nashik-buses-1002</link><guid isPermaLink="false">city-1002</guid>
<pubDate>Thu, 11 Feb 2021 22:10:00 +0530</pubDate>
<content:encoded><![CDATA[<p>Nashik's transport service put 25 electric buses on the road on Thursday.</p><p>Each bus can run 180 kilometres on a single charge.</p>]]></content:encoded>
</item>
</channel></rss>
"""

ATOM_HI = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:app="http://www.w3.org/2007/app" xml:lang="hi">
<title>प्रदेश डेस्क</title><id>tag:news.example,2021:hi</id><updated>2021-02-10T09:00:00+05:30</updated>
<entry><title>भोपाल में 300 नई बसें चलेंगी</title><id>tag:news.example,2021:hi-2001</id>
<link href="https://news.example/hindi/bhopal-bus-2001"/>
<published>2021-02-10T00:30:00+05:30</published>
<content type="html">&lt;p&gt;भोपाल नगर निगम ने शहर में 300 नई बसें चलाने का फैसला किया है।&lt;/p&gt;&lt;p&gt;इन बसों में महिलाओं के लिए 40 सीटें आरक्षित होंगी।&lt;/p&gt;</content>
</entry>
<entry><title>मंत्री कल इस्तीफा देंगे</title><id>tag:news.example,2021:hi-2002</id>
<link href="https://news.example/hindi/mantri-2002"/><updated>2021-02-10T09:00:00+05:30</updated>
<app:control><app:draft>yes</app:draft></app:control>
<content type="html">&lt;p&gt;मंत्री कल इस्तीफा देंगे, सूत्रों ने बताया।&lt;/p&gt;</content>
</entry>
</feed>
"""

PAGE_BOILERPLATE = ("Subscribe to our newsletter", "Get the day's top stories in your inbox",
                    "Home India World Sports", "Advertisement", "All rights reserved", "Related stories",
                    "Goa ferry fares to rise")
PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Kolhapur dam reaches full capacity | News Example</title>
<meta property="og:title" content="Kolhapur's Radhanagari dam reaches full capacity">
<meta property="article:published_time" content="2021-08-01T23:45:00+05:30">
<link rel="canonical" href="https://news.example/state/radhanagari-dam-full-3003">
<script>var ads = [];</script></head>
<body>
<header><nav><ul><li><a href="/">Home</a></li><li><a href="/india">India</a></li><li><a href="/world">World</a></li><li><a href="/sports">Sports</a></li></ul></nav></header>
<div class="ad-slot">Advertisement</div>
<main><article><h1>Kolhapur's Radhanagari dam reaches full capacity</h1>
<div class="story-body">
<p>The Radhanagari dam in Kolhapur district reached its full capacity of 8.36 TMC on Sunday evening.</p>
<p>Four of its automatic gates opened and released 7,112 cusecs of water into the Bhogawati river.</p>
<div class="newsletter"><h3>Subscribe to our newsletter</h3><p>Get the day's top stories in your inbox every morning.</p><form><input type="email"><button>Subscribe</button></form></div>
<p><strong>Related stories:</strong> <a href="/x">Goa ferry fares to rise from Monday</a></p>
<p>Villages along the river have been told to move cattle to higher ground, the district collector said.</p>
</div></article>
<aside><h3>Related stories</h3><ul><li><a href="/y">Goa ferry fares to rise from Monday</a></li></ul></aside></main>
<footer><p>Follow us on Twitter</p><p>© 2021 News Example Ltd. All rights reserved.</p></footer>
</body></html>
"""

EMBARGO_TEXT = "The state budget will allot Rs 5,000 crore for rural roads"
DRAFT_TEXT = "mayor will resign"
JSONL_ROWS = [
    {"id": "budget-embargoed", "title": "State budget: Rs 5,000 crore for rural roads",
     "text": EMBARGO_TEXT + ", the finance minister will announce on Friday.",
     "embargo_until": "2099-01-01T11:00:00+05:30", "date": "2099-01-01"},
    {"id": "mayor-draft", "status": "draft", "title": "Mayor to quit",
     "text": "The " + DRAFT_TEXT + " on Friday, two councillors said."},
    {"id": "zoo-tigers", "title": "Nagpur zoo gets four tigers",
     "text": "<p>The Maharajbagh zoo in Nagpur received four tigers on Monday.</p>",
     "date": "2021-04-01T23:30:00+05:30", "url": "https://news.example/city/zoo-tigers"},
]


def write_jsonl(path: Path, rows=JSONL_ROWS) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def write_exports(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "city.rss").write_text(RSS, encoding="utf-8")
    (folder / "pradesh.atom").write_text(ATOM_HI, encoding="utf-8")
    (folder / "dam.html").write_text(PAGE, encoding="utf-8")
    write_jsonl(folder / "cms.jsonl")
    return folder
