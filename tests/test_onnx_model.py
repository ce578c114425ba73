"""index/onnx_model.py: the ONNX export gives the torch path's vectors, int8 is its own model,
and an unfinished export is never used."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest

TEXTS = ["Twitter blocked 1,178 accounts after the government's order.", "ट्विटर ने कितने अकाउंट्स बंद किए?",
         "Koo", "कू ऐप पर मंत्रियों ने अकाउंट बनाए और ट्विटर छोड़ने की अपील की। " * 6, "Who is Mahima Kaul?"]


@pytest.fixture(scope="module")
def torch_embedder(settings):
    from index.embed import Embedder

    s = copy.deepcopy(settings.index)
    s.embed_backend = "torch"
    return Embedder(s)


@pytest.mark.slow
def test_onnx_fp32_agrees_with_torch_and_keeps_the_model_id(settings, embedder, torch_embedder):
    assert settings.index.embed_backend == "onnx" and embedder.onnx is not None
    for a, b in ((embedder.passages(TEXTS), torch_embedder.passages(TEXTS)),
                 (embedder.queries(TEXTS), torch_embedder.queries(TEXTS))):
        assert a.shape == b.shape == (len(TEXTS), embedder.dim) and a.dtype == np.float32
        assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
        assert (a * b).sum(axis=1).min() >= 0.999
    assert embedder.model_id == torch_embedder.model_id  # the same vectors: indexes are interchangeable
    assert embedder.passages([]).shape == (0, embedder.dim)


@pytest.mark.slow
def test_onnx_serving_needs_no_torch_and_gives_torch_token_vectors(embedder, torch_embedder):
    """The answerer's token vectors (alignment) and their character spans match the torch path's,
    from the torch-free loader (the model's tokenizer.json, configs and onnxruntime)."""
    assert embedder.model is None and torch_embedder.model is not None
    for text in TEXTS:
        a, a_spans = embedder.token_vectors(text, embedder.passage_prompt)
        b, b_spans = torch_embedder.token_vectors(text, torch_embedder.passage_prompt)
        assert a.shape == b.shape and np.array_equal(a_spans, b_spans)
        assert (a * b).sum(axis=1).min() >= 0.999


@pytest.mark.slow
def test_int8_is_close_but_a_model_of_its_own(settings, embedder):
    from index.embed import Embedder

    s = copy.deepcopy(settings.index)
    s.embed_precision = "int8"
    int8 = Embedder(s)
    assert int8.dtype == "qint8" and int8.model_id != embedder.model_id  # an fp32 index is refused
    cos = (int8.passages(TEXTS) * embedder.passages(TEXTS)).sum(axis=1)
    assert cos.min() >= 0.98


def test_an_unfinished_export_is_not_current(tmp_path, settings):
    from index import onnx_model
    from index.embed import Embedder  # noqa: F401 - the model folder exists once an embedder loaded

    folder = settings.index.resolved_model_dir()
    assert onnx_model.is_current(folder, "fp32")
    fake = tmp_path / "model"
    fake.mkdir()
    for name in ("config.json", "modules.json"):
        (fake / name).write_text((folder / name).read_text())
    (fake / "onnx").mkdir()
    (fake / "onnx" / "model.onnx").write_bytes(b"half an export")  # killed mid-write: no stamp
    assert not onnx_model.is_current(fake, "fp32")
    stamp = json.loads((folder / "onnx" / onnx_model.STAMP).read_text())
    (fake / "onnx" / onnx_model.STAMP).write_text(json.dumps(stamp))  # another model's stamp
    assert not onnx_model.is_current(fake, "fp32")
    with pytest.raises(onnx_model.OnnxError, match="python -m index.onnx_model --force"):
        onnx_model.OnnxTransformer(fake / "onnx" / "model.onnx")
    with pytest.raises(onnx_model.OnnxError, match="precision"):
        onnx_model.onnx_path(folder, "fp16")
    with pytest.raises(onnx_model.OnnxError, match="embed_device"):
        onnx_model.providers("tpu")


@pytest.mark.slow
def test_a_serving_process_never_imports_torch(embedder):
    """Answering through the CLI's path loads neither torch nor sentence-transformers."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    code = ("import os, sys; from bot.config import load_settings; from bot.engine import Engine; "
            "from index.embed import Embedder; "
            "env = {k: v for k, v in os.environ.items() if k == 'KHABAR_HOME'}; "
            "Embedder(load_settings(env=env).index).queries(['kitne accounts?']); "
            "print(sorted(m for m in ('torch', 'sentence_transformers') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
