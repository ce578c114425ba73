"""What the bot is doing, for Prometheus: counters and histograms fed as things happen, and
gauges read from the live objects when scraped. Exposed by `GET /metrics` (bot.slack.http).

Every name is prefixed `khabar_`:

- `khabar_questions_total{outcome}`: answered, abstained, not_question, invalid (empty or
  over-long), refused (allowed_channels / allowed_users), failed (answering raised);
- `khabar_answer_seconds{stage}`: retrieve (understand, embed, search), choose (features,
  scoring, citing), deliver (answer ready → Slack has every part);
- `khabar_slack_deliveries_total{result}`: posted (a part Slack has), retried (5xx, timeout),
  rate_limited (429), failed (given up, or refused for good);
- `khabar_feedback_votes_total{vote}`: up, down;
- `khabar_inbox_depth`: acknowledged jobs not finished yet;
- `khabar_index_generation` (indexes loaded by this process, 1 at start),
  `khabar_index_age_seconds` (since the served index was built), `khabar_index_info{build_id}`;
- `khabar_index_reload_failures_total`: rebuilt indexes refused by the hot swap;
- `process_*`: memory, CPU, open files (prometheus_client's process collector).

One registry per `Metrics` (not the library's global one), so two bots in one process (the
tests) never share counters.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily

#: The format generate_latest() writes (prometheus_client's CONTENT_TYPE_LATEST now names 1.0.0).
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

OUTCOMES = ("answered", "abstained", "not_question", "invalid", "refused", "failed")
STAGES = ("retrieve", "choose", "deliver")
DELIVERY_RESULTS = ("posted", "retried", "rate_limited", "failed")
VOTES = ("up", "down")
#: Seconds: a question's stages run from a few ms (retrieve) to minutes (a delivery through an outage).
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)


class Metrics:
    def __init__(self):
        self.registry = CollectorRegistry(auto_describe=True)
        self.questions = Counter("khabar_questions", "Questions, by what Khabar did with them", ["outcome"],
                                 registry=self.registry)
        self.seconds = Histogram("khabar_answer_seconds", "Seconds a question spends in each stage", ["stage"],
                                 buckets=_BUCKETS, registry=self.registry)
        self.deliveries = Counter("khabar_slack_deliveries", "Slack Web API deliveries, by result", ["result"],
                                  registry=self.registry)
        self.votes = Counter("khabar_feedback_votes", "👍/👎 votes on answers", ["vote"], registry=self.registry)
        for outcome in OUTCOMES:  # every series exists from the start, at 0 (rates need a first sample)
            self.questions.labels(outcome)
        for stage in STAGES:
            self.seconds.labels(stage)
        for result in DELIVERY_RESULTS:
            self.deliveries.labels(result)
        for vote in VOTES:
            self.votes.labels(vote)
        ProcessCollector(registry=self.registry)
        self._live = _Live()
        self.registry.register(self._live)

    # --- events -----------------------------------------------------------------------------------
    def question(self, outcome: str) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, not {outcome!r}")
        self.questions.labels(outcome).inc()

    def stage(self, stage: str, seconds: float) -> None:
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, not {stage!r}")
        self.seconds.labels(stage).observe(max(0.0, seconds))

    def delivery(self, result: str, n: int = 1) -> None:
        if result not in DELIVERY_RESULTS:
            raise ValueError(f"result must be one of {DELIVERY_RESULTS}, not {result!r}")
        self.deliveries.labels(result).inc(n)

    def vote(self, vote: str) -> None:
        self.votes.labels(vote).inc()

    # --- live state, read at scrape time ------------------------------------------------------------
    def watch_engine(self, engine) -> None:
        """Report the engine's served index (generation, age, build) and its refused reloads."""
        self._live.engine = engine

    def watch_inbox_depth(self, depth: Callable[[], int]) -> None:
        self._live.inbox_depth = depth

    def exposition(self) -> bytes:
        """The Prometheus text format of everything above."""
        return generate_latest(self.registry)


class _Live:
    """A collector reading the engine and the inbox when Prometheus scrapes."""

    def __init__(self):
        self.engine = None
        self.inbox_depth: Callable[[], int] | None = None

    def describe(self):
        return []  # unknown until watched; auto_describe must not call collect() at registration

    def collect(self):
        if self.inbox_depth is not None:
            yield GaugeMetricFamily("khabar_inbox_depth", "Acknowledged Slack jobs not finished yet",
                                    value=self.inbox_depth())
        engine = self.engine
        if engine is None:
            return
        index = engine.index
        yield GaugeMetricFamily("khabar_index_generation", "Indexes loaded by this process (1 at start)",
                                value=engine.generation)
        yield CounterMetricFamily("khabar_index_reload_failures", "Rebuilt indexes the hot swap refused",
                                  value=engine.reload_failures)
        info = InfoMetricFamily("khabar_index", "The served index")
        info.add_metric([], {"build_id": str(index.build_id or ""), "path": str(index.path)})
        yield info
        built = index.manifest.get("built_at")
        try:
            age = (datetime.now(timezone.utc) - datetime.fromisoformat(built)).total_seconds()
        except (TypeError, ValueError):
            return
        yield GaugeMetricFamily("khabar_index_age_seconds", "Seconds since the served index was built", value=age)
