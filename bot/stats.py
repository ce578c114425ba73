"""`khabar stats`: the editor's report from the bot's state file (its questions ledger and votes).

    khabar stats                 the last 7 days, as a table
    khabar stats --since 24h     --since 30d, 90m, 2w, or a date (2026-11-01)
    khabar stats --json          one JSON object (stable keys) for scripts
    khabar stats --plot out.png  also daily questions and outcome shares as a picture

Layers, as elsewhere: `read` (the store) → `summarise` (a pure function of rows) → `render`
(text) or `draw` (matplotlib, imported only for --plot). Days are UTC. An edited question is
answered again and counts again (kind "edit").
"""
from __future__ import annotations

import json
import math
import re
import sys
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path

from bot.config import Settings
from bot.metrics import OUTCOMES

_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class StatsError(ValueError):
    """A --since that cannot be read, a state file that is not there, a plot that cannot be drawn."""


def parse_since(text: str, now: float) -> float:
    """Wall-clock seconds of the window's start: '7d', '24h', '90m', '2w' back from `now`, or a date."""
    text = (text or "").strip()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([mhdw])", text.lower())
    if m:
        return now - float(m.group(1)) * _UNITS[m.group(2)]
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise StatsError(f"--since {text!r} is neither a span (7d, 24h, 90m, 2w) nor a date (2026-11-01)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()


def read(settings: Settings, since: float) -> tuple[list[dict], list[dict]]:
    """(questions, votes) since `since`, from the state file (never created here)."""
    from bot.state import StateStore

    path = settings.state_file()
    if not path.exists():
        raise StatsError(f"no state file at {path} yet: `khabar slack` writes it as it answers (or set "
                         f"KHABAR_SLACK_STATE_FILE to the bot's)")
    store = StateStore(path).open()
    try:
        return store.questions_since(since), store.votes_since(since)
    finally:
        store.close()


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def _latency(values: list[float]) -> dict:
    ms = [1000 * v for v in values]
    p50, p95 = percentile(ms, 50), percentile(ms, 95)
    return {"n": len(ms), "p50": None if p50 is None else round(p50, 1), "p95": None if p95 is None else round(p95, 1)}


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).date().isoformat()


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds")


def summarise(questions: list[dict], votes: list[dict], since: float, now: float, top: int = 5) -> dict:
    """The report, from the ledger's rows and the votes (pure: no I/O)."""
    total = len(questions)
    outcomes = Counter(q["outcome"] for q in questions)
    per_day: dict[str, Counter] = defaultdict(Counter)
    for q in questions:
        per_day[_day(q["asked_at"])][q["outcome"]] += 1
    answer_s = [q["retrieve_s"] + q["choose_s"] for q in questions
                if q["retrieve_s"] is not None and q["choose_s"] is not None]
    delivered = [q for q in questions if q["delivery"] != "silent"]
    vote_kinds = Counter(v["vote"] for v in votes)
    n_votes = sum(vote_kinds.values())
    return {
        "since": _iso(since),
        "until": _iso(now),
        "questions": total,
        "per_day": [{"day": day, "questions": sum(c.values()), **{o: c.get(o, 0) for o in OUTCOMES}}
                    for day, c in sorted(per_day.items())],
        "outcomes": {o: {"count": outcomes.get(o, 0), "share": round(outcomes.get(o, 0) / total, 4) if total else None}
                     for o in OUTCOMES},
        "votes": {"up": vote_kinds.get("up", 0), "down": vote_kinds.get("down", 0),
                  "up_share": round(vote_kinds["up"] / n_votes, 4) if n_votes else None,
                  "down_share": round(vote_kinds["down"] / n_votes, 4) if n_votes else None},
        "latency_ms": {
            "answer": _latency(answer_s),
            "retrieve": _latency([q["retrieve_s"] for q in questions if q["retrieve_s"] is not None]),
            "choose": _latency([q["choose_s"] for q in questions if q["choose_s"] is not None]),
            "deliver": _latency([q["deliver_s"] for q in questions if q["deliver_s"] is not None]),
        },
        "deliveries": {
            "replies": len(delivered),
            "posted": sum(q["delivery"] == "posted" for q in delivered),
            "retried": sum(q["retries"] > 0 for q in delivered),
            "retries": sum(q["retries"] for q in delivered),
            "rate_limited": sum(q["rate_limited"] for q in delivered),
            "failed": sum(q["delivery"] == "failed" for q in delivered),
            "pending": sum(q["delivery"] == "pending" for q in delivered),
        },
        "most_downvoted": _most_downvoted(questions, votes, top),
    }


