"""`khabar` / `python -m bot`: ask, repl, slack, stats, feedback, doctor, build, watch.

Every failure a user can cause (no index, wrong model, a bad question, bad bytes on stdin)
ends in one line saying what was wrong and what to do, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings
from bot.signals import hold_sigint

EXIT_USAGE = 2


class UserError(Exception):
    """Ends the command with its message and exit status 2."""


def _friendly_errors() -> tuple[type[BaseException], ...]:
    from index.corpus import CorpusError
    from index.embed import ModelNotFound
    from index.model_convert import ModelError
    from bot.feedback import FeedbackError
    from bot.projection import ProjectionError
    from bot.scorer import ScorerError
    from bot.state import StateError
    from bot.stats import StatsError
    from index.store import IndexLoadError
    from index.update import IndexUpdateError
    from index.cluster import ClusterError

    return (UserError, ConfigError, CorpusError, ModelNotFound, ModelError, IndexLoadError, IndexUpdateError,
            ClusterError, ScorerError, ProjectionError, StateError, StatsError, FeedbackError)


def _stdin_lines():
    """Lines of stdin as text; a line that is not UTF-8 yields None instead of killing the run."""
    for raw in sys.stdin.buffer:
        try:
            yield raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as exc:
            print(f"khabar: skipped a line that is not valid UTF-8 (byte {exc.start}); "
                  f"send questions as UTF-8 text", file=sys.stderr)
            yield None


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from bot.engine import QuestionError, clean_question

    if args.top_k is not None and args.top_k < 1:
        raise UserError("--top-k must be at least 1")
    if args.question:
        questions = [" ".join(args.question)]
        try:  # refuse an empty or over-long question before spending seconds loading the model
            clean_question(questions[0], settings.answer.max_question_chars)
        except QuestionError as exc:
            print(f"khabar: {exc}", file=sys.stderr)
            return 1
    elif sys.stdin.isatty():
        raise UserError("give a question as an argument, or pipe questions on stdin (one a line)")
    else:
        questions = _stdin_lines()
    as_of = _as_of(args.as_of)
    from bot.runtime import Runtime

    # A first use builds the seeds index: its bars on a terminal, never in JSON mode (a script reads).
    with Runtime(settings, args.index, progress=False if args.json else None) as runtime:
        hold_sigint(False)
        # Embargoes are checked, and "yesterday" / "last week" read, as at this moment (None: the clock).
        runtime.engine.as_of = as_of
        return _answer_all(args, runtime.engine, questions)


def _as_of(text: str | None):
    """`--as-of`: the zone-aware moment embargoes are checked against and a question's relative
    dates ("yesterday", "पिछले हफ्ते") are read from (None: the clock)."""
    if text is None:
        return None
    from index.dates import as_written

    try:
        return as_written(text)
    except ValueError as exc:
        raise UserError(f"--as-of {exc}") from None


def _answer_all(args: argparse.Namespace, engine, questions) -> int:
    from bot.engine import QuestionError
    from bot.format import render

    conversation = 0
    status = 0
    first = True
    for q in questions:
        if q is None:
            status = 1
            if args.json:
                print(json.dumps({"question": None, "error": "line is not valid UTF-8"}), flush=True)
            continue
        if args.session and not q.strip() and not args.question:
            conversation += 1  # an empty line starts a new conversation
            if args.json:  # still one output line per input line
                print(json.dumps({"question": q, "new_conversation": True}), flush=True)
            continue
        if not q.strip() and not args.question and not args.json:
            continue  # text output: blank lines between questions are layout
        # In JSON an empty line is refused like any bad question: {"question", "error"} in its place.
        cid = f"cli-{conversation}" if args.session else None
        try:
            result = engine.ask(q, conversation_id=cid, top_k=args.top_k)
        except QuestionError as exc:
            status = 1
            if args.json:
                print(json.dumps({"question": q, "error": str(exc)}, ensure_ascii=False), flush=True)
            else:
                print(f"khabar: {exc}", file=sys.stderr)
            continue
        if args.json:
            print(json.dumps(result.to_json(), ensure_ascii=False), flush=True)
        else:
            if not first:
                print()
            first = False
            if not args.question:
                print(f"Q: {q}")
            print(render(result, show_scores=args.scores), flush=True)
    return status


def cmd_repl(args: argparse.Namespace, settings: Settings) -> int:
    from bot.repl import run_repl
    from bot.runtime import Runtime

    as_of = _as_of(args.as_of)  # a bad date is said before the model loads
    with Runtime(settings, args.index, prewarm=True) as runtime:
        hold_sigint(False)
        runtime.engine.as_of = as_of
        return run_repl(runtime.engine)


def cmd_slack(args: argparse.Namespace, settings: Settings) -> int:
    hold_sigint(False)
    from bot.slack.run import run_slack

    if args.metrics_port is not None:
        settings.slack.metrics_port = args.metrics_port
    return run_slack(settings, index=args.index, http_port=args.http)


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    hold_sigint(False)
    from bot.stats import run_stats

    return run_stats(settings, since=args.since, as_json=args.json, plot=args.plot, top=args.top)


def cmd_feedback_export(args: argparse.Namespace, settings: Settings) -> int:
    """`khabar feedback export`: the 👎 of the window as an evaluation file (bot/feedback.py)."""
    hold_sigint(False)
    import time

    from bot.feedback import downvoted_items, write_items
    from bot.stats import parse_since, read

    since = parse_since(args.since, time.time())
    questions, votes = read(settings, 0.0)  # an answer downvoted this week may be older
    items = downvoted_items([v for v in votes if v["at"] >= since], questions)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8") as f:
            write_items(items, f)
        print(f"wrote {len(items)} downvoted question(s) to {out}; score them with "
              f"`python scripts/evaluate.py --feedback {out}`", file=sys.stderr)
    else:
        write_items(items, sys.stdout)
    return 0


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    from bot.doctor import diagnose

    checks = diagnose(settings, args.index)
    hold_sigint(False)
    for check in checks:
        print(check.line(), flush=True)
    return 0 if all(c.ok for c in checks) else 1


def cmd_build(args: argparse.Namespace, settings: Settings) -> int:
    hold_sigint(False)
    if (args.add or args.delete) and args.corpus:
        raise UserError("--corpus builds a whole index; --add/--delete update one. Give one or the other.")
    if not (args.add or args.delete or args.corpus):
        raise UserError("give --corpus DIR for a full build, or --add DIR / --delete DOC_ID to update --out.")
    from index.embed import Embedder

    embedder = Embedder(settings.index)
    if args.ray:
        from index.cluster import RayEmbedder

        embedder = RayEmbedder(embedder, args.ray)
    if args.add or args.delete:
        from index.update import update_index

        summary = update_index(Path(args.out), settings.index, embedder, add=[Path(a) for a in args.add],
                               delete=args.delete, progress=not args.quiet)
    else:
        from index.build import build_index

        summary = build_index([Path(c) for c in args.corpus], Path(args.out), settings.index, embedder=embedder,
                              progress=not args.quiet)
    print("\n".join(summary.lines()))
    return 0


def cmd_watch(args: argparse.Namespace, settings: Settings) -> int:
    """`khabar watch DIR --out INDEX`: the update path on every new or changed file in DIR (index/watch.py)."""
    import signal
    import threading

    from index.embed import Embedder
    from index.watch import Watcher, parse_every

    try:
        every = parse_every(args.every)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    watcher = Watcher(Path(args.folder), Path(args.out), settings.index, Embedder(settings.index))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    hold_sigint(False)
    if not args.once:
        print(f"watching {args.folder} every {args.every} into {args.out} (Ctrl-C stops)", flush=True)
    try:
        return watcher.run(every, stop=stop, once=args.once, echo=lambda line: print(line, flush=True))
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="khabar", description="Cited answers from the newsroom's Hindi and English "
                                                           "archive.")
    p.add_argument("--config", help="TOML settings file (default: $KHABAR_CONFIG or ./khabar.toml)")
    sub = p.add_subparsers(dest="command", required=True)

    ask = sub.add_parser("ask", help="answer one question, or many from stdin (one a line)")
    ask.add_argument("--index", help="index folder (default: $KHABAR_INDEX, else the bundled seeds)")
    ask.add_argument("--json", action="store_true", help="one JSON object a line")
    ask.add_argument("--session", action="store_true",
                     help="stdin lines are turns of one conversation; an empty line starts a new one")
    ask.add_argument("--top-k", type=int, default=None, help="answers to return (default 3)")
    ask.add_argument("--scores", action="store_true", help="show sentence scores in text output")
    as_of_help = ("answer as at this moment (ISO 8601 with a zone, e.g. 2024-03-10T12:00+05:30) instead of now: "
                  "embargoes, and a question's 'yesterday' / 'last week' / 'पिछले हफ्ते'")
    ask.add_argument("--as-of", metavar="WHEN", help=as_of_help)
    ask.add_argument("question", nargs="*", help="the question (omit to read stdin)")
    ask.set_defaults(func=cmd_ask)

    repl = sub.add_parser("repl", help="interactive questions in the terminal")
    repl.add_argument("--index", help="index folder (default: $KHABAR_INDEX, else the bundled seeds)")
    repl.add_argument("--as-of", metavar="WHEN", help=as_of_help)
    repl.set_defaults(func=cmd_repl)

    slack = sub.add_parser("slack", help="run the Slack bot (Socket Mode, or HTTP with --http PORT)")
    slack.add_argument("--index", help="index folder (default: $KHABAR_INDEX, else the bundled seeds)")
    slack.add_argument("--http", type=int, metavar="PORT", help="serve Slack's Events API over HTTP on PORT "
                                                               "(with /healthz, /readyz, /metrics)")
    slack.add_argument("--metrics-port", type=int, metavar="PORT",
                       help="Socket Mode: serve /metrics, /healthz and /readyz on PORT")
    slack.set_defaults(func=cmd_slack)

    stats = sub.add_parser("stats", help="the editor's report: questions, outcomes, votes, latency, deliveries")
    stats.add_argument("--since", default="7d", help="how far back: 7d, 24h, 90m, or a date (2026-11-01); "
                                                     "default 7d")
    stats.add_argument("--json", action="store_true", help="one JSON object, for scripts")
    stats.add_argument("--plot", metavar="FILE.png", help="also draw daily questions and outcome shares")
    stats.add_argument("--top", type=int, default=5, help="most-downvoted answers to list (default 5)")
    stats.set_defaults(func=cmd_stats)

    feedback = sub.add_parser("feedback", help="the desk's 👎 as an evaluation file")
    feedback_sub = feedback.add_subparsers(dest="feedback_command", required=True)
    export = feedback_sub.add_parser("export", help="the downvoted questions with their cited sentences, one JSON "
                                                    "line each, for scripts/evaluate.py --feedback FILE")
    export.add_argument("--since", default="7d", help="votes cast since: 7d, 24h, 90m, or a date (2026-11-01); "
                                                      "default 7d")
    export.add_argument("--out", metavar="FILE", help="write here (default: stdout)")
    export.set_defaults(func=cmd_feedback_export)

    doctor = sub.add_parser("doctor", help="check the model, the index, the state file and Slack; one line each")
    doctor.add_argument("--index", help="index folder (default: $KHABAR_INDEX, else the bundled seeds)")
    doctor.set_defaults(func=cmd_doctor)

    build = sub.add_parser("build", help="build an index, or update one in place (same as scripts/build_index.py)")
    build.add_argument("--corpus", action="append", default=[], help="article folder (repeatable): a full build")
    build.add_argument("--out", required=True, help="index folder to write or update (replaced atomically)")
    build.add_argument("--add", action="append", default=[], metavar="DIR",
                       help="update --out with the articles in DIR (repeatable); an article id already "
                            "indexed is replaced")
    build.add_argument("--delete", action="append", default=[], metavar="DOC_ID",
                       help="update --out without this article (repeatable), e.g. a retracted story")
    build.add_argument("--ray", metavar="ADDRESS",
                       help="embed on a Ray cluster: its address (host:port) or 'auto' for the one this "
                            "machine belongs to (needs the cluster extra: pip install -e '.[cluster]')")
    build.add_argument("--quiet", action="store_true", help="no progress bar")
    build.set_defaults(func=cmd_build)

    watch = sub.add_parser("watch", help="update an index from a drop folder: every new or changed file in it")
    watch.add_argument("folder", metavar="DIR", help="the folder a CMS export job writes into")
    watch.add_argument("--out", required=True, help="the index folder to update (built on the first pass if missing)")
    watch.add_argument("--every", default="5m", help="how often to look: 30s, 5m, 1h (default 5m)")
    watch.add_argument("--once", action="store_true", help="one pass, then exit (for cron)")
    watch.set_defaults(func=cmd_watch)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # Held through the heavy imports and the model load so every thread they start inherits the
    # block (bot/signals.py); each command releases it in the main thread once loading is done.
    hold_sigint(True)
    try:
        settings = load_settings(Path(args.config) if args.config else None)
        logging.basicConfig(level=getattr(logging, settings.log_level.upper(), logging.WARNING),
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        return args.func(args, settings)
    except _friendly_errors() as exc:
        print(f"khabar: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    finally:
        try:
            hold_sigint(False)
        except KeyboardInterrupt:  # a Ctrl-C held back until now: the command is over anyway
            pass
