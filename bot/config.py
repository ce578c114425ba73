"""The one source of configuration: dataclass defaults < khabar.toml < KHABAR_* environment variables.

Every tunable number of the bot lives in these dataclasses (the retrieval side's in
`index.config.IndexSettings`). A TOML file has one table per section (`[index]`, `[answer]`,
`[conversation]`, `[slack]`); an environment variable `KHABAR_<SECTION>_<FIELD>` overrides
one field, e.g. `KHABAR_ANSWER_TOP_K=5`. A few everyday ones have short names (see ALIASES).
"""
from __future__ import annotations

import os
import tomllib
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path

from index.config import IndexSettings, khabar_home


class ConfigError(Exception):
    """A setting could not be read; the message names it."""


@dataclass
class AnswerSettings:
    #: How many answer sentences to return (the CLI's --top-k overrides it).
    top_k: int = 3
    #: Passages (best first) whose sentences compete to be the answer, and the best passages of
    #: each language added to them, so a fact reported only in the other language competes too.
    passages_considered: int = 6
    passages_per_language: int = 3
    #: Passages (best first, and the best of each language) whose sentences get token alignment,
    #: encoded at question time unless cached (0 turns it off: faster, less accurate).
    align_passages: int = 2
    align_per_language: int = 1
    #: Passages whose token vectors are kept in memory between questions.
    token_cache_passages: int = 512
    #: The learned sentence scorer and confidence calibration (None: the weights shipped in bot/,
    #: trained by scripts/train_scorer.py for the bundled model; a new model needs its own file).
    scorer: Path | None = None
    #: The learned token projection of the alignment feature (None: the one shipped in bot/, trained
    #: by scripts/train_alignment.py for the bundled model; the scorer is trained on top of it).
    alignment: Path | None = None
    #: Abstain when more than this share of the names a question is about (capitalised words,
    #: acronyms) occur in none of the candidate articles, in any script: at 0.34, half or more
    #: ("Sundar Pichai": 2 of 2). Chosen on XQuAD dev held-out folds (BENCHMARKS.md §6).
    abstain_names_missing: float = 0.34
    #: Abstain when a number of the question (two digits or more: "in 1986", "Super Bowl 50") is in
    #: none of the candidate passages, in any script. Measured on dev in BENCHMARKS.md §10.
    abstain_numbers_missing: bool = True
    #: Abstain when at least this many words of the question occur nowhere in the archive, in any
    #: script (0: off; the calibration sees the count either way). BENCHMARKS.md has the trade-off.
    abstain_absent_terms: int = 0
    #: A count question ("how many", "kitne", "कितने") is answered only when the sentence the scorer
    #: ranks first gives a number: otherwise the archive has what the question is about but not the
    #: count asked for (Rihanna, not her followers). Measured on dev in BENCHMARKS.md §10.
    counts_need_a_number: bool = True
    #: Two sentences from different articles are one fact above this cosine (and with no conflicting numbers).
    same_fact_similarity: float = 0.89
    #: Passages retrieved in all; other reports of each chosen fact are cited from them.
    also_in_passages: int = 30
    #: A further answer is shown only while its scorer logit is within this of the best one's.
    max_logit_gap: float = 1.5
    #: A question longer than this is refused (a pasted article is not a question).
    max_question_chars: int = 500
    #: The cross-encoder reader (bot/reader.py) reads the best candidates and decides with the tiers
    #: of bot/decision.py; off, the scorer's threshold decides alone (answer or none). Off by default
    #: until a full training run: the shipped reader (one fold, 160 steps) is mixed on held-out dev and
    #: quotes the subheading for "Who is Ravi Shankar Prasad?" (BENCHMARKS.md §11).
    reader_enabled: bool = False
    #: The reader's weights (None: bot/reader_weights.npz, trained by scripts/train_reader.py) and the
    #: decision over its logits (None: bot/decision_weights.json, fitted by scripts/evaluate.py).
    reader: Path | None = None
    decision: Path | None = None
    #: The reader's numerics: fp32, or int8 (dynamic, matrix products only; its own reader id, so the
    #: decision must be fitted for it). BENCHMARKS.md §11 measures both.
    reader_precision: str = "int8"
    #: Quotes shown under "not sure" (the closest ones, labelled as possibly not answering).
    not_sure_quotes: int = 2
    #: In a follow-up, the sentence quoted first in the previous answer loses this much reader logit,
    #: so it comes back first only when it is still clearly the answer.
    requoted_penalty: float = 1.5
    #: Time in questions (bot/when.py, bot/timeline.py): a dated question prefers reports of its days,
    #: a "latest" one or one about a changing state (a count, a price, a result, a post) the most recent
    #: report, a "first" one the earliest. The rival reports reordered are each article's best sentence
    #: within `time_window` logits of the best of its language, with a cosine of at least `story_similarity`
    #: to the best sentence (the same story); `time_weight` (twice the window) puts the asked days or the latest
    #: first among them. The earlier report with another figure ("earlier: … (date)") is one of them.
    #: Off: no question is read for time (BENCHMARKS.md §13).
    time_aware: bool = True
    time_window: float = 6.0
    time_weight: float = 12.0
    story_similarity: float = 0.83