def _most_downvoted(questions: list[dict], votes: list[dict], top: int) -> list[dict]:
    """The answers with the most 👎, with their question and citations (the ledger's quoted text
    where the vote's message is one Khabar posted in the window)."""
    by_message: dict[str, dict] = {}
    for v in votes:
        item = by_message.setdefault(v["message_ts"], {"up": 0, "down": 0, "entry": v["entry"]})
        item[v["vote"]] += 1
    posted_in = {ts: q for q in questions for ts in q["reply_ts"]}
    out = []
    for ts, item in sorted(by_message.items(), key=lambda kv: (-kv[1]["down"], kv[1]["up"], kv[0])):
        if item["down"] == 0 or len(out) >= top:
            break
        entry, row = item["entry"], posted_in.get(ts)
        quoted = {(a["doc_id"], a["sentence"]): a for a in (row or {}).get("answers", [])}
        citations = []
        for a in entry.get("answers") or []:
            known = quoted.get((a["doc_id"], a["sentence"]), {})
            citations.append({"doc_id": a["doc_id"], "sentence": a["sentence"], "title": known.get("title"),
                              "text": known.get("text")})
        out.append({"message_ts": ts, "down": item["down"], "up": item["up"], "question": entry.get("question"),
                    "channel": entry.get("channel"), "citations": citations})
    return out


def _pct(share: float | None) -> str:
    return "  -  " if share is None else f"{100 * share:4.0f}%"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def render(report: dict) -> str:
    """A terminal table."""
    lines = [f"Khabar, {report['since'][:16].replace('T', ' ')} → {report['until'][:16].replace('T', ' ')} UTC: "
             f"{report['questions']} question(s)", ""]
    if report["per_day"]:
        head = f"{'day':<11}{'asked':>6}" + "".join(f"{o.replace('_', ' '):>14}" for o in OUTCOMES)
        lines += [head] + [f"{d['day']:<11}{d['questions']:>6}" + "".join(f"{d[o]:>14}" for o in OUTCOMES)
                           for d in report["per_day"]] + [""]
    lines.append("outcomes      " + "   ".join(f"{o.replace('_', ' ')} {report['outcomes'][o]['count']} "
                                               f"({_pct(report['outcomes'][o]['share']).strip()})" for o in OUTCOMES))
    v = report["votes"]
    lines.append(f"votes         👍 {v['up']} ({_pct(v['up_share']).strip()})   👎 {v['down']} "
                 f"({_pct(v['down_share']).strip()})")
    lat = report["latency_ms"]
    lines.append("latency       " + "   ".join(f"{name} p50 {_ms(lat[name]['p50'])} / p95 {_ms(lat[name]['p95'])}"
                                               for name in ("answer", "deliver")))
    lines.append("              " + "   ".join(f"{name} p50 {_ms(lat[name]['p50'])} / p95 {_ms(lat[name]['p95'])}"
                                               for name in ("retrieve", "choose")))
    d = report["deliveries"]
    lines.append(f"deliveries    {d['replies']} replies: {d['posted']} posted, {d['retried']} retried "
                 f"({d['retries']} retries, {d['rate_limited']} rate-limited), {d['failed']} failed, "
                 f"{d['pending']} still pending")
    if "embargo" in report:
        e = report["embargo"]
        lines.append(f"embargoes     {e['line']}")
    if "archive" in report:
        lines.append(f"archive       {report['archive']['line']}")
    if report["most_downvoted"]:
        lines += ["", "most downvoted answers"]
        for n, item in enumerate(report["most_downvoted"], start=1):
            lines.append(f"{n:>3}. 👎 {item['down']} 👍 {item['up']}  “{item['question']}”")
            for c in item["citations"]:
                quote = f" “{c['text'][:120]}”" if c.get("text") else ""
                title = f" {c['title']}" if c.get("title") else ""
                lines.append(f"       [{c['doc_id']} #{c['sentence']}]{title}{quote}")
    return "\n".join(lines)


