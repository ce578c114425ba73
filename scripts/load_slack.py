#!/usr/bin/env python
"""Load test of the Slack bot in HTTP mode on loopback (a script, not a timed test).

Starts the bot's HTTP server and the local Slack Web API server (tests/slack_server.py) on
127.0.0.1, fires N signed app_mention events at once from a bounded thread pool (plus some
Slack-style retried deliveries of the same events), waits until every question is answered
in its thread, and prints time-to-answer p50/p95 (from the moment the event was sent to the
moment the answer reached the Slack server), the ack latency, duplicates and errors.

    python scripts/load_slack.py                    # 200 events, 20 retries, seed index
    python scripts/load_slack.py --events 500 --workers 8 --index DIR
    python scripts/load_slack.py --events 50 --retries 0 --one-at-a-time   # unloaded latency
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=200, help="distinct questions (app_mention events) to send")
    p.add_argument("--retries", type=int, default=20,
                   help="extra deliveries of already-sent events with X-Slack-Retry-Num (must not be answered)")
    p.add_argument("--concurrency", type=int, default=64, help="client threads sending the events")
    p.add_argument("--workers", type=int, default=None, help="bot answering threads (default: settings)")
    p.add_argument("--index", help="index folder (default: the bundled seeds index)")
    p.add_argument("--one-at-a-time", action="store_true",
                   help="send each event only after the previous one was answered (unloaded latency)")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for all answers")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    from bot.config import load_settings
    from bot.engine import Engine
    from bot.slack_app import SlackHTTPServer, build_app, make_client

    settings = load_settings()
    settings.slack.bot_token = BOT_TOKEN
    settings.slack.signing_secret = SIGNING_SECRET
    settings.slack.feedback_log = Path("/dev/null")
    settings.slack.reload_check_seconds = 0
    if args.workers:
        settings.slack.workers = args.workers

    t0 = time.perf_counter()
    engine = Engine(settings, Path(args.index) if args.index else None, progress=False)
    engine.ask(QUESTIONS[0])  # warm up the model once, as a running bot would be
    print(f"engine ready in {time.perf_counter() - t0:.1f}s (index {engine.index_dir}, "
          f"{len(engine.index.passages)} passages); workers {settings.slack.workers}", file=sys.stderr)

    with SlackAPIServer() as slack:
        app = build_app(settings, engine, make_client(settings, base_url=slack.base_url))
        bot = app.khabar
        server = SlackHTTPServer(app, port=0, host="127.0.0.1").start()
        try:
            bodies = [mention(QUESTIONS[i % len(QUESTIONS)], channel=f"CLOAD{i % 7:04d}")
                      for i in range(args.events)]
            sent: dict[str, float] = {}
            acks: list[float] = []
            statuses: Counter = Counter()

            def fire(i: int) -> None:
                body = bodies[i % len(bodies)]
                retry = i >= len(bodies)
                if not retry:
                    sent[body["event"]["ts"]] = time.monotonic()
                reply = post_signed(server.url, body, SIGNING_SECRET, retry_num=1 if retry else None, timeout=30)
                acks.append(reply.seconds)
                statuses[reply.status] += 1
                if args.one_at_a_time and not retry:
                    ts = body["event"]["ts"]
                    slack.wait_for("chat.postMessage", timeout=60, where=lambda c: c.body.get("thread_ts") == ts)

            ts_set = {b["event"]["ts"] for b in bodies}
            order = list(range(args.events)) + [args.events + (j * 7919) % args.events for j in range(args.retries)]
            start = time.monotonic()
            with ThreadPoolExecutor(max_workers=1 if args.one_at_a_time else args.concurrency) as pool:
                list(pool.map(fire, order))
            fired = time.monotonic() - start
            try:
                slack.wait_for("chat.postMessage", count=args.events, timeout=args.timeout,
                               where=lambda c: c.body.get("thread_ts") in ts_set)
            except TimeoutError as exc:
                print(f"load_slack: {exc}"[:500], file=sys.stderr)
            bot.wait_idle(timeout=60)
            elapsed = time.monotonic() - start
            posts = slack.of("chat.postMessage", where=lambda c: c.body.get("thread_ts") in ts_set)
            per_thread = Counter(c.body["thread_ts"] for c in posts)
            first_answer: dict[str, float] = {}
            for c in posts:
                first_answer.setdefault(c.body["thread_ts"], c.at)
            tta = [first_answer[ts] - sent[ts] for ts in first_answer]
            duplicates = sum(n - 1 for n in per_thread.values())
            apologies = sum(1 for c in posts if c.body.get("text", "").startswith("Sorry"))
            refused = len(slack.of("chat.postMessage", ok_only=False)) - len(slack.of("chat.postMessage"))
            missing = len(ts_set) - len(per_thread)
        finally:
            server.shutdown()
            bot.close(wait=True)

    print(f"events sent: {args.events} (+{args.retries} retried deliveries) in {fired:.2f}s; "
          f"HTTP statuses {dict(statuses)}")
    print(f"ack latency: p50 {pct(acks, .5) * 1000:.0f} ms, p95 {pct(acks, .95) * 1000:.0f} ms, "
          f"max {max(acks) * 1000:.0f} ms")
    print(f"time to answer: p50 {pct(tta, .5):.2f} s, p95 {pct(tta, .95):.2f} s, max {max(tta, default=0):.2f} s; "
          f"throughput {len(per_thread) / elapsed:.1f} answers/s over {elapsed:.1f}s")
    ok = missing == 0 and duplicates == 0 and apologies == 0 and refused == 0 and set(statuses) == {200}
    print(f"{'OK' if ok else 'FAIL'}: {args.events} events -> {len(per_thread)} answered, {duplicates} duplicates, "
          f"{missing} missing, {apologies} apologies, {refused} refused posts; time-to-answer p50 "
          f"{pct(tta, .5):.2f}s p95 {pct(tta, .95):.2f}s with {settings.slack.workers} workers")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
