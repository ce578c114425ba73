"""3. Cold start to the first answer: the CLI in a fresh process (through a small launcher, for
its peak RSS) and an instrumented fresh process that reports where its time goes."""
from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

from benchlib.common import ROOT


# 3. Cold start

#: Runs a command, timing it from launch to its first stdout line and to its exit, and reads its
#: peak RSS from wait4. A small launcher, not the bench, forks it: Linux carries the forking
#: process's resident size into the child's ru_maxrss, which would report the bench's own size.
_LAUNCHER = r"""
import json, os, subprocess, sys, time
t0 = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE)
line = proc.stdout.readline()
t1 = time.perf_counter()
proc.stdout.read()
_, status, usage = os.wait4(proc.pid, 0)
t2 = time.perf_counter()
proc.returncode = os.waitstatus_to_exitcode(status)
print(json.dumps({"rc": proc.returncode, "to_answer": t1 - t0, "to_exit": t2 - t0,
                  "maxrss_kb": usage.ru_maxrss, "line": line.decode("utf-8", "replace")}))
"""


def run_cold_cli(index_dir: Path, question: str) -> dict:
    """`python -m bot ask --json --index DIR QUESTION` in a fresh process."""
    cmd = [sys.executable, "-m", "bot", "ask", "--json", "--index", str(index_dir), question]
    proc = subprocess.run([sys.executable, "-c", _LAUNCHER, *cmd], cwd=ROOT, capture_output=True, text=True)
    try:
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        answer = json.loads(r["line"])
    except (IndexError, ValueError, KeyError):
        raise SystemExit(f"bench: cold start failed: {shlex.join(cmd)}\n{proc.stderr[-2000:]}") from None
    if r["rc"] != 0:
        raise SystemExit(f"bench: cold start exited {r['rc']}: {shlex.join(cmd)}\n{proc.stderr[-2000:]}")
    return {"command": shlex.join(cmd), "to_answer_s": round(r["to_answer"], 3), "to_exit_s": round(r["to_exit"], 3),
            "maxrss_mb": round(r["maxrss_kb"] / 1024.0, 1), "abstained": answer["abstained"],
            "first_answer": answer["answers"][0]["text"][:120] if answer["answers"] else None}


_PHASES = r"""
import json, sys, time
t0 = time.time()
sys.path.insert(0, {root!r})
from pathlib import Path
import faiss, bm25s  # what serving imports (torch only where the torch backend is configured)
from bot.config import load_settings
from bot.engine import Engine
from index.embed import Embedder
t1 = time.time()
settings = load_settings()
embedder = Embedder(settings.index)
t2 = time.time()
engine = Engine(settings, Path({index!r}), embedder=embedder)
t3 = time.time()
def status(key):  # VmHWM: peak RSS of this process image (ru_maxrss would include the bench's)
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
def hwm():
    return status("VmHWM")
rss_loaded = hwm()
rss_now = status("VmRSS")
result = engine.ask({question!r})
t4 = time.time()
print(json.dumps({{"t0": t0, "imports": t1 - t0, "model": t2 - t1, "index": t3 - t2, "ask": t4 - t3,
                  "maxrss_loaded_kb": rss_loaded, "rss_loaded_kb": rss_now,
                  "maxrss_kb": hwm(),
                  "abstained": result.abstained}}), flush=True)
"""


def run_cold_phases(index_dir: Path, question: str) -> dict:
    """A fresh process that reports where its time to the first answer goes."""
    code = _PHASES.format(root=str(ROOT), index=str(index_dir), question=question)
    launched = time.time()
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"bench: instrumented cold start failed on {index_dir}:\n{proc.stderr[-2000:]}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    phases = {"interpreter_start": r["t0"] - launched, "imports": r["imports"], "model_load": r["model"],
              "index_load": r["index"], "first_ask": r["ask"]}
    return {**{k: round(v, 3) for k, v in phases.items()}, "to_answer_s": round(sum(phases.values()), 3),
            "maxrss_after_load_mb": round(r["maxrss_loaded_kb"] / 1024.0, 1),
            "rss_after_load_mb": round(r["rss_loaded_kb"] / 1024.0, 1),
            "maxrss_mb": round(r["maxrss_kb"] / 1024.0, 1), "abstained": r["abstained"]}
