"""Junk is skipped fast and by name (index/prose.py through the corpus reader): base64 and hex
runs, table dumps, markup left unparsed; real articles are untouched; junk inside an article is
cut with its reason."""
from __future__ import annotations

import base64
import json
import os
import random
import time
from pathlib import Path

from index.config import IndexSettings
from index.corpus import read_corpus
from index.document import CUT
from index.prose import check

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = ("Title of the story\n\nThe government ordered Twitter to block 1,178 accounts on Thursday. "
           "Officials said the accounts spread misinformation about the farmers' protest. "
           "The company said it would review the order and talk to the ministry.\n")


def reasons(corpus) -> dict[str, str]:
    return {Path(s.path).name: s.reason for s in corpus.skipped}


def test_a_3mb_base64_attachment_is_skipped_in_well_under_a_second(tmp_path):
    blob = base64.encodebytes(os.urandom(3 * 1024 * 1024 * 3 // 4))  # MIME lines of 76 characters
    (tmp_path / "attachment.txt").write_bytes(blob)
    (tmp_path / "one-line.txt").write_bytes(base64.b64encode(os.urandom(300_000)))
    (tmp_path / "story.txt").write_text(ARTICLE, encoding="utf-8")
    started = time.perf_counter()
    corpus = read_corpus(tmp_path)
    assert time.perf_counter() - started < 1.0
    assert [d.doc_id for d in corpus.documents] == ["story"]
    why = reasons(corpus)
    assert why["attachment.txt"].startswith("not prose: base64 run")
    assert why["one-line.txt"].startswith("not prose: a base64 run")


def test_hex_dump_table_dump_and_markup_are_named(tmp_path):
    data = random.Random(0).randbytes(200_000)
    (tmp_path / "dump.txt").write_text("\n".join(
        f"{i:08x}: " + " ".join(data[i:i + 16][j:j + 2].hex() for j in range(0, 16, 2))
        for i in range(0, len(data), 16)), encoding="utf-8")
    (tmp_path / "hashes.txt").write_text("\n".join(os.urandom(32).hex() for _ in range(2000)), encoding="utf-8")
    (tmp_path / "results.txt").write_text("Constituency results\n" + "\n".join(
        f"{n},{n * 37 % 9973},{n * 91 % 7919},{n % 13},{n * 7}" for n in range(3000)), encoding="utf-8")
    (tmp_path / "page.txt").write_text("<html><body>" + "".join(
        f'<div class="row"><span class="c">{n}</span><a href="/x/{n}">link</a></div>\n' for n in range(500))
        + "</body></html>", encoding="utf-8")
    (tmp_path / "story.txt").write_text(ARTICLE, encoding="utf-8")
    started = time.perf_counter()
    corpus = read_corpus(tmp_path)
    assert time.perf_counter() - started < 1.0
    why = reasons(corpus)
    assert [d.doc_id for d in corpus.documents] == ["story"]
    assert why["dump.txt"].startswith("not prose: hex dump")
    assert why["hashes.txt"].startswith("not prose: hex run")
    assert why["results.txt"].startswith("not prose: table dump")
    assert why["page.txt"].startswith("not prose: markup left unparsed")


def test_junk_inside_an_article_is_cut_and_said(tmp_path):
    image = base64.b64encode(os.urandom(120)).decode()  # an inline image, a small share of the story
    row = "| Party | Seats | Votes | Share |"
    (tmp_path / "story.txt").write_text(ARTICLE + image + "\n" + row + "\n" + ARTICLE.split("\n", 2)[2],
                                        encoding="utf-8")
    rows = [{"id": "j1", "title": "Budget", "text": ARTICLE.split("\n", 2)[2] + " " + "f" * 64 + " end."}]
    (tmp_path / "cms.jsonl").write_text(json.dumps(rows[0]) + "\n", encoding="utf-8")
    corpus = read_corpus(tmp_path)
    docs = {d.doc_id: d for d in corpus.documents}
    assert image not in docs["story"].text and row not in docs["story"].text
    assert "1,178 accounts" in docs["story"].text
    assert "f" * 64 not in docs["j1"].text and docs["j1"].text.endswith("end.")
    cuts = [s for s in corpus.skipped if s.kind == CUT]
    assert {Path(s.path.split(":")[0]).name for s in cuts} == {"story.txt", "cms.jsonl"}
    assert any("base64 run" in s.reason for s in cuts) and any("table dump" in s.reason for s in cuts)
    assert all(s.reason.startswith("not prose:") for s in cuts)


def test_real_articles_are_untouched():
    """The defaults were measured on these: not one word or line of them is junk."""
    settings = IndexSettings()
    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").glob("*.txt"))]
    for lang in ("en", "hi"):
        path = ROOT.parent / "shared" / "eval" / "xquad-dev" / f"xquad.{lang}.json"
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            texts += [p["context"] for a in data["data"] for p in a["paragraphs"]]
    for text in texts:
        verdict = check(text, settings)
        assert verdict.text == text and not verdict.cut and verdict.skip is None


def test_limits_are_settings():
    text = "A sentence with a longish word: " + "x" * 30 + " in it, and more words after it here."
    assert not check(text, IndexSettings()).cut
    assert check(text, IndexSettings(max_word_chars=20)).cut
