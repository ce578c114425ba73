"""HTML to the text an article prints: a feed item's description, a JSON export's HTML body,
the main content an extractor found in a page.

One paragraph a line (block elements and `<br>` end a line), entities decoded, and never the
parts a reader does not read as the article's text: scripts, styles, forms, embedded frames.
"""
from __future__ import annotations

import re

import lxml.html
from lxml import etree
from lxml.html.defs import tags as HTML_TAGS

#: Elements whose text is never article text.
DROP = ("script", "style", "noscript", "iframe", "form", "button", "select", "textarea", "svg", "template",
        "object", "embed", "canvas")
#: Elements that end a line (their text is a paragraph of its own).
BLOCKS = frozenset({"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
                    "section", "article", "header", "footer", "aside", "figure", "figcaption", "table", "tr",
                    "pre", "hr", "dd", "dt", "dl", "main", "nav"})
#: A tag of a real HTML element, a comment or doctype, or an entity. Text that only looks like
#: markup (Slack's `<!here>` and `<@U123>`, "a <b" in prose) is not HTML and is kept as written.
_TAG = re.compile(r"</?([A-Za-z][A-Za-z0-9]*)(?=[\s/>])[^<>]*>|(<!--|<!doctype\b)|&(?:[a-zA-Z]{2,8}|#\d{2,5}|#x[0-9a-fA-F]{2,4});",
                  re.IGNORECASE)


def looks_like_html(text: str) -> bool:
    """Whether a text field holds markup (a CMS often exports the body as HTML): at least two
    tags of real HTML elements, comments or entities."""
    found = 0
    for m in _TAG.finditer(text[:20000]):
        name = m.group(1)
        if name is None or name.lower() in HTML_TAGS:
            found += 1
            if found >= 2:
                return True
    return False


def html_to_text(fragment: str) -> str:
    """The text of an HTML fragment or page, one paragraph a line (empty for no text)."""
    if not fragment or not fragment.strip():
        return ""
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, ValueError):
        return ""
    return element_text(root)


def element_text(root) -> str:
    """The text of a parsed element, one paragraph a line."""
    for bad in root.xpath("|".join(f".//{t}" for t in DROP)):
        bad.drop_tree()
    parts: list[str] = []
    _walk(root, parts)
    lines = (" ".join(line.split()) for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line)


def _walk(el, parts: list[str]) -> None:
    tag = el.tag if isinstance(el.tag, str) else ""
    block = tag.lower() in BLOCKS
    if block:
        parts.append("\n")
    if el.text and tag:
        parts.append(el.text)
    for child in el:
        _walk(child, parts)
        if child.tail:
            parts.append(child.tail)
    if block:
        parts.append("\n")