@dataclass
class ConversationSettings:
    #: A conversation forgets its turns after this many idle seconds.
    idle_seconds: float = 3600.0
    #: Turns remembered per conversation, and conversations remembered at once (oldest dropped).
    max_turns: int = 6
    max_conversations: int = 5000
    #: A question with at most this many content words ("Why?", "कब?" have none) is a follow-up when there
    #: is history; more would mistake short new questions ("Who is Mahima Kaul?") for follow-ups.
    short_question_words: int = 0


@dataclass
class SlackSettings:
    bot_token: str = ""
    app_token: str = ""
    signing_secret: str = ""
    #: Comma-separated channel ids the bot answers in (DMs included: a DM channel id starts with D);
    #: empty means every channel it is in. A user in allowed_users may always DM it.
    allowed_channels: list[str] = field(default_factory=list)
    #: Comma-separated user ids the bot answers (channels and DMs); empty means everyone.
    allowed_users: list[str] = field(default_factory=list)
    #: Where 👍/👎 feedback is appended as JSONL (None: <KHABAR_HOME>/feedback.jsonl).
    feedback_log: Path | None = None
    #: Seconds an event id is remembered to drop Slack's retries and duplicate deliveries.
    dedupe_seconds: float = 600.0
    #: How often (seconds) the bot checks whether the index folder was rebuilt.
    reload_check_seconds: float = 10.0
    #: Worker threads answering questions (answers are posted after ack()).
    workers: int = 4
    #: Web API base URL (tests point it at a local Slack-speaking server).
    api_base_url: str = "https://slack.com/api/"
    #: The durable state (inbox of acknowledged questions, followed threads, conversation turns,
    #: dedupe ids, replies, votes): one SQLite file (None: <KHABAR_HOME>/state.sqlite3).
    state_file: Path | None = None
    #: HTTP mode: the address to listen on (127.0.0.1; set 0.0.0.0 behind your reverse proxy),
    #: the largest request body accepted (413 above), and how long a client may take to send one.
    http_host: str = "127.0.0.1"
    max_body_bytes: int = 1_048_576
    read_timeout_seconds: float = 10.0
    #: One Web API call may take this long before it counts as failed (and is checked, then retried).
    call_timeout_seconds: float = 15.0
    #: A reply that Slack keeps refusing with 5xx, timeouts or 429 is retried (exponential backoff
    #: from retry_base_seconds, at most retry_max_seconds apart, with jitter) for this long, then given up.
    delivery_deadline_seconds: float = 900.0
    retry_base_seconds: float = 1.0
    retry_max_seconds: float = 60.0
    #: At start, auth.test is retried this long while Slack answers 5xx or times out.
    startup_retry_seconds: float = 60.0
    #: GET /readyz asks Slack's auth.test at most this often (its answer is reused meanwhile).
    readyz_slack_seconds: float = 60.0
    #: Socket Mode: serve /metrics, /healthz and /readyz on this port (0: not served).
    metrics_port: int = 0
    #: The questions ledger `khabar stats` reads is kept this many days.
    stats_keep_days: float = 90.0
    #: Characters of quoted text in one Slack message (Slack advises under 4,000); more answers go
    #: in a second message (a quote is never cut).
    max_message_chars: int = 3900
    #: The reaction on a question while Khabar works on it, removed when it answers (needs the
    #: reactions:write scope; without it, one log line and the answer as usual). Empty: none.
    working_reaction: str = "eyes"
    #: The desk a reporter reaches with "Still need help?" under an answer: a user group id (S…,
    #: tagged as <!subteam^S…>) and/or user ids (U…/W…), comma-separated. Empty: no such button.
    escalate_to: list[str] = field(default_factory=list)


