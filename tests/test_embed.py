"""The embedder: offline only, clear errors for a missing model, e5 prompts applied."""
import numpy as np
import pytest

from index.config import IndexSettings
from index.embed import Embedder, ModelNotFound, text_hash


def test_missing_model_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ModelNotFound, match="model folder not found"):
        Embedder(IndexSettings(model=str(tmp_path / "nope")))
    (tmp_path / "notamodel").mkdir()
    with pytest.raises(ModelNotFound, match="not a sentence-transformers model"):
        Embedder(IndexSettings(model=str(tmp_path / "notamodel")))


def test_hub_name_not_on_disk_fails_offline():
    with pytest.raises(ModelNotFound, match="offline"):
        Embedder(IndexSettings(model="khabar-test/definitely-not-cached-model"))


def test_vectors_are_normalised_and_prompted(embedder):
    q = embedder.queries(["How many accounts were blocked?"])
    p = embedder.passages(["How many accounts were blocked?"])
    assert q.shape == (1, embedder.dim) == p.shape and q.dtype == np.float32
    assert abs(np.linalg.norm(q[0]) - 1) < 1e-4
    assert float(q[0] @ p[0]) < 0.9999  # "query: " and "passage: " prompts differ
    en, hi, other = embedder.passages(["The government ordered Twitter to block 1,178 accounts.",
                                       "सरकार ने ट्विटर को 1,178 अकाउंट ब्लॉक करने का आदेश दिया।",
                                       "The weather in Delhi will be sunny tomorrow."])
    assert en @ hi > en @ other + 0.05  # a translation is closer than an unrelated sentence


def test_token_vectors_map_to_characters(embedder):
    text = "Mahima Kaul ने इस्तीफा दिया"
    vecs, offsets = embedder.token_vectors(text, embedder.passage_prompt)
    assert len(vecs) == len(offsets)
    spans = [text[max(a, 0):b] for a, b in offsets if b > 0]
    assert "".join(spans).replace(" ", "") == text.replace(" ", "")  # every text character is covered once
    assert (offsets[0] == -1).all()  # <s> and the prompt are not text


def test_text_hash_depends_on_prompt_and_text():
    assert text_hash("passage: ", "a") == text_hash("passage: ", "a")
    assert text_hash("passage: ", "a") != text_hash("query: ", "a") != text_hash("passage: ", "b")


def test_one_pass_over_a_question_gives_its_vector_and_its_tokens(embedder):
    import numpy as np

    for text in ("How many accounts did Twitter block?", "ट्विटर ने कितने अकाउंट्स ब्लॉक किए?"):
        pooled, tokens, offsets = embedder.query_and_tokens(text)
        assert float(pooled @ embedder.queries([text])[0]) > 0.99999
        vecs, offs = embedder.token_vectors(text, embedder.query_prompt)
        np.testing.assert_allclose(tokens, vecs, atol=1e-5)
        np.testing.assert_array_equal(offsets, offs)
