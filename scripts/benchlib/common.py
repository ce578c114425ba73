"""The bench's shared floor: the fixed question list, the machine and the code it ran on, and
timing and memory helpers. Imports no other bench module."""
from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot.config import Settings  # noqa: E402

SEED_QUESTIONS = ROOT / "scripts" / "seeds_questions.jsonl"
COLD_QUESTION = "How many accounts did the government order Twitter to block?"
#: Extra romanised questions (the seeds question set has few), so all three kinds are timed.
EXTRA_QUESTIONS = [
    {"id": "ro-dorsey", "kind": "romanised", "question": "jack dorsey ne kiske tweet like kiye?"},
    {"id": "ro-aarop", "kind": "romanised", "question": "sarkar ne in accounts par kya aarop lagaya?"},
]
#: XQuAD questions asked when --xquad is given: (article, language), paragraph 0, question 0.
XQUAD_PICKS = [(0, "en"), (3, "hi"), (6, "en"), (9, "hi"), (12, "en"), (15, "hi"), (18, "en"), (21, "hi")]


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def rss_mb() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def folder_size(path: Path) -> tuple[int, dict[str, int]]:
    files = {str(f.relative_to(path)): f.stat().st_size for f in sorted(path.rglob("*")) if f.is_file()}
    by_top: dict[str, int] = defaultdict(int)
    for name, size in files.items():
        by_top[name.split("/")[0]] += size
    return sum(files.values()), dict(by_top)


def stats_ms(values: list[float]) -> dict:
    a = np.asarray(values, dtype=np.float64)
    if not len(a):
        return {"n": 0}
    return {"n": int(len(a)), "p50": round(float(np.percentile(a, 50)), 2),
            "p95": round(float(np.percentile(a, 95)), 2), "mean": round(float(a.mean()), 2),
            "min": round(float(a.min()), 2), "max": round(float(a.max()), 2)}


def code_version() -> dict:
    """The commit the code came from and whether the working tree differs (read-only git)."""
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "--short", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "modified_files": None if status is None else len(status.splitlines())}


def machine_info(settings: Settings) -> dict:
    import faiss
    import torch

    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    cpu_model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"platform": platform.platform(), "python": platform.python_version(), "cpu": cpu_model,
            "cpu_count": os.cpu_count(), "cpu_affinity": affinity, "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "faiss_threads": faiss.omp_get_max_threads(),
            "setting_torch_threads": settings.index.torch_threads,
            "loadavg_start": [round(x, 2) for x in os.getloadavg()]}


# Questions

def load_questions(xquad: Path | None) -> list[dict]:
    """The fixed question list: standalone seeds questions, extra romanised ones, XQuAD picks."""
    out = []
    for line in SEED_QUESTIONS.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        q = json.loads(line)
        if q.get("session"):  # follow-ups only make sense inside their conversation
            continue
        out.append({"id": q["id"], "kind": q["kind"], "question": q["question"],
                    "contains": q.get("contains"), "abstain": bool(q.get("abstain"))})
    out.extend({**q, "contains": None, "abstain": False} for q in EXTRA_QUESTIONS)
    if xquad is not None:
        data = {lang: json.loads((xquad / f"xquad.{lang}.json").read_text(encoding="utf-8"))["data"]
                for lang in ("en", "hi")}
        for art, lang in XQUAD_PICKS:
            if art >= len(data[lang]):
                continue
            qa = data[lang][art]["paragraphs"][0]["qas"][0]
            out.append({"id": f"xquad-{lang}-{art:02d}", "kind": f"xquad-{lang}", "question": qa["question"],
                        "contains": [[a["text"] for a in qa["answers"]]], "abstain": False})
    return out


def check_answer(q: dict, result, corpus: str) -> bool | None:
    """Does the answer hold what the question set expects (None when nothing is expected)?"""
    if corpus == "seeds" and q["kind"].startswith("xquad"):
        return None  # not in the seeds: abstaining or not, nothing to judge
    if q["abstain"]:
        return result.abstained
    if not q["contains"]:
        return None
    texts = " ".join([a.text for a in result.answers] +
                     [t for a in result.answers for t, _ in a.also_in]).lower()
    return all(any(alt.lower() in texts for alt in group) for group in q["contains"])
