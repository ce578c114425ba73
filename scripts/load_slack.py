#!/usr/bin/env python
"""Load test of `khabar slack --http PORT` (the real command, in a subprocess) against the local
Slack Web API server (tests/slack_server.py), optionally on one of Slack's bad days.

Fires N signed app_mention events from a bounded thread pool (plus Slack-style retried
deliveries of some of them), waits until every question has its answer in its thread, and
prints the ack latency, time to answer, and what matters most: answered / duplicated / lost.

    python scripts/load_slack.py                               # 200 events, 20 retries, no faults
    python scripts/load_slack.py --share-5xx 0.2 --share-429 0.1   # a share of posts fail
    python scripts/load_slack.py --kill-after 50               # kill -9 once 50 are acked, restart
    python scripts/load_slack.py --events 500 --workers 8 --index DIR
    python scripts/load_slack.py --events 40 --ops             # then /readyz, /metrics, khabar stats

With --kill-after, the bot is killed with SIGKILL right after that many acks (every later
event is sent to the restarted bot), and the restart's recovery time is reported: from the
new process's start until every acknowledged question was answered.
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.slack_server import (BOT_TOKEN, SIGNING_SECRET, SlackAPIServer, mention,  # noqa: E402
                                post_signed)

QUESTIONS = [
    "How many accounts did the government order Twitter to block?",
    "Who is Mahima Kaul?",
    "महिमा कौल कौन हैं?",
    "ट्विटर ने कितने अकाउंट्स बंद किए?",
    "Twitter ne kitne accounts block kiye?",
    "Why did Twitter reach out to the IT ministry?",
    "What did Twitter say about the safety of its employees?",
    "How many accounts did Twitter restore?",
    "What is the capital of France?",
    "Who is Ravi Shankar Prasad?",
]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Bot:
    def __init__(self, args, slack: SlackAPIServer, work: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/slack/events"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
        env.update(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET,
                   KHABAR_SLACK_API_BASE_URL=slack.base_url, KHABAR_SLACK_STATE_FILE=str(work / "state.sqlite3"),
                   KHABAR_SLACK_FEEDBACK_LOG=str(work / "feedback.jsonl"), KHABAR_SLACK_RETRY_BASE_SECONDS="0.2",
                   KHABAR_SLACK_RETRY_MAX_SECONDS="2", KHABAR_SLACK_CALL_TIMEOUT_SECONDS="5",
                   PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""))
        if args.workers:
            env["KHABAR_SLACK_WORKERS"] = str(args.workers)
        cmd = [sys.executable, "-m", "bot", "slack", "--http", str(self.port)]
        if args.index:
            cmd += ["--index", args.index]
        self.started = time.monotonic()
        self.log = (work / f"bot-{self.port}.log").open("w")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_healthy(self, timeout: float = 300.0) -> None:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1):
                    self.healthy_after = time.monotonic() - self.started
                    return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() - self.started > timeout:
                raise SystemExit(f"load_slack: the bot did not start (see {self.log.name})")
            time.sleep(0.1)

    def kill9(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> int:
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def scrape_ops(port: int) -> dict:
    out = {}
    for path in ("/readyz", "/metrics"):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
                out[path] = r.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            out[path] = f"HTTP {exc.code}: {exc.read().decode('utf-8', 'replace')}"
    return out


def show_ops(ops: dict, work: Path, expected: int | None) -> bool:
    """Print what an operator sees; True if the question counters agree with `expected`."""
    from prometheus_client.parser import text_string_to_metric_families

    print(f"\n$ curl -s localhost:PORT/readyz\n{ops['/readyz']}")
    (work / "metrics.txt").write_text(ops["/metrics"], encoding="utf-8")
    print("$ curl -s localhost:PORT/metrics | grep '^khabar_' | grep -v _bucket")
    print("\n".join(line for line in ops["/metrics"].splitlines()
                    if line.startswith("khabar_") and "_bucket" not in line and "_created" not in line))
    env = {**os.environ, "KHABAR_SLACK_STATE_FILE": str(work / "state.sqlite3"),
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    stats = subprocess.run([sys.executable, "-m", "bot", "stats", "--since", "1h"], env=env, capture_output=True,
                           text=True, timeout=120)
    print(f"\n$ khabar stats --since 1h\n{stats.stdout}{stats.stderr}")
    if expected is None:
        return stats.returncode == 0  # a restarted process counts from zero
    asked = sum(s.value for f in text_string_to_metric_families(ops["/metrics"]) for s in f.samples
                if s.name == "khabar_questions_total")
    agree = asked == expected and stats.returncode == 0
    print(f"{'OK' if agree else 'FAIL'}: khabar_questions_total sums to {asked:.0f}, {expected} questions were sent")
    return agree


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=200, help="distinct questions (app_mention events) to send")
    p.add_argument("--retries", type=int, default=20,
                   help="extra deliveries of already-sent events with X-Slack-Retry-Num (must not be answered)")
    p.add_argument("--concurrency", type=int, default=32, help="client threads sending the events")
    p.add_argument("--workers", type=int, default=None, help="bot answering threads (default: settings)")
    p.add_argument("--index", help="index folder (default: the bundled seeds index)")
    p.add_argument("--share-5xx", type=float, default=0.0, help="share of Slack calls answered 500/503")
    p.add_argument("--share-429", type=float, default=0.0, help="share of Slack calls answered 429")
    p.add_argument("--retry-after", type=int, default=1, help="Retry-After of the injected 429s")
    p.add_argument("--kill-after", type=int, default=None, help="kill -9 the bot after this many acks, restart")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for all answers")
    p.add_argument("--ops", action="store_true",
                   help="at the end, show /readyz, the khabar_ lines of /metrics and `khabar stats`, and check "
                        "the counters agree with what Slack received")
    args = p.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="khabar-load-"))
    with SlackAPIServer() as slack:
        bot = Bot(args, slack, work)
        bot.wait_healthy()
        warm = mention(QUESTIONS[0], channel="CWARMUP01")  # the model's first question, not measured
        post_signed(bot.url, warm)
        slack.wait_for("chat.postMessage", timeout=120, where=lambda c: c.body.get("channel") == "CWARMUP01")
        slack.faults(share_5xx=args.share_5xx, share_429=args.share_429, retry_after=args.retry_after,
                     methods=("chat.postMessage", "conversations.replies"), seed=7)

        bodies = [mention(QUESTIONS[i % len(QUESTIONS)] + f" ({i})", channel=f"CLOAD{i % 7:04d}")
                  for i in range(args.events)]
        order = list(range(args.events)) + [(j * 7919) % args.events for j in range(args.retries)]
        sent: dict[str, float] = {}
        acks: list[float] = []
        statuses: Counter = Counter()
        kill_at = args.kill_after if args.kill_after is not None else len(order) + 1
        restart = None
        start = time.monotonic()

        def fire(k: int) -> None:
            body = bodies[order[k]]
            retry = k >= args.events
            if not retry:
                sent[body["event"]["ts"]] = time.monotonic()
            reply = post_signed(bot.url, body, SIGNING_SECRET, retry_num=1 if retry else None, timeout=30)
            acks.append(reply.seconds)
            statuses[reply.status] += 1

        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            list(pool.map(fire, range(min(kill_at, len(order)))))
        if kill_at <= len(order):
            bot.kill9()
            bot = Bot(args, slack, work)
            restart = bot.started
            bot.wait_healthy()
            with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
                list(pool.map(fire, range(kill_at, len(order))))
        fired = time.monotonic() - start
        ts_set = set(sent)
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            answered = {m.get("thread_ts") for m in slack.messages()} & ts_set
            if len(answered) == len(ts_set):
                break
            time.sleep(0.2)
        recovered_at = time.monotonic()
        time.sleep(2.0)  # anything still in flight would show up as a duplicate now
        ops = scrape_ops(bot.port) if args.ops else None
        status = bot.stop()
        elapsed = recovered_at - start
        live = [m for m in slack.messages() if m.get("thread_ts") in ts_set]
        per_thread = Counter(m["thread_ts"] for m in live)
        # An answer may span messages (parts); each part must be in Slack exactly once.
        per_part = Counter((m["thread_ts"], ((m.get("metadata") or {}).get("event_payload") or {}).get("part"))
                           for m in live)
        first = {}
        for c in slack.of("chat.postMessage", where=lambda c: c.body.get("thread_ts") in ts_set):
            first.setdefault(c.body["thread_ts"], c.at)
        tta = [first[ts] - sent[ts] for ts in first]
        duplicates = sum(n - 1 for n in per_part.values())
        multi = sum(1 for n in per_thread.values() if n > 1)
        apologies = sum(1 for m in live if (m.get("text") or "").startswith("Sorry"))
        lost = len(ts_set) - len(per_thread)
        injected = dict(getattr(slack, "injected", {}))

    print(f"events sent: {args.events} (+{args.retries} retried deliveries) in {fired:.2f}s; "
          f"HTTP statuses {dict(statuses)}; faults injected {injected}")
    print(f"ack latency: p50 {pct(acks, .5) * 1000:.0f} ms, p95 {pct(acks, .95) * 1000:.0f} ms, "
          f"max {max(acks) * 1000:.0f} ms")
    print(f"time to answer: p50 {pct(tta, .5):.2f} s, p95 {pct(tta, .95):.2f} s, max {max(tta, default=0):.2f} s; "
          f"throughput {len(per_thread) / elapsed:.1f} answers/s over {elapsed:.1f}s; "
          f"{multi} answers took two or more messages")
    if restart is not None:
        print(f"restart: killed after {kill_at} acks; every acked question answered "
              f"{recovered_at - restart:.1f} s after the new process started (healthy after "
              f"{bot.healthy_after:.1f} s: model and index load)")
    ok = lost == 0 and duplicates == 0 and apologies == 0 and set(statuses) == {200} and status == 0
    if ops is not None:
        ok = show_ops(ops, work, expected=args.events + 1 if restart is None else None) and ok
    print(f"{'OK' if ok else 'FAIL'}: {args.events} events -> {len(per_thread)} answered, {duplicates} duplicated, "
          f"{lost} lost, {apologies} apologies; bot exit status {status}; logs in {work}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
