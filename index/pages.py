"""A saved article page (`.html`, `.htm`) into one article: the story, never the page around it.

The main text comes from `trafilatura` (chosen over readability-lxml by measurement on pages
with navigation, ads, newsletter boxes, related-story lists, comments and footers: it left out
68 of 72 boilerplate snippets against readability's 58, with every article paragraph kept by
both; BENCHMARKS.md "Real exports"). Before it runs, paragraphs that are mostly link text
("Related: <a>another story</a>") are taken out, the one kind of boilerplate it kept.

The headline, date and URL come from the page's own metadata: `og:title` (else the extractor's
title), `article:published_time` / `datePublished` (JSON-LD, microdata) / `<meta name="date">`
/ `<time datetime>`, and the canonical (else `og:url`) link. The id is made from that URL, so a
page saved again replaces the article (`index.document.item_id`); without one, the file name.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import lxml.html
import trafilatura
from lxml import etree

from index.dates import article_date, instant, is_date_line
from index.document import Document, IncompleteFile, item_id
from index.html_text import BLOCKS, element_text
from index.text import detect_lang, nfc

SUFFIXES = (".html", ".htm")
#: A paragraph or list item whose text is at least this share link text is navigation.
LINK_SHARE = 0.5
_DATE_META = ("article:published_time", "og:published_time", "datepublished", "date", "pubdate", "publishdate",
              "dc.date.issued", "dc.date", "sailthru.date", "article.published", "article:modified_time")
_MODIFIED_META = ("article:modified_time", "og:updated_time", "datemodified", "last-modified")


def read_page(raw: str, path: Path) -> Document:
    """The article of one saved page (ValueError saying why when there is none)."""
    if re.search(r"<html[\s>]", raw[:4096], re.IGNORECASE) and not re.search(r"</html\s*>", raw[-4096:], re.IGNORECASE):
        raise IncompleteFile("incomplete page: no closing </html> (still being written? it is read again on the "
                             "next pass)")
    try:
        tree = lxml.html.document_fromstring(raw)
    except (etree.ParserError, ValueError) as exc:
        raise ValueError(f"not a readable HTML page ({exc})") from None
    meta = _metadata(tree)
    _drop_link_lists(tree)
    _separate_blocks(tree)
    found = trafilatura.bare_extraction(tree, include_comments=False, include_tables=False, include_images=False,
                                        with_metadata=True, output_format="python",
                                        date_extraction_params={"extensive_search": False, "original_date": True})
    if found is None or not (getattr(found, "text", None) or "").strip():
        raise ValueError("no article text found in the page (is it an index or a login page?)")
    lines = (" ".join(line.split()) for line in found.text.split("\n"))
    body = nfc("\n".join(line for line in lines if line and not is_date_line(line)))  # a dateline is metadata
    title = nfc(" ".join((meta.get("title") or getattr(found, "title", None) or "").split()))
    if not title:
        title = body.split("\n", 1)[0][:160]
    if body.startswith(title):
        body = body[len(title):].lstrip()
    url = meta.get("url") or getattr(found, "url", None) or None
    date = article_date(meta.get("date")) or article_date(getattr(found, "date", None))
    text = title + "\n\n" + body if body else title
    return Document(doc_id=item_id(url) if url else path.stem, title=title, text=text, lang=detect_lang(text),
                    date=date, url=url, source=str(path), revised=_instant(meta.get("modified") or meta.get("date")))


def _metadata(tree) -> dict[str, str]:
    """Headline, publication and modification dates and URL as the page states them."""
    metas: dict[str, str] = {}
    for el in tree.iter("meta"):
        key = (el.get("property") or el.get("name") or el.get("itemprop") or "").strip().lower()
        if key and el.get("content") and key not in metas:
            metas[key] = el.get("content").strip()
    ld = _json_ld(tree)
    out: dict[str, str] = {}
    title = metas.get("og:title") or metas.get("twitter:title") or ld.get("headline")
    if title:
        out["title"] = html_unescape(title)
    date = next((metas[k] for k in _DATE_META if metas.get(k)), None) or ld.get("datePublished") or \
        ld.get("dateCreated") or next((t.get("datetime") for t in tree.iter("time") if t.get("datetime")), None)
    if date:
        out["date"] = date
    modified = next((metas[k] for k in _MODIFIED_META if metas.get(k)), None) or ld.get("dateModified")
    if modified:
        out["modified"] = modified
    canonical = next((link.get("href") for link in tree.iter("link")
                      if (link.get("rel") or "").lower() == "canonical" and link.get("href")), None)
    url = canonical or metas.get("og:url") or ld.get("url")
    if url and re.match(r"https?://", url):
        out["url"] = url.strip()
    return out


def _json_ld(tree) -> dict:
    """The first NewsArticle/Article-like object of the page's JSON-LD (empty if none)."""
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text or "")
        except json.JSONDecodeError:
            continue
        stack = data if isinstance(data, list) else [data]
        while stack:
            item = stack.pop(0)
            if not isinstance(item, dict):
                continue
            stack.extend(item.get("@graph") or [])
            kind = item.get("@type")
            kinds = kind if isinstance(kind, list) else [kind]
            if any(isinstance(k, str) and k.endswith("Article") for k in kinds) or "headline" in item:
                return {k: v for k, v in item.items() if isinstance(v, str)}
    return {}


def _drop_link_lists(tree) -> None:
    """Take out paragraphs and list items that are mostly links (read-more lines, related stories)."""
    for el in list(tree.iter("p", "li")):
        text = " ".join(el.text_content().split())
        if not text:
            continue
        linked = sum(len(" ".join(a.text_content().split())) for a in el.iter("a"))
        if linked >= LINK_SHARE * len(text):
            el.drop_tree()


def _separate_blocks(tree) -> None:
    """End every block element with a line break, so text in sibling `<div>`s is never run together
    ("...है।इसरो...") by an extractor that keeps only paragraphs' own breaks."""
    for el in tree.iter(*BLOCKS - {"br", "hr"}):
        el.tail = "\n" + (el.tail or "")


def html_unescape(text: str) -> str:
    return element_text(lxml.html.fragment_fromstring(text, create_parent="div")) if "&" in text or "<" in text \
        else text


def _instant(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return instant(text).isoformat()
    except ValueError:
        return None
