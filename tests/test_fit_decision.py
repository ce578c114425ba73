"""scripts/fit_decision.py's tiers: where `answer` and `not_sure` begin, from dev confidences."""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from fit_decision import tiers  # noqa: E402


def test_the_answer_tier_refuses_max_refused_and_not_sure_shows_all_but_the_lowest():
    rng = np.random.default_rng(3)
    answerable_conf = rng.uniform(0.05, 1.0, 1000)
    unanswerable_conf = rng.uniform(0.0, 0.3, 1000)
    conf = np.concatenate([answerable_conf, unanswerable_conf])
    answerable = np.arange(2000) < 1000
    ruled = np.zeros(2000, bool)
    answer_at, not_sure_at = tiers(conf, answerable, ruled, max_refused=0.04, none_share=0.01)
    assert np.mean(answerable_conf < answer_at) == 0.04  # the answer tier's refusals of answerable questions
    assert np.mean(answerable_conf < not_sure_at) == 0.01  # nothing at all for the lowest 1% only
    band = (conf >= not_sure_at) & (conf < answer_at)
    assert band[:1000].sum() == 30 and band[1000:].sum() > 0  # the not-sure band: the answer tier's near misses
    # Questions the rules refuse do not move the tiers; no answerable question: one neutral threshold.
    ruled[:500] = True
    assert tiers(conf, answerable, ruled, 0.04, 0.01)[0] == np.sort(answerable_conf[500:])[20]
    assert tiers(conf, np.zeros(2000, bool), ruled, 0.04, 0.01) == (0.5, 0.5)
    # none_share above max_refused cannot put not_sure above answer.
    a, n = tiers(conf, answerable, np.zeros(2000, bool), 0.04, 0.10)
    assert n == a
