"""A model's id: what decides its vectors, digested (weights, tokenizer, module configs, prompts
and the dtype it runs in), never a path, a machine or a timestamp, so an index built on one
machine serves on any other that has the same model.

File digests are cached by (path, size, mtime) in `KHABAR_HOME`, so a start costs a few `stat`
calls, not a pass over the weights. Below the embedder, the conversion and the ONNX export,
which all name models by it.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

from index.config import DEFAULT_MODEL, khabar_home

log = logging.getLogger(__name__)

#: How `model_id` is made; a manifest recording another scheme (or none: Khabar before this one
#: hashed khabar_model.json, timestamp included) cannot be compared with today's ids.
MODEL_ID_SCHEME = 2
#: Files of a model folder (or of its Transformer module) that decide the vectors. ONNX and
#: OpenVINO exports, READMEs and khabar_model.json (a conversion timestamp) are left out: the
#: torch backend Khabar loads never reads them.
_TRANSFORMER_FILES = ("config.json", "sentence_bert_config.json", "modules.json",
                      "config_sentence_transformers.json", "model.safetensors",
                      "model.safetensors.index.json", "model-*-of-*.safetensors", "pytorch_model.bin",
                      "pytorch_model.bin.index.json", "pytorch_model-*-of-*.bin", "tokenizer.json",
                      "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
                      "*.model", "vocab.txt", "vocab.json", "merges.txt")
_SKIPPED_DIRS = frozenset({"onnx", "openvino"})
#: Keys a library writes into a config without changing the model (a saver's path, a version).
_VOLATILE_KEYS = frozenset({"_name_or_path", "transformers_version", "__version__"})
#: Of config_sentence_transformers.json only the prompts shape the vectors.
_PROMPT_KEYS = ("prompts", "default_prompt_name")
DIGEST_CACHE = "model_digests.json"


def model_folder(path: str) -> Path | None:
    """The folder a loaded model came from: a path as given, a hub name via the local HF cache."""
    if Path(path).is_dir():
        return Path(path)
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(path, local_files_only=True))
    except Exception as exc:  # noqa: BLE001 - no snapshot: the id is the bare name
        log.warning("cannot find the files of model '%s' (%s); its id is its name alone", path, exc)
        return None


def model_id(name: str, folder: Path | None, dtype: str) -> str:
    """`label@<12 hex>`: the label is for people, the digest is what identifies the model."""
    label = name if name == DEFAULT_MODEL or not Path(name).expanduser().exists() \
        else Path(name).expanduser().resolve().name
    if folder is None:
        return label
    return f"{label}@{model_fingerprint(folder, dtype)[:12]}"


def model_fingerprint(folder: Path, dtype: str) -> str:
    """sha256 over the digests of the files that decide the vectors, keyed by relative path."""
    folder = Path(folder)
    cache = _load_digest_cache()
    before = dict(cache)
    files = {p.relative_to(folder).as_posix(): _file_digest(p, cache) for p in model_files(folder)}
    if cache != before:
        _save_digest_cache(cache)
    payload = json.dumps({"scheme": MODEL_ID_SCHEME, "dtype": dtype, "files": files}, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def model_files(folder: Path) -> list[Path]:
    """The Transformer's files in the folder itself, plus every file of each other module
    (pooling, dense, normalize...) that modules.json names, sorted."""
    folder = Path(folder)
    found = {p for pattern in _TRANSFORMER_FILES for p in folder.glob(pattern) if p.is_file()}
    for sub in _module_dirs(folder):
        found.update(p for p in sub.rglob("*") if p.is_file() and _counts(p.relative_to(sub)))
    return sorted(found)


def _module_dirs(folder: Path) -> list[Path]:
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        paths = [str(m.get("path") or "") for m in modules]
    except (OSError, ValueError, AttributeError, TypeError):
        return []
    return [folder / p for p in paths if p and (folder / p).is_dir()]


def _counts(rel: Path) -> bool:
    """Hidden files, READMEs and ONNX/OpenVINO exports inside a module folder do not count."""
    if any(part.startswith(".") or part in _SKIPPED_DIRS for part in rel.parts):
        return False
    return not rel.name.lower().startswith("readme")


def _file_digest(path: Path, cache: dict[str, list]) -> str:
    """Configs by their meaning (library versions and paths dropped), other files by their bytes."""
    if path.name in ("config.json", "config_sentence_transformers.json"):
        meaning = _config_meaning(path)
        if meaning is not None:
            return hashlib.sha256(meaning.encode("utf-8")).hexdigest()
    return _cached_sha256(path, cache)


def _config_meaning(path: Path) -> str | None:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(config, dict):
        return None
    if path.name == "config_sentence_transformers.json":
        config = {k: config.get(k) for k in _PROMPT_KEYS}
    return json.dumps({k: v for k, v in config.items() if k not in _VOLATILE_KEYS}, sort_keys=True)


def _cached_sha256(path: Path, cache: dict[str, list]) -> str:
    st = path.stat()
    key = str(path.resolve())
    hit = cache.get(key)
    if isinstance(hit, list) and len(hit) == 3 and hit[:2] == [st.st_size, st.st_mtime_ns]:
        return hit[2]
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    cache[key] = [st.st_size, st.st_mtime_ns, h.hexdigest()]
    return cache[key][2]


def _load_digest_cache() -> dict[str, list]:
    try:
        data = json.loads((khabar_home() / DIGEST_CACHE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    files = data.get("files") if isinstance(data, dict) and data.get("scheme") == MODEL_ID_SCHEME else None
    return files if isinstance(files, dict) else {}


def _save_digest_cache(cache: dict[str, list]) -> None:
    """Best effort: entries of files that are gone are dropped, and a home that cannot be
    written only costs re-hashing at the next start."""
    target = khabar_home() / DIGEST_CACHE
    live = {k: v for k, v in cache.items() if os.path.exists(k)}
    try:
        _write_json_atomic(target, {"scheme": MODEL_ID_SCHEME, "files": live})
    except OSError as exc:
        log.debug("could not save model digests to %s (%s)", target, exc)


def _write_json_atomic(target: Path, obj: dict) -> None:
    """Two processes starting together each write a whole file; the last one wins."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(obj, fh, indent=1, sort_keys=True)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def warm_digest_cache(folder: Path) -> None:
    """Hash a freshly written model's files now, so the first start after it only stats them."""
    model_fingerprint(folder, dtype="")
