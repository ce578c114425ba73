"""Follow-up detection, context, and the bounded, expiring memory behind Slack threads."""
from bot.config import ConversationSettings
from bot.conversation import Conversations, Turn, contextualize, is_followup


def test_followups_in_three_ways_of_writing():
    for q in ["Till when will she stay?", "What did they say?", "And the government?", "और सरकार ने क्या कहा?",
              "उन्होंने इस्तीफा क्यों दिया?", "usne istifa kyon diya?", "Why?", "कब?"]:
        assert is_followup(q, short_words=0), q
    for q in ["Who is Mahima Kaul?", "What is the capital of France?", "महिमा कौल कौन हैं?",
              "How many accounts did the government order Twitter to block?", "twitter ne kitne accounts block kiye?"]:
        assert not is_followup(q, short_words=0), q


def test_contextualize_uses_the_anchor_and_leaves_new_questions_alone():
    s = ConversationSettings()
    first = Turn("Who is Mahima Kaul?", "Who is Mahima Kaul?", "Who is Mahima Kaul?", [1])
    q, anchor, follow = contextualize("Till when will she stay?", [first], s)
    assert follow and q == "Who is Mahima Kaul? Till when will she stay?" and anchor == first.question
    second = Turn("Till when will she stay?", q, anchor, [2])
    q3, _, follow3 = contextualize("Who announced it?", [first, second], s)
    assert follow3 and q3 == "Who is Mahima Kaul? Who announced it?"  # bounded: anchor + question
    q4, anchor4, follow4 = contextualize("What is Koo?", [first, second], s)
    assert not follow4 and q4 == "What is Koo?" and anchor4 == "What is Koo?"
    assert contextualize("Till when will she stay?", [], s) == ("Till when will she stay?",
                                                                 "Till when will she stay?", False)


def test_memory_is_bounded_and_expires():
    now = [0.0]
    convs = Conversations(ConversationSettings(idle_seconds=60, max_turns=2, max_conversations=3),
                          clock=lambda: now[0])
    for i in range(3):
        convs.add("t1", Turn(f"q{i}", f"q{i}", f"q{i}", []))
    assert [t.question for t in convs.history("t1")] == ["q1", "q2"]
    for cid in ("t2", "t3", "t4"):
        convs.add(cid, Turn("x", "x", "x", []))
    assert len(convs) == 3 and convs.history("t1") == []  # oldest conversation dropped
    now[0] = 61.0
    assert convs.history("t4") == [] and len(convs) == 0
    convs.add("t5", Turn("y", "y", "y", []))
    convs.reset("t5")
    assert convs.history("t5") == []
    assert convs.history(None) == []


def test_a_question_that_names_a_new_subject_starts_a_new_topic():
    s = ConversationSettings()
    kaul = Turn("Who is Mahima Kaul?", "Who is Mahima Kaul?", "Who is Mahima Kaul?", [1])
    for q in ["Who is Jack Dorsey and what did he like?",            # the pronoun's antecedent is in it
              "What did the Koo founders say about it?",             # "it" beside a new subject
              "How many accounts did Twitter block this week?",      # a time, not a pointer back
              "इस साल बजट कितना है?",
              "What did Aprameya Radhakrishna say about this?"]:
        q_out, anchor, follow = contextualize(q, [kaul], s)
        assert not follow and q_out == q and anchor == q, q
    for q in ["Till when will she stay?", "What did Twitter say about her?",  # still about Kaul
              "And Jack Dorsey?", "What about Koo?",                           # led as a comparison
              "Why did she quit it?", "When did Mahima Kaul announce it?",     # the anchor's own subject
              "उन्होंने इस्तीफा क्यों दिया?"]:
        assert contextualize(q, [kaul], s)[2], q
    # Without a topic to compare with, a pronoun still needs its conversation.
    assert is_followup("What did the Koo founders say about it?", 0)
