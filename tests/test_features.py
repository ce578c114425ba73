"""What the scorer sees: headings, and token alignment with its coverage, on the real seed index and model."""
import pytest

from bot.features import _is_heading
from bot.projection import TokenProjection


@pytest.mark.parametrize("sentence, title, heading", [
    ("Super Bowl 50", "Super Bowl 50", True),                                   # the headline
    ("Twitter reaches out to Ravi Shankar Prasad", "Another title", True),      # a subheading
    ("ट्विटर ने कहा, जारी रहेगी अभिव्यक्ति की आजादी", "शीर्षक", True),
    ("Twitter informed that it has reached out to the Minister.",               # a lede used as the title
     "Twitter informed that it has reached out to the Minister.", False),
    ("Twitter had restored access to 257 accounts.", "Twitter", False),
    ("a long unterminated line that runs on and on past the heading length limit without a stop", "t", False),
])
def test_headings_are_headlines_and_short_unterminated_lines(sentence, title, heading):
    assert _is_heading(sentence, title) == float(heading)


def _best(seed_index, embedder, question: str):
    from bot.features import TokenAligner, question_tokens

    aligner = TokenAligner(seed_index, embedder, cache_passages=64)
    projection = TokenProjection.load(dim=embedder.dim)
    pids = list(range(len(seed_index.passages)))
    _, tokens, offsets = embedder.query_and_tokens(question)
    scores = aligner.scores([question_tokens(tokens, offsets)], pids, projection)
    sid = max(scores, key=lambda s: scores[s].score)
    return seed_index.sentences[sid].text, scores[sid]


def test_alignment_finds_the_sentence_and_coverage_drops_for_a_word_the_archive_lacks(seed_index, embedder):
    text, known = _best(seed_index, embedder, "How many accounts did Twitter restore?")
    assert "257" in text
    _, unknown = _best(seed_index, embedder, "How many bitcoins did Twitter restore?")
    assert -1.0 <= unknown.coverage <= known.coverage <= known.score <= 1.0
    assert unknown.coverage < known.coverage - 0.02