def draw(report: dict, path: Path) -> None:
    """Daily questions (bars) and outcome shares (stacked) as a PNG."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise StatsError("--plot needs matplotlib (pip install matplotlib)") from None
    days = [d["day"] for d in report["per_day"]]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    top.bar(days, [d["questions"] for d in report["per_day"]], color="#4c72b0")
    top.set_ylabel("questions")
    top.set_title(f"Khabar, {report['since'][:10]} to {report['until'][:10]} (UTC)")
    base = [0.0] * len(days)
    for outcome in OUTCOMES:
        shares = [d[outcome] / d["questions"] if d["questions"] else 0.0 for d in report["per_day"]]
        bottom.bar(days, shares, bottom=base, label=outcome.replace("_", " "))
        base = [b + s for b, s in zip(base, shares)]
    bottom.set_ylabel("share of questions")
    bottom.set_ylim(0, 1)
    bottom.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    bottom.tick_params(axis="x", labelrotation=45)
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=100)
    except OSError as exc:
        raise StatsError(f"cannot write the plot to {path}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)


def embargo_report(settings: Settings) -> dict:
    """The served index's embargoed articles not yet quotable and the next lift (index/embargo.py)."""
    from index.config import khabar_home
    from index.embargo import status_of
    from index.store import IndexLoadError

    folder = Path(settings.index_dir or khabar_home() / "indexes" / "seeds")
    try:
        status = status_of(folder)
    except IndexLoadError as exc:
        return {"index": str(folder), "pending": None, "next_lift": None, "line": f"not read ({exc})"}
    return {"index": str(folder), **status.to_json(), "line": status.line()}


def archive_report(settings: Settings) -> dict:
    """The served index's date range (its manifest's `dates`; read from the store for an index
    written before the manifest carried them): what "latest" and "last week" can reach."""
    import sqlite3

    from index.config import khabar_home
    from index.store import FILES, IndexLoadError, range_line, read_manifest, sqlite_uri, stored_date_range

    folder = Path(settings.index_dir or khabar_home() / "indexes" / "seeds")
    try:
        dates = read_manifest(folder).get("dates")
        if dates is None:
            conn = sqlite3.connect(sqlite_uri(folder / FILES["store"], "mode=ro"), uri=True)
            try:
                dates = stored_date_range(conn)
            finally:
                conn.close()
    except (IndexLoadError, sqlite3.Error) as exc:
        return {"index": str(folder), "dates": None, "line": f"not read ({exc})"}
    return {"index": str(folder), "dates": dates, "line": range_line(dates)}


def run_stats(settings: Settings, since: str = "7d", as_json: bool = False, plot: str | None = None,
              top: int = 5) -> int:
    now = datetime.now(timezone.utc).timestamp()
    start = parse_since(since, now)
    questions, votes = read(settings, start)
    report = summarise(questions, votes, start, now, top=top)
    report["embargo"] = embargo_report(settings)
    report["archive"] = archive_report(settings)
    if plot:
        draw(report, Path(plot))
    print(json.dumps(report, ensure_ascii=False) if as_json else render(report), flush=True)
    if plot and not as_json:
        print(f"\nplot: {plot}", file=sys.stderr)
    return 0
