"""The embedding stage of a build on a Ray cluster (`build_index.py --ray ADDRESS`).

Reading, splitting, the embedding cache, BM25, faiss and writing stay in the driver, where
they are cheap; only the texts that need a vector travel, as a Ray Data dataset mapped over an
actor pool with one model per actor (`map_batches`), a GPU per actor where the cluster has
GPUs and `cluster_cpus_per_actor` CPUs otherwise. Every actor loads the same model the driver
checked (its id is compared), so a cluster build gives the vectors a local build gives. Ray
retries a task whose worker died (`max_task_retries`) and restarts the actor; if the job still
fails, the error reaches `build_index` before anything is written, so the old index stays.

Install the extra first: `pip install -e ".[cluster]"`. Every node needs the model at the same
`KHABAR_HOME` path (or a `KHABAR_HOME` set for the job: it is passed to the workers).
"""
from __future__ import annotations

import logging
import os
import socket
from dataclasses import replace

import numpy as np

from index.config import IndexSettings, khabar_home
from index.embed import Embedder

log = logging.getLogger(__name__)


class ClusterError(Exception):
    """The Ray cluster cannot be used; the message says what to do."""


class _EmbedActor:
    """One model per Ray actor; a batch of texts → their passage vectors, with their row ids."""

    def __init__(self, settings: IndexSettings, expect_model_id: str):
        self.embedder = Embedder(settings)
        if self.embedder.model_id != expect_model_id:
            raise ClusterError(f"worker {os.uname().nodename} has model {self.embedder.model_id}, the driver "
                               f"{expect_model_id}: put the same model at KHABAR_HOME on every node")

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vecs = self.embedder.passages([str(t) for t in batch["text"]])
        return {"row": batch["row"], "vector": vecs}


def _reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast on a host:port nobody listens on (ray.init would retry for minutes)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or address.startswith(("ray://", "auto", "local")):
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ClusterError(f"cannot connect to the Ray cluster at {address!r} ({exc.strerror or exc}); start one "
                           f"with `ray start --head` or give its address") from None


def _reason(exc: BaseException) -> str:
    """The worker's own error where Ray wraps one (its first line only names the task)."""
    cause = getattr(exc, "cause", None) or exc.__cause__
    text = str(cause) if cause else str(exc)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:300]


class RayEmbedder:
    """An `Embedder` for builds whose `passages()` runs on a Ray cluster (everything else, such
    as the model id and prompts, comes from the local model it wraps)."""

    #: `build.embed_with_cache` hands this many texts at a time: all of them, one Ray job.
    chunk = 1 << 62

    def __init__(self, local: Embedder, address: str, batch_size: int = 256):
        try:
            import ray
        except ImportError:
            raise ClusterError("Ray is not installed: pip install -e \".[cluster]\" (or run the build "
                               "without --ray)") from None
        if local.settings.sentence_vectors != "separate":
            raise ClusterError("--ray embeds sentences on their own (sentence_vectors = separate); "
                               "unset sentence_vectors or build without --ray")
        self.local = local
        self.batch_size = batch_size
        if not ray.is_initialized():
            _reachable(address)
            try:
                ray.init(address=address, log_to_driver=False, configure_logging=False,
                         runtime_env={"env_vars": {"KHABAR_HOME": str(khabar_home())}})
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ClusterError(f"cannot connect to the Ray cluster at {address!r} ({exc}); start one with "
                                   f"`ray start --head` or give its address") from None
        self.ray = ray
        resources = ray.cluster_resources()
        self.gpus = int(resources.get("GPU", 0))
        self.cpus = int(resources.get("CPU", 1))
        log.info("Ray cluster: %d CPUs, %d GPUs", self.cpus, self.gpus)

    def __getattr__(self, name):  # dim, model_id, prompts, settings... from the local model
        return getattr(self.local, name)

    def actor_pool(self) -> tuple[int, dict]:
        """(actors, resources each): a GPU each where there are GPUs, else a share of the CPUs."""
        per = max(1, self.local.settings.cluster_cpus_per_actor)
        if self.gpus:
            return self.gpus, {"num_gpus": 1, "num_cpus": per}
        return max(1, self.cpus // per), {"num_cpus": per}

    def passages(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.local.dim), np.float32)
        actors, each = self.actor_pool()
        worker_settings = replace(self.local.settings, embed_threads=int(each["num_cpus"]),
                                  embed_device="cuda" if self.gpus else "cpu")
        ds = self.ray.data.from_items([{"row": i, "text": t} for i, t in enumerate(texts)])
        ds = ds.map_batches(_EmbedActor, fn_constructor_args=(worker_settings, self.local.model_id),
                            batch_size=self.batch_size, batch_format="numpy", concurrency=actors,
                            max_task_retries=3, max_restarts=3, **each)
        out = np.zeros((len(texts), self.local.dim), np.float32)
        seen = np.zeros(len(texts), bool)
        try:
            for batch in ds.iter_batches(batch_format="numpy", batch_size=4096):
                out[batch["row"]] = batch["vector"]
                seen[batch["row"]] = True
        except Exception as exc:  # noqa: BLE001 - Ray's task, actor and timeout errors alike
            raise ClusterError(f"the Ray embedding job failed ({type(exc).__name__}: {_reason(exc)}); "
                               f"the old index is untouched") from None
        if not seen.all():
            raise ClusterError(f"the Ray job returned {int(seen.sum())} of {len(texts)} vectors; "
                               f"the old index is untouched")
        return out