@dataclass
class Settings:
    index: IndexSettings = field(default_factory=IndexSettings)
    answer: AnswerSettings = field(default_factory=AnswerSettings)
    conversation: ConversationSettings = field(default_factory=ConversationSettings)
    slack: SlackSettings = field(default_factory=SlackSettings)
    #: The index folder to serve (None: build/reuse an index of the bundled seeds/ corpus).
    index_dir: Path | None = None
    log_level: str = "WARNING"

    def feedback_log(self) -> Path:
        return Path(self.slack.feedback_log) if self.slack.feedback_log else khabar_home() / "feedback.jsonl"

    def state_file(self) -> Path:
        return Path(self.slack.state_file) if self.slack.state_file else khabar_home() / "state.sqlite3"


#: Short environment names for the settings people change most.
ALIASES = {
    "KHABAR_INDEX": ("", "index_dir"),
    "KHABAR_MODEL": ("index", "model"),
    "KHABAR_LOG_LEVEL": ("", "log_level"),
    "SLACK_BOT_TOKEN": ("slack", "bot_token"),
    "SLACK_APP_TOKEN": ("slack", "app_token"),
    "SLACK_SIGNING_SECRET": ("slack", "signing_secret"),
}
SECTIONS = ("index", "answer", "conversation", "slack")


def _coerce(value: object, hint: object, name: str) -> object:
    """Turn a TOML or environment value into the field's declared type."""
    origin = typing.get_origin(hint)
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)) and args:
        if value in (None, ""):
            return None
        hint, origin = args[0], typing.get_origin(args[0])
    try:
        if hint is bool:
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("1", "true", "yes", "on"):
                return True
            if str(value).lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if hint is int:
            return int(value)
        if hint is float:
            return float(value)
        if hint is Path:
            return Path(str(value)).expanduser()
        if origin is list:
            if isinstance(value, list):
                return [str(v) for v in value]
            return [v.strip() for v in str(value).split(",") if v.strip()]
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"setting {name}: cannot read {value!r} as {getattr(hint, '__name__', hint)}") from None


def _apply(obj: object, key: str, value: object, where: str) -> None:
    hints = typing.get_type_hints(type(obj))
    if key not in hints or key not in {f.name for f in fields(obj)}:
        raise ConfigError(f"unknown setting '{key}' in {where}")
    setattr(obj, key, _coerce(value, hints[key], f"{where}.{key}"))


def load_settings(path: Path | None = None, env: typing.Mapping[str, str] | None = None) -> Settings:
    """Settings from defaults, then the TOML file (KHABAR_CONFIG or ./khabar.toml), then the environment."""
    env = os.environ if env is None else env
    settings = Settings()
    path = Path(path) if path else (Path(env["KHABAR_CONFIG"]) if env.get("KHABAR_CONFIG") else None)
    if path is None and Path("khabar.toml").exists():
        path = Path("khabar.toml")
    if path is not None:
        if not path.exists():
            raise ConfigError(f"config file not found: {path}")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from None
        for key, value in data.items():
            if key in SECTIONS:
                if not isinstance(value, dict):
                    raise ConfigError(f"[{key}] in {path} must be a table")
                for sub, subval in value.items():
                    _apply(getattr(settings, key), sub, subval, f"{path}:[{key}]")
            else:
                _apply(settings, key, value, str(path))
    for name, value in env.items():
        if name in ALIASES:
            section, key = ALIASES[name]
            _apply(getattr(settings, section) if section else settings, key, value, name)
            continue
        if not name.startswith("KHABAR_") or name in ("KHABAR_CONFIG", "KHABAR_HOME"):
            continue
        rest = name[len("KHABAR_"):].lower()
        for section in SECTIONS:
            if rest.startswith(section + "_"):
                _apply(getattr(settings, section), rest[len(section) + 1:], value, name)
                break
        else:
            _apply(settings, rest, value, name)
    return settings
