"""`khabar doctor`: is this machine ready to answer? One line per check, and what to do.

Checks, in order: the model loads offline (and its id); the index folder is a finished
index built with that model (counts, age); the answerer's scorer and token projection fit the
model and each other; the state file opens and passes SQLite's
quick_check; Slack takes the bot token (`auth.test`, once: no retrying here). A check that
cannot run because an earlier one failed says so. Nothing is built, converted into a new
place, or written, except the model conversion `khabar` does on first use anyway.
"""
from __future__ import annotations

import logging
import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from bot.config import Settings


@dataclass
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"


def check_model(settings: Settings):
    """(Check, the loaded embedder or None)."""
    from index.embed import Embedder, ModelNotFound
    from index.model_convert import ModelError

    try:
        embedder = Embedder(settings.index)
    except (ModelNotFound, ModelError) as exc:
        return Check("model", False, str(exc)), None
    return Check("model", True, f"{embedder.model_id} loads offline ({embedder.dim} dimensions)"), embedder


def check_index(index_dir: Path, model_id: str | None) -> Check:
    from index.store import IndexLoadError, check_model as check_index_model, read_manifest

    try:
        manifest = read_manifest(index_dir)
        if model_id is not None:
            check_index_model(index_dir, manifest, model_id)
    except IndexLoadError as exc:
        return Check("index", False, str(exc))
    counts = manifest.get("counts") or {}
    age = ""
    try:
        built = datetime.fromisoformat(manifest["built_at"])
        hours = (datetime.now(timezone.utc) - built).total_seconds() / 3600
        age = f", built {hours:.1f} h ago" if hours < 48 else f", built {hours / 24:.0f} days ago"
    except (KeyError, TypeError, ValueError):
        pass
    unchecked = "" if model_id is not None else " (its model not checked: the model did not load)"
    embargo = _embargo_line(index_dir)
    return Check("index", model_id is not None,
                 f"{index_dir}: {counts.get('documents', '?')} articles, {counts.get('passages', '?')} passages"
                 f"{age}{unchecked}; {embargo}")


def _embargo_line(index_dir: Path) -> str:
    """How many embargoed articles the index holds that are not quotable yet, and the next lift."""
    from index.embargo import status_of
    from index.store import IndexLoadError

    try:
        return status_of(index_dir).line()
    except IndexLoadError as exc:
        return f"embargoes not read ({exc})"


def check_answerer(settings: Settings, embedder) -> Check:
    """The scorer and the token projection load, fit the model, and fit each other."""
    from bot.projection import ProjectionError, TokenProjection
    from bot.scorer import Scorer, ScorerError, answerer_mismatch

    if embedder is None:
        return Check("answerer", False, "not checked: the model did not load")
    try:
        scorer = Scorer.load(settings.answer.scorer)
        projection = TokenProjection.load(settings.answer.alignment, dim=embedder.dim)
    except (ScorerError, ProjectionError) as exc:
        return Check("answerer", False, str(exc))
    problem = answerer_mismatch(scorer, projection, embedder.model_id)
    if problem:
        return Check("answerer", False, problem)
    return Check("answerer", True, f"scorer (threshold {scorer.threshold:.3f}) and token projection {projection.digest()} "
                                   f"fit the model")


def check_transliteration() -> Check:
    """IndicXlit, converted for serving without torch, loads and reads a romanised word."""
    from bot.xlit_model import XlitError, XlitModel

    try:
        word = XlitModel.load().word("prathmikta")
    except XlitError as exc:
        return Check("romanised Hindi", False, f"searched without transliteration: {exc}")
    return Check("romanised Hindi", True, f"read in Devanagari (IndicXlit in numpy: prathmikta → {word})")


def check_reader(settings: Settings, embedder) -> Check:
    """The reader's weights, their ONNX export and the decision over them fit the model and each other,
    and the export loads and reads."""
    from bot.decision import Decision, reader_problem
    from bot.reader import Candidate, Reader, ReaderError
    from bot.scorer import ScorerError
    from index.embed import resolve_model_path

    if not settings.answer.reader_enabled:
        return Check("reader", True, "off (answer.reader_enabled = false): the scorer decides alone")
    if embedder is None:
        return Check("reader", False, "not checked: the model did not load")
    try:
        reader = Reader(Path(resolve_model_path(settings.index)), settings.answer.reader,
                        precision=settings.answer.reader_precision)
        reader.describe()
        decision = Decision.load(settings.answer.decision)
        problem = reader_problem(reader, decision, embedder.model_id)
        if problem:
            return Check("reader", False, problem)
        reader.warm_up().run("a check?", [Candidate("a sentence.")])
    except (ReaderError, ScorerError) as exc:
        return Check("reader", False, str(exc))
    return Check("reader", True, f"{reader.id}: reads {decision.candidates} candidates; answers at confidence "
                                 f"{decision.answer_at:.2f}, not sure from {decision.not_sure_at:.2f}")


def check_state(path: Path) -> Check:
    if not path.exists():
        parent = path.parent
        while not parent.exists():
            parent = parent.parent
        if not os.access(parent, os.W_OK):
            return Check("state", False, f"{path} does not exist and {parent} is not writable; set "
                                         f"KHABAR_SLACK_STATE_FILE to a writable place")
        return Check("state", True, f"{path} does not exist yet; `khabar slack` creates it")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            result = db.execute("PRAGMA quick_check").fetchone()[0]
            jobs = dict(db.execute("SELECT status, COUNT(*) FROM inbox GROUP BY status").fetchall())
        finally:
            db.close()
    except sqlite3.Error as exc:
        return Check("state", False, f"{path} cannot be read as Khabar's state ({exc}); move it aside and "
                                     f"restore a backup (`sqlite3 FILE .backup COPY` makes one)")
    if result != "ok":
        return Check("state", False, f"{path} is damaged ({result}); stop the bot, restore a backup")
    waiting = jobs.get("new", 0) + jobs.get("answered", 0)
    return Check("state", True, f"{path}: {waiting} question(s) waiting, {jobs.get('failed', 0)} failed delivery(ies)")


def check_slack(settings: Settings) -> Check:
    if not settings.slack.bot_token:
        return Check("slack", True, "SLACK_BOT_TOKEN is not set: not checked (only `khabar slack` needs it)")
    from bot.slack.delivery import make_client
    from bot.slack.tokens import slack_refusal, token_problem

    problem = token_problem(settings, http=not settings.slack.app_token)  # Socket Mode when an app token is set
    if problem:
        return Check("slack", False, problem)
    client = make_client(settings.slack)
    sdk_log = logging.getLogger("slack_sdk")
    level = sdk_log.level
    sdk_log.setLevel(logging.CRITICAL)  # its connection errors come back below, in one line
    try:
        problem = slack_refusal("SLACK_BOT_TOKEN", client.auth_test, settings, retry_seconds=0)
    finally:
        sdk_log.setLevel(level)
    return Check("slack", problem is None, problem or f"auth.test ok at {settings.slack.api_base_url}")


def diagnose(settings: Settings, index_dir: Path | str | None = None) -> list[Check]:
    from bot.engine import default_index_dir

    model, embedder = check_model(settings)
    folder = Path(index_dir or settings.index_dir or default_index_dir())
    checks = [model, check_index(folder, embedder.model_id if embedder else None), check_answerer(settings, embedder),
              check_reader(settings, embedder), check_transliteration(), check_state(settings.state_file()), check_slack(settings)]
    return checks
