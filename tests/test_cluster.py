"""A build through a real two-node Ray cluster on 127.0.0.1 matches the local build.

The test starts a Ray head and a second node (`ray start`, one CPU each, no dashboard), builds the
seed corpus with its embedding stage on the cluster (`build_index.py --ray`), compares it with a
local build, and stops both nodes. Skipped, saying why, only where Ray is not installed
(`scripts/test.sh` installs the cluster extra, so CI runs it).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

try:  # the suite installs Ray (scripts/test.sh): a missing Ray fails here, it never skips silently
    import ray
except ImportError as exc:
    raise ImportError("Ray is not installed: pip install -e '.[cluster]' (scripts/test.sh does)") from exc

from index.build import build_index  # noqa: E402
from index.store import load_index  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
RAY = Path(sys.executable).with_name("ray")

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """(address, env): a head and a worker node, two CPUs in all, stopped afterwards."""
    temp = tmp_path_factory.mktemp("ray")
    port = free_port()
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(ROOT)}
    common = ["--num-cpus=1", "--num-gpus=0", "--object-store-memory=100000000", "--disable-usage-stats"]
    head = [str(RAY), "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}",
            "--include-dashboard=false", f"--temp-dir={temp}", *common]
    worker = [str(RAY), "start", f"--address=127.0.0.1:{port}", "--node-ip-address=127.0.0.1", *common]
    try:
        for cmd in (head, worker):
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
            assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        yield f"127.0.0.1:{port}", env
    finally:
        if ray.is_initialized():
            ray.shutdown()
        subprocess.run([str(RAY), "stop", "--force"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(temp, ignore_errors=True)


def test_ray_build_matches_local_build(cluster, tmp_path, settings, embedder):
    address, env = cluster
    out = tmp_path / "ray-index"
    done = subprocess.run([sys.executable, "scripts/build_index.py", "--corpus", str(SEEDS), "--out", str(out),
                           "--ray", address, "--quiet"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "embeddings: 114 computed, 2 reused" in done.stdout  # 116 texts, two seed sentences repeated

    ray.init(address=address, log_to_driver=False)
    nodes = [n for n in ray.nodes() if n["Alive"]]
    ray.shutdown()
    assert len(nodes) == 2 and sum(n["Resources"].get("CPU", 0) for n in nodes) == 2

    local = tmp_path / "local-index"
    build_index([SEEDS], local, settings.index, embedder=embedder, progress=False)
    a, b = load_index(out), load_index(local)
    assert a.manifest["corpus_fingerprint"] == b.manifest["corpus_fingerprint"]
    assert a.manifest["counts"] == b.manifest["counts"] and a.model_id == b.model_id
    assert [a.passages[i] for i in range(len(a.passages))] == [b.passages[i] for i in range(len(b.passages))]
    assert [a.sentences[i] for i in range(len(a.sentences))] == [b.sentences[i] for i in range(len(b.sentences))]
    for va, vb in ((a.sentence_vectors, b.sentence_vectors), (a.passage_vectors, b.passage_vectors)):
        va, vb = np.asarray(va, np.float32), np.asarray(vb, np.float32)
        cos = (va * vb).sum(1) / (np.linalg.norm(va, axis=1) * np.linalg.norm(vb, axis=1))
        assert float(cos.min()) >= 0.9999


def test_unreachable_cluster_is_a_clear_error(tmp_path):
    done = subprocess.run([sys.executable, "scripts/build_index.py", "--corpus", str(SEEDS), "--out",
                           str(tmp_path / "x"), "--ray", f"127.0.0.1:{free_port()}", "--quiet"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "cannot connect to the Ray cluster" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "x").exists()
