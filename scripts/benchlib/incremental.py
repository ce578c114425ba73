"""2a. Incremental update: update_index --add of a share of the synthetic index as new real
articles while an Engine serves it, then --delete of the same articles."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from benchlib.common import log, rss_mb
from bot.config import Settings
from bot.engine import Engine
from index.embed import Embedder
from index.store import load_index
from index.update import update_index


# 2a. Incremental update

def bench_incremental(syn_path: Path, src_path: Path, gen: dict, build: dict, settings: Settings,
                      embedder: Embedder, tmp: Path, share: float) -> dict:
    """`update_index` adding `share` of the synthetic index's passages as new real articles (the
    source corpus's articles under new ids, so they are embedded for real), against a copy of
    the synthetic index served by an Engine that must see them after one reload check; then
    the same articles deleted again. A full build of the synthetic corpus cannot be run here
    (its vectors are made up), so `full_seconds` is its measured non-embedding build time plus
    its texts at this run's measured build embedding rate."""
    copy = tmp / "incremental"
    log(f"incremental: copying {syn_path} (setup, not timed)")
    shutil.copytree(syn_path, copy)
    src = load_index(src_path, expect_model_id=embedder.model_id)
    syn = load_index(copy)
    n_syn_passages, n_syn_sentences = len(syn.passages), len(syn.sentences)
    del syn
    want = max(1, int(round(share * n_syn_passages)))
    today = tmp / "today"
    today.mkdir()
    src_docs = list(src.documents)
    n_passages_of = {}
    for p in range(len(src.passages)):
        d = src.passages[p].doc_id
        n_passages_of[d] = n_passages_of.get(d, 0) + 1
    added, passages, i = [], 0, 0
    with (today / "today.jsonl").open("w", encoding="utf-8") as fh:
        while passages < want:
            doc = src.documents[src_docs[i % len(src_docs)]]
            new_id = f"today-{i:06d}-{doc.doc_id}"
            fh.write(json.dumps({"id": new_id, "title": doc.title, "text": doc.text, "lang": doc.lang},
                                ensure_ascii=False) + "\n")
            added.append(new_id)
            passages += n_passages_of.get(doc.doc_id, 1)
            i += 1
    del src
    engine = Engine(settings, copy, embedder=embedder)
    probe = added[0]
    rss_before = rss_mb()
    log(f"incremental: update_index --add {len(added)} articles (~{passages} passages, {share:.2%} of "
        f"{n_syn_passages:,}) while an Engine serves the copy")
    summary = update_index(copy, settings.index, embedder, add=[today], progress=True)
    t = time.perf_counter()
    swapped = engine.reload_if_changed()
    reload_s = time.perf_counter() - t
    rss_after = rss_mb()
    found = probe in engine.index.documents
    del engine
    log(f"incremental: update_index --delete the {len(added)} articles again")
    deleted = update_index(copy, settings.index, embedder, delete=added, progress=False)
    after_delete = load_index(copy)
    gone = not any(d in after_delete.documents for d in added[:50])
    embed_rate = build["build_texts_per_s"]
    fixed = gen.get("bm25_build_seconds", 0) + gen.get("faiss_build_seconds", 0) + gen.get("write_seconds", 0)
    full = fixed + (n_syn_passages + n_syn_sentences) / embed_rate
    embed_s = summary.phases.get("embed", 0.0)
    other_s = summary.seconds - embed_s
    projected_1pct = other_s + embed_s * (0.01 / share) if share else None
    return {"share": share, "add_articles": len(added), "add_passages": summary.passages,
            "add_sentences": summary.sentences, "embedded": summary.embedded,
            "add_seconds": round(summary.seconds, 2), "phases": summary.phases,
            "add_seconds_projected_1pct": round(projected_1pct, 1) if projected_1pct else None,
            "full_seconds": round(full, 1),
            "full_seconds_basis": f"BM25 + faiss + write of the synthetic build ({fixed:.0f} s) + "
                                  f"{n_syn_passages + n_syn_sentences:,} texts at {embed_rate} texts/s",
            "add_share_of_full": round(summary.seconds / full, 5),
            "add_1pct_share_of_full": round(projected_1pct / full, 5) if projected_1pct else None,
            "engine_reloaded": bool(swapped), "reload_s": round(reload_s, 3), "new_article_served": bool(found),
            "rss_before_mb": round(rss_before or 0, 1), "rss_after_swap_mb": round(rss_after or 0, 1),
            "delete_seconds": round(deleted.seconds, 2), "deleted_gone": gone}
